"""The run record: one typed, immutable result per grid cell, and its key.

A `Record` holds what was run (`cell`, `config`), what came out (`metrics`,
`cost`, `data`, `training`, `artifact`, strategy-specific `extra`, every test
`prediction`), the error if it failed, and where it came from (`provenance`,
whose `placement` says which machine, engine and device ran it).
On disk it is JSON (see bench.run.store); `Record.from_json` rebuilds the
typed record and refuses a file of another schema with one clear line: schema
1 records (bench before the typed record) are upgraded by `bench migrate`.

The *key* is a sha256 over what determines a result and nothing else (the
data fingerprint, the card's prompt fields, the strategy and its resolved
options, model, seed, label budget, device) with a key version, so editing a
task's description keeps its records and changing a label word does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from bench.contracts import ArtifactInfo, EpochRow, TaskCard, TrainingInfo
from bench.errors import BenchError

SCHEMA = 2  # the record's layout
KEY_VERSION = 2  # what goes into the key
FP32_ANSWERS = ("fp32", "bf16-checked")  # precisions whose answers are float32's: one key (cell_identity)


@dataclass(frozen=True)
class CellId:
    """Which cell of the grid: task, strategy, model, seed and label budget (None = all labels)."""

    task: str
    strategy: str
    model: str | None
    seed: int
    budget: int | None


@dataclass(frozen=True)
class RunConfig:
    """How the cell was configured: the strategy's resolved options, the task card as JSON, the device."""

    strategy: dict
    task: dict  # bench.data.cards.as_json
    device: str
    task_ref: str  # the task as asked for: a name or a card's path
    data_override: str | None  # --data TASK=PATH
    precision: str = "fp32"  # what the arithmetic ran in: "fp32", "bf16" or "bf16-checked" (bench.run.device);
    # older records: fp32


@dataclass(frozen=True)
class Metrics:
    accuracy: float
    macro_f1: float
    per_class_f1: dict
    accuracy_ci95: tuple[float, float]  # bootstrap over test items
    ece: float | None = None  # expected calibration error, for strategies with scores


@dataclass(frozen=True)
class Cost:
    trainable_params: int | None = None
    total_params: int | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    peak_rss_mb: float | None = None  # the cell process's peak resident memory
    baseline_rss_mb: float | None = None  # resident memory before the strategy was built
    peak_gpu_mb: float | None = None
    tune_seconds: float | None = None  # choosing the options on training labels (--tune), before the fit


@dataclass(frozen=True)
class DataInfo:
    n_train: int  # examples the strategy was given (the budget sample)
    n_train_pool: int
    n_test: int
    fingerprint: str
    notes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Trial:
    """One configuration tried by the tuner, scored on training labels only."""

    options: dict  # the searched options, as tried
    scores: tuple[float, ...]  # validation accuracy per fold (one for a held-out split)
    score: float  # their mean
    seconds: float
    best_epochs: tuple[int, ...] = ()  # trained strategies: the epoch each fold's fit kept


@dataclass(frozen=True)
class RefitCheck:
    """A trained strategy's refit on every training label, scored on those labels (protocol version 4)."""

    options: dict  # the searched options of the trial it replayed
    train_accuracy: float  # on the training labels it was fit on
    bar: float  # what it had to reach: halfway from the majority class's share to its trial's validation score
    seconds: float  # the refit's fit

    @property
    def learned(self) -> bool:
        return self.train_accuracy >= self.bar


@dataclass(frozen=True)
class TuningInfo:
    """How the options were chosen (bench.run.tuning): protocol, every trial, the choice and its refit."""

    protocol: str  # e.g. "4-fold stratified cross-validation on the 64 training labels"
    trials: tuple[Trial, ...]  # the defaults first
    chosen: dict  # the searched options of the trial refit: the best one's, unless its refit did not learn
    refit: dict  # the options of the final fit on every training label (trained ones: stop_after, since version 3)
    seconds: float
    version: int = 1  # bench.run.tuning.protocol_version of its strategy when it ran (older records: 1)
    trials_from: str | None = None  # the record whose trials were reused (bench.run.tuning.TRIALS_AS_IN); None: run
    # here. `seconds` then counts those trials' seconds, which that record paid, so it stays the cost of the search
    refits: tuple[RefitCheck, ...] = ()  # version 4, trained strategies: each refit and its check, the kept one
    # last; the earlier ones did not learn, and their seconds count in `seconds`


@dataclass(frozen=True)
class ShiftInfo:
    """Domain shift (bench.scenarios.shift): where the strategy learned, tested on the cell's task."""

    train_task: str  # the task whose training split (and card) the strategy was fitted with
    train_fingerprint: str
    label_map: tuple[int, ...]  # the training task's label id -> the test task's label id (matched by name)
    n_train_pool: int  # the training task's pool, before the label budget


