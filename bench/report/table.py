"""The leaderboard's table: records loaded once, aggregated once, formatted for every output.

`load(results)` reads every record under `<results>/records/` (when a cell was
re-run with `--force`, its newest record counts; failed and damaged ones are
kept apart, and so are the scenario cells of bench.scenarios, tabulated by
bench.report.scenarios) and aggregates the ok ones into one row per (task, strategy,
model, label budget): mean and standard deviation over seeds, each row marked
when the task's best row does not beat it beyond noise (bench.report.analysis).
Markdown, the terminal, the CSV and the plots are all drawn from that one
`Leaderboard`; nothing in them is edited by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bench.data import sampling
from bench.report import analysis, paired
from bench.run import store
from bench.run.records import FP32_ANSWERS, Record

COLUMNS = [  # (key in the row, header, short header for the terminal, format)
    ("accuracy", "accuracy", "acc %", "pct"),
    ("macro_f1", "macro-F1", "F1 %", "pct"),
    ("trainable_params", "trainable params", "trained", "count"),
    ("total_params", "total params", "total", "count"),
    ("tune_seconds", "tune s", "tune s", "sec"),
    ("fit_seconds", "fit s", "fit s", "sec"),
    ("predict_seconds", "predict s", "pred s", "sec"),
    ("peak_rss_mb", "peak MB", "peak MB", "mb"),
]


@dataclass
class Leaderboard:
    ok: list[Record]  # the newest ok record of every cell that was tested
    failed: list[Record]
    damaged: list[store.Damaged]
    table: Any = field(repr=False)  # pandas DataFrame: one row per (task, strategy, model, budget, tuned)
    selections: list[Record] = field(default_factory=list)  # --select-only cells: a choice, no test result
    scenarios: list[Record] = field(default_factory=list)  # shift, forgetting, update cells (bench.report.scenarios)

    def tasks(self) -> list[str]:
        return [] if self.table.empty else sorted(self.table.task.unique())

    def records_of(self, row) -> list[Record]:
        """The records aggregated into a table row (one per seed)."""
        return [r for r in self.ok if row_key(flat(r)) == row_key(row)]

    def compare(self, a, b):
        """Row a against row b, paired over test items and seeds (bench.report.paired), or None."""
        return paired.compare(self.records_of(a), self.records_of(b))


def load(results: Path) -> Leaderboard:
    finished, failed, damaged = newest(results)
    ok = [r for r in finished if r.metrics is not None and not r.scenario]
    selections = [r for r in finished if r.metrics is None]
    scenarios = [r for r in finished if r.metrics is not None and r.scenario]
    return Leaderboard(ok, failed, damaged, aggregate(ok), selections, scenarios)


class Newest(NamedTuple):
    """A results folder's records as the report reads them."""

    finished: list[Record]  # the newest record per key that ran to the end (a cell run again: its latest)
    failed: list[Record]
    damaged: list[store.Damaged]  # files that could not be read


def newest(results: Path) -> Newest:
    """The folder's finished records, the newest per key, its failed records, and the files it could not read."""
    latest: dict[str, Record] = {}
    failed, damaged = [], []
    for item in store.iter_records(results):
        if isinstance(item, store.Damaged):
            damaged.append(item)
        elif item.ok:
            stamp = item.provenance.finished_at or ""
            if item.key not in latest or stamp >= (latest[item.key].provenance.finished_at or ""):
                latest[item.key] = item
        else:
            failed.append(item)
    return Newest(list(latest.values()), failed, damaged)


ROW = ("task", "strategy", "model", "options", "budget", "tuned")  # what makes a table row; seeds are aggregated


def row_key(row) -> tuple:
    return tuple(row[k] for k in ROW)


def flat(record: Record) -> dict:
    """One record as a table row before aggregation."""
    metrics, cost, data = record.metrics, record.cost, record.data
    low, high = metrics.accuracy_ci95 if metrics else (math.nan, math.nan)
    info = record.provenance.strategy
    recipe = ", ".join(filter(None, (changed_card(record.cell.task, record.config.task),
                                     changed_options(record.cell.strategy, record.config.strategy),
                                     changed_protocol(record.cell.strategy, record.tuning))))
    return {"task": record.cell.task, "strategy": record.cell.strategy, "model": record.cell.model or "-",
            "options": ", ".join(filter(None, (recipe, changed_precision(record.config.precision)))),
            "recipe": recipe,  # what changes the method: the options but the numeric format it computed in
            "budget": sampling.name(record.cell.budget), "tuned": record.tuning is not None,
            "family": info.family, "uses_labels": info.uses_labels,
            "test_se": (high - low) / (2 * 1.96), "seed": record.cell.seed,
            "accuracy": metrics.accuracy if metrics else None, "macro_f1": metrics.macro_f1 if metrics else None,
            "trainable_params": cost.trainable_params, "total_params": cost.total_params,
            "tune_seconds": cost.tune_seconds, "fit_seconds": cost.fit_seconds,
            "predict_seconds": cost.predict_seconds, "peak_rss_mb": cost.peak_rss_mb,
            "n_train": data.n_train if data else None, "n_test": data.n_test if data else None,
            "device": record.config.device}


