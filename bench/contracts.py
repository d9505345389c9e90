"""The two contracts a plugin author needs: a task card and a strategy.

A *task* is a frozen `TaskCard`: what the labels are, where the data comes
from (pinned), how to prompt for it. It checks its own fields when built.

A *strategy* is a class built as `cls(config, model, context)` with:
- `Config`: a frozen dataclass whose fields are its options (it checks its own
  values in `__post_init__`);
- `fit(train, task)`: learn from the training split (a no-op for zero-shot).
  A trained strategy (its Config a `bench.engines.training.TrainingOptions`)
  also takes `validation=`, the split that chooses its epoch, so that the
  tuner can hand it a held-out fold (bench.run.tuning);
- `predict(texts) -> list[int]` and/or `predict_proba(texts) -> (n, K) array`;
- `parameter_counts() -> ParameterCounts`;
- optionally `extra_info() -> dict` for the record. Its keys "training" and
  "artifact", when present, must be a `TrainingInfo` and an `ArtifactInfo`;
- optionally, for the scenarios (bench.scenarios): `update(new, task)`,
  absorbing new labelled examples after `fit` more cheaply than a fresh fit
  (an index add, more training), and `tuned_encoder() -> (tokenizer, body)`,
  the transformer it trained, which `--probe` measures for forgetting.
Traits, as class attributes with these defaults: `default_model = None`,
`family = "other"` (or "baseline", "prompting", "retrieval", "training";
reports compare prompting with training), `uses_labels = True` (False: never
reads training labels, so it runs once, not per label budget), `seeded =
True` (False: on the whole training split the seed changes nothing, so it
runs once, with the first seed) and `search_space = {}` (option name -> the
values `--tune` may try, next to the options; see bench.run.tuning) and
`bf16 = "never"` (when it may compute in bfloat16, one of `BF16_TRAITS`; see
bench.run.device).

Subclassing `Strategy` gives those defaults and `predict` from
`predict_proba`; a class that satisfies the contract without inheriting works
too. The registry checks every class it registers (`contract_problems`). The
harness, never the strategy, times and measures a run; the `RunContext` says
where it runs (device, seed, where to save trained weights).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from bench.errors import BenchError

FAMILIES = ("baseline", "prompting", "retrieval", "training", "other")
BF16_TRAITS = ("auto", "checked", "requested", "never")  # when a strategy computes in bf16 (bench.run.device)


@dataclass(frozen=True)
class Split:
    """Texts and their label ids (0..K-1), aligned."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, ids) -> "Split":
        """The texts and labels at positions `ids`, in that order."""
        return Split([self.texts[i] for i in ids], [self.labels[i] for i in ids])


@dataclass(frozen=True)
class TaskData:
    """A task's data, resolved: the fixed test split and the training pool."""

    train: Split
    test: Split
    label_names: tuple[str, ...]
    fingerprint: str  # sha256 over the texts and labels of both splits
    notes: tuple[str, ...] = ()  # what was done to the raw data (deduplication, caps)

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> "TaskData":
        return cls(Split(**raw["train"]), Split(**raw["test"]), tuple(raw["label_names"]), raw["fingerprint"],
                   tuple(raw["notes"]))


@dataclass(frozen=True)
class TaskCard:
    """Everything bench needs to know about a classification task; checks its fields when built."""

    name: str
    description: str
    labels: tuple[str, ...]  # label names; a label's id is its position here (empty: inferred from the data)
    source: Any  # where the rows come from: a bench.data.sources kind (describe() and load())
    label_words: tuple[str, ...] = ()  # what a language model should answer, per label (default: the labels)
    instruction: str = ""  # the question put to a language model
    answer_format: str = "Answer with one word: {choices}."  # {choices}: the label words joined by " or "
    text_format: str = "Text: {text}"  # how a text (demonstration or query) is shown to a language model
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
    licence: str = ""

    def __post_init__(self):
        problem = _card_problem(self)
        if problem:
            raise BenchError(f"task {self.name}: {problem}; fix the task card")

    def prompt_fields(self) -> dict:
        """What a strategy sees of the card beyond the data: part of every cell's key."""
        return {"labels": list(self.labels), "label_words": list(self.label_words), "instruction": self.instruction,
                "answer_format": self.answer_format, "text_format": self.text_format, "max_tokens": self.max_tokens}


