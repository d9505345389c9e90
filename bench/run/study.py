"""Studies as files: one or more grids and where their results go, in TOML.

    # leaderboard/study.toml
    results = "."                  # relative to this file; default: this file's folder

    [[grid]]                       # every field optional, as on the command line
    tasks = ["imdb", "spam"]
    strategies = ["head-only", "lora"]   # default: every built-in strategy
    models = ["all-MiniLM-L6-v2"]        # default: each strategy's own
    budgets = [8, 32, "all"]
    seeds = [0, 1, 2]
    baseline = true                      # the reference rows: majority and tfidf
    tune = 6                             # choose options on training labels, 6 trials each (0: defaults)
    select_only = false                  # true: choose and stop, no test split (a defaults study)
    train_on = "spam-email"              # domain shift: fit on this task, test on the tasks above
    probes = ["yelp"]                    # forgetting: probe each fine-tuned encoder on these tasks
    update = 0.5                         # keeping up: fit on half the labels, then absorb the rest
    options = { "lora.r" = 4, "epochs" = 2 }
    data = { imdb = "~/data/aclImdb" }

Paths in a study (results, task cards, data) are relative to the study file.
`bench run STUDY.toml` (or `bench run --study STUDY.toml`) runs every grid in
turn; cells already recorded are skipped, so re-running the file finishes a
study and editing it extends one. Anything wrong with the file is one line
naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.sampling import ALL
from bench.errors import BenchError
from bench.files import read_toml
from bench.run.grid import DEFAULT_TASKS, GridSpec, Scenario

GRID_FIELDS = {"tasks", "strategies", "models", "budgets", "seeds", "baseline", "options", "data", "tune",
               "select_only", "train_on", "probes", "update"}


@dataclass(frozen=True)
class Study:
    path: Path
    results: Path
    grids: tuple[GridSpec, ...]


def load_study(path: str | Path, device: str = "auto", precision: str = "auto") -> Study:
    path = Path(path).expanduser()
    raw = read_toml(path, "study")
    unknown = sorted(set(raw) - {"results", "grid"})
    if unknown:
        raise BenchError(f"study {path}: unknown field(s) {', '.join(unknown)}; "
                         "a study has results and [[grid]] tables")
    grids = raw.get("grid")
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) for g in grids):
        raise BenchError(f"study {path}: give at least one [[grid]] table")
    results = raw.get("results", ".")
    if not isinstance(results, str):
        raise BenchError(f"study {path}: results must be a folder path (a string)")
    results_path = _relative(results, path.parent)
    specs = []
    for number, grid in enumerate(grids, start=1):
        where = f"study {path}, grid {number}"
        try:
            specs.append(_grid(grid, device, path.parent, precision))
        except BenchError as exc:
            raise BenchError(f"{where}: {exc}") from None
    return Study(path, results_path, tuple(specs))


def _grid(raw: dict, device: str, folder: Path, precision: str = "auto") -> GridSpec:
    unknown = sorted(set(raw) - GRID_FIELDS)
    if unknown:
        raise BenchError(f"unknown field(s) {', '.join(unknown)}; a grid has {', '.join(sorted(GRID_FIELDS))}")
    lists = {name: _list(raw, name) for name in ("tasks", "strategies", "models", "seeds", "budgets")}
    for name in ("tasks", "strategies", "models"):
        if not all(isinstance(v, str) for v in lists[name]):
            raise BenchError(f"{name} must be a list of names")
    budgets = tuple(None if b == ALL else b for b in lists["budgets"]) or (None,)
    if any(isinstance(b, str) for b in budgets):
        raise BenchError(f"budgets must be numbers of labels per class or {ALL!r}")
    options, data = raw.get("options", {}), raw.get("data", {})
    paths_ok = isinstance(data, dict) and all(isinstance(v, str) for v in data.values())
    if not isinstance(options, dict) or not paths_ok:
        raise BenchError("options must be a table of NAME = value, and data a table of TASK = \"path\"")
    baseline = raw.get("baseline", True)
    if not isinstance(baseline, bool):
        raise BenchError("baseline must be true or false")
    tune, select_only = raw.get("tune", 0), raw.get("select_only", False)
    if not isinstance(select_only, bool):
        raise BenchError("select_only must be true or false")
    tasks = tuple(str(_relative(t, folder)) if t.endswith(".toml") else t for t in lists["tasks"])
    train_on, probes = raw.get("train_on"), _list(raw, "probes")
    if train_on is not None and not isinstance(train_on, str) or not all(isinstance(t, str) for t in probes):
        raise BenchError("train_on must be a task name and probes a list of task names")
    name = lambda t: str(_relative(t, folder)) if t.endswith(".toml") else t  # noqa: E731
    scenario = Scenario(name(train_on) if train_on else None, tuple(name(t) for t in probes), raw.get("update"))
    return GridSpec(tasks=tasks or DEFAULT_TASKS, strategies=tuple(lists["strategies"]),
                    models=tuple(lists["models"]), seeds=tuple(lists["seeds"]) or (0,), budgets=budgets,
                    options=tuple(options.items()), baseline=baseline, device=device, precision=precision, tune=tune,
                    select_only=select_only,
                    scenario=scenario,
                    data=tuple((_card_task(task, folder), str(_relative(p, folder))) for task, p in data.items()))


def _relative(path: str, folder: Path) -> Path:
    """A path from the study file, relative to its folder unless absolute."""
    value = Path(path).expanduser()
    return value if value.is_absolute() else folder / value


def _card_task(task: str, folder: Path) -> str:
    """A data override's task as the grid names it (a card's path is resolved like the grid's tasks)."""
    return str(_relative(task, folder)) if task.endswith(".toml") else task


def _list(raw: dict, name: str) -> list:
    value = raw.get(name, [])
    if not isinstance(value, list):
        raise BenchError(f"{name} must be a list (e.g. {name} = [...])")
    return value
