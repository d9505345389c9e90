"""The grid: task x strategy x model x seed cells, resolved and keyed.

Everything a user can get wrong is checked here, before the first cell runs:
task and strategy names, option names and values, data files. A cell is plain
JSON so that any executor (a local process, a cluster worker) can run it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, replace
from pathlib import Path

from bench.contracts import TaskCard
from bench.errors import BenchError
from bench.registry import STRATEGIES, TASKS


@dataclass(frozen=True)
class Cell:
    task: str  # a registered name or a path to a .toml card
    strategy: str
    model: str | None
    seed: int
    budget: int | None  # labelled examples per class; None = the whole training pool
    options: dict  # option name -> value, for this strategy only
    data: str | None  # a local data path replacing the task's source
    device: str  # "auto", "cpu" or "cuda"

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def resolve_task(name: str, data: str | None = None) -> TaskCard:
    if name.endswith(".toml") or Path(name).suffix == ".toml":
        from bench.cards import load_card

        card = load_card(name)
    else:
        card = TASKS.get(name)
    if data:
        from bench.data import LocalTable

        # a local copy uses the common column names (the aclImdb and hub layouts give them)
        card = replace(card, source=LocalTable(data), text_field="text", label_field="label")
    _check_card(card)
    from bench.data import infer_labels

    return infer_labels(card)


def _check_card(card: TaskCard) -> None:
    problems = []
    if not 0 < card.test_fraction < 1:
        problems.append(f"test_fraction must be between 0 and 1 (got {card.test_fraction!r})")
    for name in ("n_train", "n_test"):
        value = getattr(card, name)
        if value is not None and (not isinstance(value, int) or value < 2):
            problems.append(f"{name} must be an integer >= 2 (got {value!r})")
    if not isinstance(card.max_tokens, int) or card.max_tokens < 8:
        problems.append(f"max_tokens must be an integer >= 8 (got {card.max_tokens!r})")
    if card.clean not in ("none", "html"):
        problems.append(f"clean must be 'none' or 'html' (got {card.clean!r})")
    if card.labels and card.label_words and len(card.label_words) != len(card.labels):
        problems.append("label_words needs one entry per label")
    if problems:
        raise BenchError(f"task {card.name}: {problems[0]}; fix the task card")


def strategy_config(strategy: str, options: dict):
    """The strategy's config dataclass, built from option values (already typed)."""
    cls = STRATEGIES.get(strategy)
    try:
        return cls.Config(**options)
    except (TypeError, ValueError) as exc:
        raise BenchError(f"strategy {strategy}: bad option value: {exc}; see `bench ls --options`") from None


def build_strategy(strategy: str, options: dict, model: str | None, device: str):
    cls = STRATEGIES.get(strategy)
    return cls(strategy_config(strategy, options), model=model, device=device)


def option_fields(strategy: str) -> dict[str, type]:
    config = STRATEGIES.get(strategy).Config
    hints = typing.get_type_hints(config)
    return {f.name: hints[f.name] for f in dataclasses.fields(config)}


def parse_options(pairs: list[str], strategies: list[str]) -> dict[str, dict]:
    """`--set r=8 lora.alpha=16` into {strategy: {option: typed value}}.

    A bare name applies to every strategy in the grid that has that option; a
    `strategy.option` name to that strategy only. A name no strategy has is an
    error, and so is a value the strategy's Config refuses: both before any data
    or model is fetched.
    """
    per_strategy: dict[str, dict] = {s: {} for s in strategies}
    for pair in pairs:
        if "=" not in pair:
            raise BenchError(f"--set {pair!r}: expected NAME=VALUE, e.g. --set head-only.C=0.5")
        name, value = pair.split("=", 1)
        target, _, option = name.rpartition(".")
        targets = [target] if target else strategies
        if target and target not in strategies:
            raise BenchError(f"--set {pair!r}: strategy {target!r} is not in this run ({', '.join(strategies)})")
        applied = False
        for s in targets:
            fields = option_fields(s)
            if option in fields:
                per_strategy[s][option] = _convert(value, fields[option], f"{s}.{option}")
                applied = True
        if not applied:
            known = sorted({f"{s}.{o}" for s in targets for o in option_fields(s)})
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise BenchError(f"--set {pair!r}: no strategy in this run has option {option!r}; {hint}"
                             f"options: {', '.join(known) or 'none'}")
    for s in strategies:
        strategy_config(s, per_strategy[s])
    return per_strategy


def _convert(text: str, kind, where: str):
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        if text.lower() in ("none", "null", ""):
            return None
        kind, origin = args[0], typing.get_origin(args[0])
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind in (int, float, str):
            return kind(text)
        if origin in (tuple, list):
            item = (typing.get_args(kind) or (str,))[0]
            return tuple(item(v) for v in text.split(",") if v)
    except ValueError:
        raise BenchError(f"--set {where}={text!r}: not a valid {getattr(kind, '__name__', kind)}") from None
    return text


def uses_labels(strategy: str) -> bool:
    """False for strategies that never look at training labels (zero-shot)."""
    return getattr(STRATEGIES.get(strategy), "uses_labels", True)


def seeded(strategy: str) -> bool:
    """False for strategies whose result on the whole training split does not depend on the seed."""
    return getattr(STRATEGIES.get(strategy), "seeded", True)


def build_cells(tasks: list[str], strategies: list[str], models: list[str] | None, seeds: list[int],
                options: dict[str, dict], data: dict[str, str], device: str,
                budgets: list[int | None] = (None,)) -> list[Cell]:
    """The grid; a strategy that uses no labels runs once, not once per budget, and a
    strategy that is not `seeded` runs with the first seed only where it sees every label."""
    cells = []
    for task in tasks:
        for strategy in strategies:
            cls = STRATEGIES.get(strategy)
            uses_model = getattr(cls, "default_model", None) is not None
            for model in (models or [cls.default_model]) if uses_model else [None]:
                for budget in budgets if uses_labels(strategy) else [None]:
                    for seed in seeds if budget is not None or seeded(strategy) else seeds[:1]:
                        cells.append(Cell(task, strategy, model, seed, budget, options.get(strategy, {}),
                                          data.get(task), device))
    return cells
