"""The grid: task x strategy x model x budget x seed cells, from a `GridSpec`.

A `GridSpec` is one grid as a user asks for it: from command-line flags or
from one `[[grid]]` of a study file (bench.run.study). It checks its own
values when built; `build_cells` then checks the names (tasks are checked when
the plan resolves them) and every option against the strategy's Config, before
anything is fetched or run. A cell is plain data, so any executor (a local
process, a cluster worker) can run it.

A strategy that uses no labels runs once, not once per label budget; one that
is not `seeded` runs with the first seed only where it sees every label.

A grid may also ask one of the questions behind the choice (bench.scenarios):
fit on another task's training split (`train_on`, domain shift), probe the
tuned encoder on other tasks afterwards (`probes`, forgetting), or fit on part
of the training sample and absorb the rest as new data (`update`). Those
cells carry a `Scenario`; their records are kept apart from the leaderboard.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from bench.contracts import traits
from bench.errors import BenchError
from bench.registry import STRATEGIES
from bench.run.device import PRECISIONS

DEFAULT_TASKS = ("imdb", "spam")
DEVICES = ("auto", "cpu", "cuda")
REFERENCES = ("majority", "tfidf")  # in every grid unless --no-baseline: the floor and the classical reference
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes 0 .. 2**32 - 1


@dataclass(frozen=True)
class Scenario:
    """What a cell asks beyond "fit on the task, test on it" (bench.scenarios); empty for a plain cell."""

    train_on: str | None = None  # fit on this task's training split, test on the cell's task (domain shift)
    probes: tuple[str, ...] = ()  # after the fit, measure the tuned encoder on these tasks (forgetting)
    update: float | None = None  # fit on this share of the training sample first, then absorb the rest

    def __bool__(self) -> bool:
        return bool(self.train_on or self.probes or self.update)


@dataclass(frozen=True)
class GridSpec:
    """One grid as asked for. Empty `strategies` means every built-in one; empty `models`, each strategy's own."""

    tasks: tuple[str, ...] = DEFAULT_TASKS  # registered names or paths to .toml cards
    strategies: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    budgets: tuple[int | None, ...] = (None,)  # labelled examples per class; None = the whole training pool
    options: tuple[tuple[str, Any], ...] = ()  # ("lora.r", "8") from --set, or typed values from a study
    data: tuple[tuple[str, str], ...] = ()  # (task, local path) replacing a task's embedded data
    baseline: bool = True  # add the reference rows: majority and tfidf
    device: str = "auto"
    precision: str = "auto"  # "auto": bf16 where the hardware computes it natively, else fp32 (bench.run.device)
    tune: int = 0  # trials per tunable strategy, chosen on training labels (bench.run.tuning); 0 = the defaults
    select_only: bool = False  # tune on the training labels and stop: no final fit, no test split (defaults studies)
    scenario: Scenario = Scenario()  # train_on, probes or update (bench.scenarios); empty: plain cells

    def __post_init__(self):
        if not self.tasks:
            raise BenchError("tasks: give at least one task (see `bench ls`)")
        if not self.seeds:
            raise BenchError("seeds: give at least one seed")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
                raise BenchError(f"seeds {seed!r}: a seed is a whole number from 0 to {MAX_SEED}")
        if len(set(self.seeds)) != len(self.seeds):
            raise BenchError(f"seeds {' '.join(map(str, self.seeds))}: a seed is repeated; give each once")
        for budget in self.budgets:
            if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
                raise BenchError(f"budgets {budget!r}: give a positive number of labels per class, or 'all'")
        if not self.budgets or len(set(self.budgets)) != len(self.budgets):
            raise BenchError("budgets: give each budget once, at least one")
        for task, _ in self.data:
            if task not in self.tasks:
                raise BenchError(f"--data {task}=...: task {task!r} is not in this run ({', '.join(self.tasks)})")
        if self.device not in DEVICES:
            raise BenchError(f"device {self.device!r}: use one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise BenchError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if isinstance(self.tune, bool) or not isinstance(self.tune, int) or self.tune < 0 or self.tune == 1:
            raise BenchError(f"tune {self.tune!r}: give the number of configurations to try per strategy, "
                             "2 or more (0: the defaults, untuned)")
        if self.select_only and not self.tune:
            raise BenchError("select-only needs tune: it chooses options on training labels and stops there")
        update = self.scenario.update
        if update is not None and (isinstance(update, bool) or not isinstance(update, (int, float))
                                   or not 0 < update < 1):
            raise BenchError(f"update {update!r}: give the share of the training sample fitted first, between 0 "
                             "and 1 (e.g. 0.5); the rest arrives as new data")
        if update is not None and self.tune:
            raise BenchError("tune with update: the first fit could only have chosen its options on the labels it "
                             "had; run the update scenario untuned (leave out --tune)")
        if self.scenario and self.select_only:
            raise BenchError("select-only chooses options and stops; it cannot be combined with --train-on, "
                             "--probe or --update")
        if self.scenario.train_on and self.scenario.train_on in self.tasks:
            raise BenchError(f"--train-on {self.scenario.train_on}: it is also a test task here; a shift fits on "
                             "one task and tests on another")


@dataclass(frozen=True)
class Cell:
    task: str  # a registered name or a path to a .toml card
    strategy: str
    model: str | None
    seed: int
    budget: int | None  # labelled examples per class; None = the whole training pool
    options: dict  # option name -> typed value, for this strategy only
    data: str | None  # a local data path replacing the task's source
    device: str  # "auto", "cpu" or "cuda"
    tune: int = 0  # trials for --tune (only strategies with a search space that use labels are tuned)
    select_only: bool = False  # stop after choosing: no final fit, no test split
    scenario: Scenario = Scenario()  # domain shift, forgetting probes or an update (bench.scenarios)
    precision: str = "auto"  # "auto", "fp32" or "bf16"; resolved with the device when the grid is planned


def strategy_names(spec: GridSpec) -> list[str]:
    """The grid's strategies, checked, with the reference rows (majority, tfidf) first unless left out."""
    names = list(dict.fromkeys(spec.strategies or builtin_strategies()))
    for name in names:
        STRATEGIES.get(name)  # unknown or broken names fail here, with a suggestion
    if spec.baseline:
        names = [ref for ref in REFERENCES if ref not in names] + names
    return names


def builtin_strategies() -> list[str]:
    return [e.name for e in STRATEGIES.entries() if e.origin == "built-in"]


def build_cells(spec: GridSpec) -> list[Cell]:
    strategies = strategy_names(spec)
    options = parse_options(spec.options, strategies)
    data = dict(spec.data)
    budgets = sorted(spec.budgets, key=lambda b: float("inf") if b is None else b)
    if spec.select_only:  # only what can be tuned: selection on training labels is all these cells do
        strategies = [s for s in strategies if tunable(s)]
    if spec.scenario.probes:  # forgetting is measured where an encoder is trained
        strategies = [s for s in strategies if tunes_encoder(s)]
        if not strategies:
            raise BenchError("--probe measures what fine-tuning did to an encoder; none of this grid's strategies "
                             "trains one (lora, full and partial do)")
    cells = []
    for task in spec.tasks:
        for strategy in strategies:
            found = traits(STRATEGIES.get(strategy))
            models = (list(spec.models) or [found.default_model]) if found.default_model is not None else [None]
            for model in models:
                for budget in budgets if found.uses_labels else [None]:
                    for seed in spec.seeds if budget is not None or found.seeded else spec.seeds[:1]:
                        cells.append(Cell(task, strategy, model, seed, budget, options[strategy], data.get(task),
                                          spec.device, spec.tune, spec.select_only, spec.scenario,
                                          spec.precision))
    return cells


def tunable(strategy: str) -> bool:
    """Whether --tune chooses anything for a strategy: it declares a search space and reads labels."""
    found = traits(STRATEGIES.get(strategy))
    return bool(found.search_space) and found.uses_labels


def tunes_encoder(strategy: str) -> bool:
    """Whether a strategy changes its encoder's weights (it can hand back the tuned encoder: `tuned_encoder`)."""
    return callable(getattr(STRATEGIES.get(strategy), "tuned_encoder", None))


def strategy_config(strategy: str, options: dict):
    """The strategy's Config, built from typed option values; a value it refuses is one clear line."""
    cls = STRATEGIES.get(strategy)
    try:
        return cls.Config(**options)
    except (TypeError, ValueError) as exc:
        raise BenchError(f"strategy {strategy}: bad option value: {exc}; see `bench ls --options`") from None


def build_strategy(strategy: str, options: dict | None = None, model: str | None = None, context: Any = None):
    """A strategy by name, with typed options, as the worker builds it (for benchmarks, tests and notebooks)."""
    cls = STRATEGIES.get(strategy)
    return cls(strategy_config(strategy, options or {}), model, context)


def option_fields(strategy: str) -> dict[str, type]:
    config = STRATEGIES.get(strategy).Config
    hints = typing.get_type_hints(config)
    return {f.name: hints[f.name] for f in dataclasses.fields(config)}


def parse_options(pairs: tuple[tuple[str, Any], ...], strategies: list[str]) -> dict[str, dict]:
    """`(("r", "8"), ("lora.alpha", 16.0))` into {strategy: {option: typed value}}.

    A bare name applies to every strategy in the grid that has that option; a
    `strategy.option` name to that strategy only. A name no strategy has is an
    error, and so is a value the strategy's Config refuses: both before any data
    or model is fetched.
    """
    per_strategy: dict[str, dict] = {s: {} for s in strategies}
    for name, value in pairs:
        target, _, option = name.rpartition(".")
        targets = [target] if target else strategies
        if target and target not in strategies:
            raise BenchError(f"--set {name}=...: strategy {target!r} is not in this run ({', '.join(strategies)})")
        applied = False
        for s in targets:
            fields = option_fields(s)
            if option in fields:
                per_strategy[s][option] = typed(value, fields[option], f"{s}.{option}")
                applied = True
        if not applied:
            known = sorted({f"{s}.{o}" for s in targets for o in option_fields(s)})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise BenchError(f"--set {name}=...: no strategy in this run has option {option!r}; {hint}"
                             f"options: {', '.join(known) or 'none'}")
    for s in strategies:
        strategy_config(s, per_strategy[s])
    return per_strategy


def typed(value: Any, kind: Any, where: str) -> Any:
    """An option value as its field's type: text from --set is parsed, a study file's value is checked."""
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and args:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        kind, origin = args[0], typing.get_origin(args[0])
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind in (int, float, str):
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError
            if kind is str and not isinstance(value, str):
                raise ValueError
            return kind(value)
        if origin in (tuple, list):
            item = (typing.get_args(kind) or (str,))[0]
            values = value.split(",") if isinstance(value, str) else value
            return tuple(item(v) for v in values if v != "")
    except (ValueError, TypeError):
        raise BenchError(f"--set {where}={value!r}: not a valid {getattr(kind, '__name__', kind)}") from None
    return value