@functools.cache
def _defaults(strategy: str) -> dict | None:
    from bench.registry import STRATEGIES

    try:
        return json.loads(json.dumps(dataclasses.asdict(STRATEGIES.get(strategy).Config())))
    except Exception:  # a strategy no longer installed: its records keep their full options
        return None


@functools.cache
def _protocol(strategy: str) -> int | None:
    from bench.registry import STRATEGIES
    from bench.run.tuning import protocol_version

    try:
        return protocol_version(STRATEGIES.get(strategy))
    except Exception:  # a strategy no longer installed: nothing to compare with
        return None


def changed_protocol(strategy: str, tuning) -> str:
    """"protocol=1" for a record tuned under an earlier version of the tuning protocol than the strategy's
    now (bench.run.tuning), so it is a row of its own beside the current protocol's; "" otherwise."""
    current = _protocol(strategy)
    if tuning is None or current is None or tuning.version == current:
        return ""
    return f"protocol={tuning.version}"


def changed_precision(precision: str) -> str:
    """"precision=bf16" for a record computed in bf16, so it is a row of its own beside fp32 ones; "" for fp32
    and for bf16-checked, whose answers are fp32's (the same cell: bench.run.records.cell_identity)."""
    return "" if precision in FP32_ANSWERS else f"precision={precision}"


@functools.cache
def _absent(strategy: str) -> dict:
    """Options whose default changed after records existed, and the value a record that lacks them ran with
    (the field's metadata "absent")."""
    from bench.registry import STRATEGIES

    try:
        fields = dataclasses.fields(STRATEGIES.get(strategy).Config)
    except Exception:  # a strategy no longer installed
        return {}
    return {f.name: f.metadata["absent"] for f in fields if "absent" in f.metadata}


def changed_options(strategy: str, config: dict) -> str:
    """The options in which a record's configuration differs from the strategy's defaults, as "k=v, ..."; an
    option the record lacks counts at the value it had before the option existed, where that is not today's."""
    defaults = _defaults(strategy)
    config = {**{k: v for k, v in _absent(strategy).items() if defaults is not None and defaults.get(k) != v},
              **config}
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items())
                     if defaults is None or defaults.get(k, object()) != v)


@functools.cache
def _card_fields(task: str) -> dict | None:
    from bench.registry import TASKS

    try:
        return json.loads(json.dumps(TASKS.get(task).prompt_fields()))
    except Exception:  # a task card given as a file, or no longer installed: nothing to compare with
        return None


def changed_card(task: str, card: dict) -> str:
    """The fields of a record's task card that differ from the installed card's and reach the strategy (its
    prompt fields, such as max_tokens), as "k=v, ...": records from an earlier card get their own row."""
    current = _card_fields(task)
    if current is None:
        return ""
    return ", ".join(f"{k}={card[k]}" for k in sorted(current) if k in card and card[k] != current[k])


def aggregate(ok: list[Record]):
    """One row per (task, strategy, model, budget, tuned): mean and std over seeds, best first.

    A row is marked `within_noise` when the task's best row (with all labels, of the current recipe where
    there is one: `current`) does not beat it beyond noise: by a paired test over the same test texts and
    seeds (bench.report.paired) where the records keep their gold labels, else by the unpaired rule of
    bench.report.analysis.
    """
    import pandas as pd

    frame = pd.DataFrame([flat(r) for r in ok])
    if frame.empty:
        return frame
    metrics = [c[0] for c in COLUMNS] + ["n_train", "n_test", "test_se"]
    grouped = frame.groupby([*ROW, "recipe", "family", "uses_labels"], sort=False)
    mean = grouped[metrics].mean()
    std = grouped[["accuracy", "macro_f1", "fit_seconds", "predict_seconds", "peak_rss_mb"]].std(ddof=1)
    table = mean.join(std.add_suffix("_std")).join(grouped.seed.nunique().rename("seeds")).reset_index()
    table["baseline"] = table.family == "baseline"
    table["within_noise"] = False
    by_row: dict[tuple, list[Record]] = {}
    for record in ok:
        by_row.setdefault(row_key(flat(record)), []).append(record)
    for task in table.task.unique():  # mark rows that the best row does not beat beyond noise
        main = table[(table.task == task) & (table.budget == sampling.ALL)]
        if main.empty:
            continue
        contenders = main[current(main)] if current(main).any() else main
        best = contenders.loc[contenders.accuracy.idxmax()]
        for i, row in main.iterrows():
            if i == best.name:
                continue
            test = paired.compare(by_row[row_key(best)], by_row[row_key(row)])
            table.loc[i, "within_noise"] = (not test.beyond_noise) if test else not analysis.beyond_noise(best, row)
    order = ["task", "accuracy", "strategy", "model", "budget"]  # ties broken by name, whatever the record order
    return table.sort_values(order, ascending=[True, False, True, True, True], kind="mergesort").reset_index(drop=True)