@dataclass(frozen=True)
class ProbeResult:
    """Forgetting (bench.scenarios.forgetting): frozen-feature accuracy on another task, before and after the fit."""

    task: str
    fingerprint: str
    n_train: int  # the probe task's training texts the probes were fitted on
    n_test: int
    knn_before: float  # k nearest neighbours on the original encoder's features
    knn_after: float  # ... on the tuned encoder's
    linear_before: float  # a logistic-regression head on the original encoder's features
    linear_after: float
    seconds: float
    zero_shot_before: float | None = None  # a language model's zero-shot accuracy on the task, as it was
    zero_shot_after: float | None = None  # ... and with its tuned body


@dataclass(frozen=True)
class UpdateStep:
    """One way of absorbing the new examples, and the test result after it."""

    mode: str  # "retrain": a fresh fit on old + new; "incremental": the strategy's own update (index add,
    # more training)
    seconds: float
    accuracy: float
    macro_f1: float


@dataclass(frozen=True)
class UpdateInfo:
    """Keeping up (bench.scenarios.update): a fit on part of the sample, then the rest as new labelled data."""

    fraction: float  # share of the training sample fitted first
    n_initial: int
    n_new: int
    initial_fit_seconds: float
    accuracy_before: float  # on the test split, after the first fit only
    macro_f1_before: float
    steps: tuple[UpdateStep, ...]  # retrain always; incremental where the strategy has update()


@dataclass(frozen=True)
class StrategyInfo:
    family: str
    uses_labels: bool
    seeded: bool
    class_name: str
    origin: str


@dataclass(frozen=True)
class Placement:
    """Where a cell ran, as the machine that ran it saw it (not the driver that planned it)."""

    executor: str  # "local" (a process on the driver's machine) or "ray" (a Ray task)
    host: str | None = None  # the host name of the machine that ran the cell; None: it died before saying
    device: str | None = None  # what the cell ran on: "cpu" or "cuda"
    gpu: str | None = None  # the GPU's name, on cuda
    threads: int | None = None  # CPU threads the cell was given (the machine's cores shared between cells)
    node: str | None = None  # the engine's id of the node (Ray's node id)
    retries: tuple[str, ...] = ()  # why earlier attempts ended, when the engine's failure (not the cell's) retried it
    worker: str | None = None  # how the cell's process started: "forked" from the local fork server, or "fresh"


@dataclass(frozen=True)
class Provenance:
    strategy: StrategyInfo
    model: dict
    data_source: str
    data_artifact: dict | None
    packages: dict
    git: dict
    machine: dict  # the machine that ran the cell (CPU, cores, memory)
    data_fingerprint: str
    started_at: str | None = None
    finished_at: str | None = None
    placement: Placement | None = None  # None in records written before bench recorded it


@dataclass(frozen=True, kw_only=True)
class Record:
    schema: int = SCHEMA
    key: str
    status: str  # "ok" or "failed"
    error: str | None = None
    cell: CellId
    config: RunConfig
    metrics: Metrics | None = None
    data: DataInfo | None = None
    cost: Cost = field(default_factory=Cost)
    training: TrainingInfo | None = None
    artifact: ArtifactInfo | None = None
    tuning: TuningInfo | None = None
    shift: ShiftInfo | None = None  # trained on another task (domain shift)
    forgetting: tuple[ProbeResult, ...] = ()  # the tuned encoder probed on other tasks
    update: UpdateInfo | None = None  # an update scenario (metrics are then those after retraining)
    extra: dict = field(default_factory=dict)
    predictions: tuple[int, ...] | None = None
    gold: tuple[int, ...] | None = None  # the test labels, aligned with predictions (paired tests need them)
    traceback: str | None = None
    provenance: Provenance

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def scenario(self) -> bool:
        """Whether the cell asked a scenario question (shift, forgetting, update): kept out of the leaderboard."""
        return self.shift is not None or bool(self.forgetting) or self.update is not None

    def card(self) -> TaskCard:
        """The task card the cell ran with."""
        from bench.data.cards import from_json

        return from_json(self.config.task)

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "record") -> "Record":
        if not isinstance(raw, dict):
            raise RecordError(f"{where} is not a JSON object")
        schema = raw.get("schema")
        if schema == 1:
            raise BenchError(f"{where} has the old record schema 1; upgrade the folder once with "
                             "`bench migrate --results DIR`")
        if schema != SCHEMA:
            raise BenchError(f"{where} has record schema {schema!r}, and this bench reads schema {SCHEMA}; "
                             "use the bench version that wrote it")
        return build(cls, raw, where)