_CARD_TYPES = {"name": str, "description": str, "instruction": str, "answer_format": str, "text_format": str,
               "text_field": str, "label_field": str, "clean": str, "licence": str, "dedupe": bool,
               "max_tokens": int, "split_seed": int, "test_fraction": float}
_KIND_WORDS = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _card_problem(card: TaskCard) -> str | None:
    for name, kind in _CARD_TYPES.items():
        value = getattr(card, name)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{name} must be {_KIND_WORDS[kind]} (got {value!r})"
    for name in ("labels", "label_words", "raw_labels"):
        value = getattr(card, name)
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
            return f"{name} must be a list of non-empty strings (got {value!r})"
    if not card.name.strip():
        return "name must not be empty"
    if card.labels and len(set(card.labels)) != len(card.labels):
        return f"labels repeat a name ({', '.join(card.labels)})"
    for name in ("label_words", "raw_labels"):
        value = getattr(card, name)
        if card.labels and value and len(value) != len(card.labels):
            return f"{name} needs one entry per label ({len(card.labels)}), got {len(value)}"
    if card.text_format.count("{text}") != 1:
        return f"text_format must hold {{text}} once (got {card.text_format!r})"
    if not 0 < card.test_fraction < 1:
        return f"test_fraction must be between 0 and 1 (got {card.test_fraction!r})"
    for name in ("n_train", "n_test"):
        value = getattr(card, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 2):
            return f"{name} must be an integer >= 2 (got {value!r})"
    if card.max_tokens < 8:
        return f"max_tokens must be an integer >= 8 (got {card.max_tokens!r})"
    if card.clean not in ("none", "html"):
        return f"clean must be 'none' or 'html' (got {card.clean!r})"
    if card.split_seed < 0:
        return f"split_seed must be >= 0 (got {card.split_seed})"
    if not callable(getattr(card.source, "describe", None)) or not callable(getattr(card.source, "load", None)):
        return "source must be a data source with describe() and load()"
    return None


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters of a fitted strategy, each tensor counted once."""

    trainable: int
    total: int


@dataclass(frozen=True)
class RunContext:
    """Where a strategy runs: handed to it by the harness, never read from the environment."""

    device: str = "cpu"  # "cpu" or "cuda"
    precision: str = "fp32"  # "fp32", "bf16" or "bf16-checked" (bench.run.device.cell_precision): the arithmetic
    seed: int = 0  # the run seed (the harness has seeded random, numpy and torch with it)
    artifact_dir: Path | None = None  # where to keep what it trained; None: measure its size, then delete it


@dataclass(frozen=True)
class EpochRow:
    """One epoch of training curves (losses and accuracies; running train means, validation after)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None  # None when training ran without a validation split
    val_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class TrainingInfo:
    """What a trained strategy reports about its training: curves and the epoch it kept."""

    curves: tuple[EpochRow, ...]
    best_epoch: int
    best_rule: str
    epochs_run: int
    epochs_planned: int
    stopped_early: bool
    n_train: int
    n_val: int
    train_examples_per_second: float


@dataclass(frozen=True)
class ArtifactInfo:
    """What a trained strategy saved: where (None when not kept), its size and files."""

    path: str | None
    bytes: int
    weights_bytes: int
    files: tuple[str, ...]
    format: str = "safetensors"


@dataclass(frozen=True)
class NoConfig:
    """For strategies without options."""


