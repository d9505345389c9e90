"""The two contracts a plugin author needs: a task card and a strategy.

A *task* is a frozen `TaskCard`: what the labels are, where the data comes from
(pinned), how to prompt for it. A *strategy* is any class that satisfies the
`Strategy` protocol: a frozen config dataclass, `fit`, `predict` and parameter
counts. The harness, never the strategy, times and measures a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class Split:
    """Texts and their label ids (0..K-1), aligned."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class TaskData:
    """A task's data, resolved: the fixed test split and the training pool."""

    train: Split
    test: Split
    label_names: tuple[str, ...]
    fingerprint: str  # sha256 over the texts and labels of both splits
    notes: tuple[str, ...] = ()  # what was done to the raw data (deduplication, caps)


@dataclass(frozen=True)
class TaskCard:
    """Everything bench needs to know about a classification task."""

    name: str
    description: str
    labels: tuple[str, ...]  # label names; a label's id is its position here
    source: Any  # a data source from bench.data (PackagedTable, LocalTable, ...)
    label_words: tuple[str, ...] = ()  # what a language model should answer, per label
    instruction: str = ""  # the question put to a language model
    text_field: str = "text"
    label_field: str = "label"
    raw_labels: tuple[str, ...] = ()  # label values as they appear in the data, per label
    clean: str = "none"  # text clean-up: "none" or "html" (strip <br /> and tags)
    test_fraction: float = 0.2  # used when the source has no test split
    n_train: int | None = None  # cap on the training pool (stratified, fixed sample)
    n_test: int | None = None  # cap on the test split (stratified, fixed sample)
    max_tokens: int = 256  # token budget per text for encoders and prompts
    dedupe: bool = True  # drop repeated texts, and train texts that occur in test
    split_seed: int = 0  # seed of the fixed train/test split and caps (not the run seed)
    metric: str = "accuracy"
    licence: str = ""


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters of a fitted strategy, each tensor counted once."""

    trainable: int
    total: int


@runtime_checkable
class Strategy(Protocol):
    """What a strategy class provides.

    The class is registered under a CLI name and built as
    `cls(config, model=..., device=...)`; `config` is an instance of `cls.Config`
    (a frozen dataclass whose fields are the strategy's options), `model` is a
    model name or path (None for strategies without a model) and `device` is
    "cpu" or "cuda".

    `predict` returns one label id per text, always a list of ints. A strategy
    that has class scores may also define `predict_proba(texts)` returning an
    (n, K) array of probabilities; the harness then uses it for calibration.
    It may define `extra_info()` returning a JSON-able dict kept in the record
    (prompt lengths, training curves, index sizes).

    Optional class attributes: `family` ("baseline", "prompting", "retrieval",
    "training"; reports compare prompting with training) and `uses_labels`
    (False for strategies that never read training labels, such as zero-shot:
    they run once instead of once per label budget), and `seeded` (False for
    strategies in which the seed changes nothing when they see the whole
    training split: no sampling and no training, such as knn, rag and
    zero-shot. They run once, with the first seed, instead of repeating the
    same computation per seed; under a label budget the seed draws the
    sample, so they run per seed there).
    """

    Config: ClassVar[type]
    default_model: ClassVar[str | None]

    def fit(self, train: Split, task: TaskCard, seed: int) -> None: ...

    def predict(self, texts: Sequence[str]) -> list[int]: ...

    def parameter_counts(self) -> ParameterCounts: ...


@dataclass(frozen=True)
class NoConfig:
    """For strategies without options."""


def count_parameters(*modules: Any) -> ParameterCounts:
    """Trainable and total parameters over torch modules, each tensor once.

    Shared or tied tensors (and a head reachable from two wrappers) are counted a
    single time, by identity.
    """
    seen: set[int] = set()
    trainable = total = 0
    for module in modules:
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            if p.requires_grad:
                trainable += p.numel()
    return ParameterCounts(trainable=trainable, total=total)


def probabilities_to_labels(proba: Any) -> list[int]:
    """The most probable label id of each row of an (n, K) probability array, as ints."""
    return [int(i) for i in proba.argmax(axis=1)]


__all__ = [
    "NoConfig",
    "ParameterCounts",
    "Split",
    "Strategy",
    "TaskCard",
    "TaskData",
    "count_parameters",
    "probabilities_to_labels",
]