class RecordError(ValueError):
    """A record file that does not hold a record of the current schema (damaged or hand-edited)."""


def build(cls: Any, value: Any, where: str) -> Any:
    """A value of type `cls` from JSON: dataclasses field by field (unknown or missing fields refused)."""
    origin = typing.get_origin(cls)
    args = typing.get_args(cls)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        return build(next(a for a in args if a is not type(None)), value, where)
    if dataclasses.is_dataclass(cls):
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object for {cls.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise RecordError(f"{where}: {cls.__name__} has no field(s) {', '.join(unknown)}")
        try:
            return cls(**{k: build(hints[k], v, f"{where}.{k}") for k, v in value.items()})
        except TypeError as exc:
            raise RecordError(f"{where}: {exc}") from None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: expected a list, got {type(value).__name__}")
        item = args[0] if args and (len(args) == 2 and args[1] is Ellipsis or len(set(args)) == 1) else Any
        return tuple(build(item, v, where) for v in value)
    if cls is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if cls in (int, float, str, bool) and not isinstance(value, cls):
        raise RecordError(f"{where}: expected {cls.__name__}, got {value!r}")
    if (cls is dict or origin is dict) and not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def cell_identity(task: str, task_inputs: dict, data_fingerprint: str, strategy: str, config: dict,
                  model: str | None, seed: int, budget: int | None, device: str, tuning: dict | None = None,
                  scenario: dict | None = None, precision: str = "fp32") -> dict:
    """What determines a cell's result (`task_inputs`: TaskCard.prompt_fields()); the key is its hash.

    `tuning` (trials and protocol version) is there only for tuned cells, `scenario` (the other tasks'
    fingerprints and prompt fields, the update share) only for scenario cells, and `precision` only where it is
    not fp32, so other keys stay as they were. "bf16-checked" is fp32's cell: its answers are fp32's (a bf16 pass
    whose close calls are scored again in fp32, bench.engines.scoring), so either record answers for the other.
    """
    identity = {"key_version": KEY_VERSION, "task": task, "data_fingerprint": data_fingerprint,
                "task_inputs": task_inputs, "strategy": strategy, "config": config, "model": model, "seed": seed,
                "budget": budget, "device": device}
    if tuning:
        identity["tuning"] = tuning
    if scenario:
        identity["scenario"] = scenario
    if precision not in FP32_ANSWERS:
        identity["precision"] = precision
    return identity


def cell_key(identity: dict) -> str:
    """sha256 of the canonical JSON of a cell's identity."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(blob.encode()).hexdigest()


def upgrade_v1(raw: dict) -> dict:
    """A schema 1 record (a nested dict, keyed on every card field) as schema 2 JSON, re-keyed."""
    card = dict(raw["config"]["task"])
    card.pop("metric", None)
    card.setdefault("answer_format", TaskCard.__dataclass_fields__["answer_format"].default)
    card.setdefault("text_format", TaskCard.__dataclass_fields__["text_format"].default)
    provenance = dict(raw["provenance"])
    strategy_info = dict(provenance["strategy"])
    strategy_info["class_name"] = strategy_info.pop("class")
    provenance["strategy"] = strategy_info
    card["source"] = {"kind": None, "describe": provenance.get("data_source", "?")}
    extra = dict(raw.get("extra") or {})
    training, artifact = extra.pop("training", None), extra.pop("artifact", None)
    cell = raw["cell"]
    task_inputs = {name: card[name] for name in ("labels", "label_words", "instruction", "answer_format",
                                                 "text_format", "max_tokens")}
    identity = cell_identity(card["name"], task_inputs, provenance["data_fingerprint"], cell["strategy"],
                             raw["config"]["strategy"], cell["model"], cell["seed"], cell.get("budget"),
                             raw["config"]["device"])
    return {"schema": SCHEMA, "key": cell_key(identity), "status": raw["status"], "error": raw.get("error"),
            "cell": {**cell, "budget": cell.get("budget")},
            "config": {**raw["config"], "task": card},
            "metrics": raw.get("metrics"), "data": raw.get("data"), "cost": raw.get("cost") or {},
            "training": training, "artifact": artifact, "extra": extra, "predictions": raw.get("predictions"),
            "traceback": raw.get("traceback"), "provenance": provenance}


__all__ = ["ArtifactInfo", "CellId", "Cost", "DataInfo", "EpochRow", "KEY_VERSION", "Metrics", "Placement",
           "ProbeResult", "Provenance", "Record", "RecordError", "RunConfig", "SCHEMA", "ShiftInfo", "StrategyInfo",
           "TrainingInfo", "Trial", "TuningInfo", "UpdateInfo", "UpdateStep", "build", "cell_identity", "cell_key",
           "upgrade_v1"]