class Strategy:
    """A base class with the contract's defaults; subclasses define `fit` and `predict` or `predict_proba`."""

    Config: ClassVar[type] = NoConfig
    default_model: ClassVar[str | None] = None
    family: ClassVar[str] = "other"
    uses_labels: ClassVar[bool] = True
    seeded: ClassVar[bool] = True
    search_space: ClassVar[dict[str, tuple]] = {}
    bf16: ClassVar[str] = "never"  # when it computes in bf16: one of BF16_TRAITS (bench.run.device)

    def __init__(self, config: Any, model: str | None = None, context: RunContext | None = None):
        self.config = config
        self.model_name = model or self.default_model
        self.context = context or RunContext()

    def fit(self, train: Split, task: TaskCard) -> None:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[int]:
        proba = getattr(self, "predict_proba", None)
        if proba is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither predict nor predict_proba")
        return probabilities_to_labels(proba(texts))

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=0)

    def extra_info(self) -> dict:
        return {}


@dataclass(frozen=True)
class StrategyTraits:
    """A strategy class's traits, with the contract's defaults for what it does not say."""

    family: str
    uses_labels: bool
    seeded: bool
    default_model: str | None
    has_scores: bool  # defines predict_proba
    search_space: dict  # option -> values --tune may try; empty: nothing to tune
    bf16: str = "never"  # "auto": bf16 where the hardware has it; "checked": bf16, close calls again in fp32
    # (bench.run.device); "requested": only with --precision bf16


def traits(cls: type) -> StrategyTraits:
    return StrategyTraits(family=getattr(cls, "family", "other"), uses_labels=getattr(cls, "uses_labels", True),
                          seeded=getattr(cls, "seeded", True), default_model=getattr(cls, "default_model", None),
                          has_scores=callable(getattr(cls, "predict_proba", None)),
                          search_space=dict(getattr(cls, "search_space", {}) or {}),
                          bf16=str(getattr(cls, "bf16", "never")))


def contract_problems(cls: Any) -> list[str]:
    """What a strategy class lacks or gets wrong; empty when it satisfies the contract."""
    if not isinstance(cls, type):
        return [f"is a {type(cls).__name__}, not a class"]
    problems = []
    if not dataclasses.is_dataclass(getattr(cls, "Config", None)):
        problems.append("has no Config dataclass (its options; use bench.contracts.NoConfig for none)")
    if not callable(getattr(cls, "fit", None)) or getattr(cls, "fit") is Strategy.fit:
        problems.append("has no fit(train, task) method")
    own_predict = callable(getattr(cls, "predict", None)) and getattr(cls, "predict") is not Strategy.predict
    if not own_predict and not callable(getattr(cls, "predict_proba", None)):
        problems.append("has neither predict(texts) nor predict_proba(texts)")
    if not callable(getattr(cls, "parameter_counts", None)):
        problems.append("has no parameter_counts() method")
    found = traits(cls)
    if found.family not in FAMILIES:
        problems.append(f"family {found.family!r} is not one of {', '.join(FAMILIES)}")
    if found.bf16 not in BF16_TRAITS:
        problems.append(f"bf16 {found.bf16!r} is not one of {', '.join(BF16_TRAITS)}")
    if not isinstance(found.uses_labels, bool) or not isinstance(found.seeded, bool):
        problems.append("uses_labels and seeded must be True or False")
    config = getattr(cls, "Config", None)
    options = {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else set()
    for name, values in found.search_space.items():
        if name not in options or not isinstance(values, tuple) or not values:
            problems.append(f"search_space[{name!r}] must name a Config option and give a tuple of values")
    return problems


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
    "ArtifactInfo", "EpochRow", "NoConfig", "ParameterCounts", "RunContext", "Split", "Strategy", "StrategyTraits",
    "TaskCard", "TaskData", "TrainingInfo", "contract_problems", "count_parameters", "probabilities_to_labels",
    "traits",
]