def newest_date(records: list[Record]) -> str:
    """The day the newest record finished (YYYY-MM-DD), so a rebuilt report from the same records is the same file."""
    return max((r.provenance.finished_at or "")[:10] for r in records) if records else "-"


def where_run(ok: list[Record]) -> tuple[str, str]:
    """Where the records ran, as two sentences: machines, devices, precisions and commits; package versions."""
    machines = sorted({r.provenance.machine.get("cpu", "?") for r in ok})
    devices = sorted({r.config.device for r in ok})
    precisions = sorted({r.config.precision for r in ok})
    commits = sorted({str(r.provenance.git.get("commit") or "unknown")[:10] for r in ok})
    versions = ", ".join(f"{k} {v}" for k, v in ok[0].provenance.packages.items()) if ok else ""
    return (f"Machine: {', '.join(machines)}; device: {', '.join(devices)}; precision: {', '.join(precisions)}; "
            f"bench commit(s): {', '.join(commits)}.", f"Versions: {versions}.")


def fmt(value, kind: str, std=None) -> str:
    """A value as every table shows it: kind "pct" (a fraction as %, with ± std), "count", "sec" or "mb"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "pct":
        text = f"{100 * value:.1f}"
        if std is not None and not math.isnan(std):
            text += f" ± {100 * std:.1f}"
        return text
    if kind == "count":
        value = int(round(value))
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= size:
                return f"{value / size:.2f} {unit}" if value < 10 * size else f"{value / size:.1f} {unit}"
        return str(value)
    if kind == "sec":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if kind == "mb":
        return f"{value:,.0f}"
    return str(value)


def display_name(row) -> str:
    """A row's strategy as tables show it: "lora (tuned)", "majority (baseline)", "knn [k=8]"."""
    return (row.strategy + (f" [{row.options}]" if row.options else "") + (" (tuned)" if row.tuned else "")
            + (" (baseline)" if row.baseline else ""))


def main_rows(table, task: str):
    """The rows of the main table: every strategy with all its labels (budget "all")."""
    rows = table[(table.task == task) & (table.budget == sampling.ALL)]
    return rows if not rows.empty else table[table.task == task]


def current(rows):
    """Which rows ran today's recipe: the installed card, the strategy's default options and the current
    tuning protocol (any numeric format). The others are earlier recipes or options set by hand."""
    return rows.recipe == ""


def split_by_recipe(rows) -> bool:
    """Whether a table of these rows comes in two parts: today's recipe first, then the other recipes."""
    mine = current(rows)
    return bool(mine.any() and not mine.all())


def rows_for(table, task: str, today: bool | None = None) -> list[list[str]]:
    """The main table's rows as text; `today` True or False keeps only the current recipe's rows or the others."""
    out = []
    rows = main_rows(table, task)
    for _, row in (rows if today is None else rows[current(rows) == today]).iterrows():
        cells = [display_name(row), row.model, str(int(row.seeds))]
        for key, _, _, kind in COLUMNS:
            text = fmt(row[key], kind, row.get(f"{key}_std") if int(row.seeds) > 1 else None)
            cells.append(text + (" ≈" if key == "accuracy" and row.within_noise else ""))
        out.append(cells)
    return out


def curve_rows(table, task: str, today: bool | None = None) -> tuple[list[str], list[list[str]]]:
    """Accuracy by label budget: one row per strategy and model, one column per budget (`today`: as in rows_for)."""
    rows = table[table.task == task]
    names = sorted(rows.budget.unique(), key=sampling.order)
    rows = rows if today is None else rows[current(rows) == today]
    out = []
    for _, group in rows.groupby(["strategy", "model", "options", "tuned"], sort=False):
        by_budget = {r.budget: r for _, r in group.iterrows()}
        label_free = not group.uses_labels.iloc[0]
        cells = [display_name(group.iloc[0]).replace(" (baseline)", ""), group.model.iloc[0]]
        for b in names:
            r = by_budget.get(b) if not label_free else group.iloc[0]
            cells.append(fmt(r.accuracy, "pct", r.accuracy_std if int(r.seeds) > 1 else None) if r is not None else "-")
        out.append(cells)
    return ["strategy", "model"] + [f"{b} / class" if b != "all" else "all" for b in names], out


def headers(short: bool = False) -> list[str]:
    return ["strategy", "model", "seeds"] + [c[2] if short else c[1] for c in COLUMNS]
