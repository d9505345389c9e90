"""Leaderboards derived from records: a rich table, LEADERBOARD.md and a CSV.

Nothing here is edited by hand: `bench report` rebuilds the files from the JSON
records alone. Rows are (task, strategy, model); numbers are the mean and
standard deviation over seeds. When a cell was re-run with `--force`, its
newest record counts. Text that came from outside (task descriptions, plugin
names) is escaped before it goes into markdown.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from pathlib import Path

from bench import analysis, budgets, plots, records

COLUMNS = [  # (key in the row, header, short header for the terminal, format)
    ("accuracy", "accuracy", "acc %", "pct"),
    ("macro_f1", "macro-F1", "F1 %", "pct"),
    ("trainable_params", "trainable params", "trained", "count"),
    ("total_params", "total params", "total", "count"),
    ("fit_seconds", "fit s", "fit s", "sec"),
    ("predict_seconds", "predict s", "pred s", "sec"),
    ("peak_rss_mb", "peak MB", "peak MB", "mb"),
]


@dataclass
class Loaded:
    ok: list[dict]
    failed: list[dict]
    damaged: list[Path]


def load(results: Path) -> Loaded:
    newest: dict[str, dict] = {}
    failed, damaged = [], []
    for path, record in records.iter_records(results):
        if record is None:
            damaged.append(path)
        elif record.get("status") == "ok":
            key = record.get("key", str(path))
            stamp = (record.get("provenance") or {}).get("finished_at") or ""
            if key not in newest or stamp >= (newest[key].get("provenance") or {}).get("finished_at", ""):
                newest[key] = record
        else:
            failed.append(record)
    return Loaded(list(newest.values()), failed, damaged)


def flat(record: dict) -> dict:
    cell, metrics, cost, data = record["cell"], record.get("metrics") or {}, record.get("cost") or {}, record.get("data") or {}
    info = (record.get("provenance") or {}).get("strategy") or {}
    low, high = metrics.get("accuracy_ci95") or (math.nan, math.nan)
    return {"task": cell["task"], "strategy": cell["strategy"], "model": cell.get("model") or "-",
            "budget": budgets.name(cell.get("budget")), "family": info.get("family", "other"),
            "uses_labels": info.get("uses_labels", True), "test_se": (high - low) / (2 * 1.96),
            "seed": cell["seed"], "accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
            "trainable_params": cost.get("trainable_params"), "total_params": cost.get("total_params"),
            "fit_seconds": cost.get("fit_seconds"), "predict_seconds": cost.get("predict_seconds"),
            "peak_rss_mb": cost.get("peak_rss_mb"), "n_train": data.get("n_train"), "n_test": data.get("n_test"),
            "device": (record.get("config") or {}).get("device")}


def aggregate(ok: list[dict], tasks: list[str] | None = None):
    """One row per (task, strategy, model, budget): mean and std over seeds, best first."""
    import pandas as pd

    frame = pd.DataFrame([flat(r) for r in ok])
    if frame.empty:
        return frame
    if tasks:
        frame = frame[frame.task.isin(tasks)]
    metrics = [c[0] for c in COLUMNS] + ["n_train", "n_test", "test_se"]
    grouped = frame.groupby(["task", "strategy", "model", "budget", "family", "uses_labels"], sort=False)
    mean = grouped[metrics].mean()
    std = grouped[["accuracy", "macro_f1", "fit_seconds", "predict_seconds", "peak_rss_mb"]].std(ddof=1)
    table = mean.join(std.add_suffix("_std")).join(grouped.seed.nunique().rename("seeds")).reset_index()
    table["baseline"] = table.strategy == "majority"
    table["within_noise"] = False
    for task in table.task.unique():  # mark rows that the best row does not beat beyond noise
        main = table[(table.task == task) & (table.budget == "all")]
        if main.empty:
            continue
        best = main.loc[main.accuracy.idxmax()]
        for i, row in main.iterrows():
            table.loc[i, "within_noise"] = i != best.name and not analysis.beyond_noise(best, row)
    return table.sort_values(["task", "accuracy"], ascending=[True, False]).reset_index(drop=True)


def _fmt(value, kind: str, std=None) -> str:
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


def main_rows(table, task: str):
    """The rows of the main table: every strategy with all its labels (budget "all")."""
    rows = table[(table.task == task) & (table.budget == "all")]
    return rows if not rows.empty else table[table.task == task]


def rows_for(table, task: str) -> list[list[str]]:
    out = []
    for _, row in main_rows(table, task).iterrows():
        cells = [row.strategy + (" (baseline)" if row.baseline else ""), row.model, str(int(row.seeds))]
        for key, _, _, kind in COLUMNS:
            text = _fmt(row[key], kind, row.get(f"{key}_std") if int(row.seeds) > 1 else None)
            cells.append(text + (" ≈" if key == "accuracy" and row.within_noise else ""))
        out.append(cells)
    return out


def curve_rows(table, task: str) -> tuple[list[str], list[list[str]]]:
    """Accuracy by label budget: one row per strategy and model, one column per budget."""
    rows = table[table.task == task]
    names = sorted(rows.budget.unique(), key=budgets.order)
    out = []
    for (strategy, model), group in rows.groupby(["strategy", "model"], sort=False):
        by_budget = {r.budget: r for _, r in group.iterrows()}
        label_free = not group.uses_labels.iloc[0]
        cells = [strategy, model]
        for b in names:
            r = by_budget.get(b) if not label_free else group.iloc[0]
            cells.append(_fmt(r.accuracy, "pct", r.accuracy_std if int(r.seeds) > 1 else None) if r is not None else "-")
        out.append(cells)
    return ["strategy", "model"] + [f"{b} / class" if b != "all" else "all" for b in names], out


def headers(short: bool = False) -> list[str]:
    return ["strategy", "model", "seeds"] + [c[2] if short else c[1] for c in COLUMNS]


def md_escape(text: str) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _seed_free(table) -> list[str]:
    """Strategies in the table that run once, not per seed, on the whole training split (see bench.grid)."""
    from bench.grid import seeded
    from bench.registry import STRATEGIES

    known = set(STRATEGIES.names())
    return [] if table.empty else sorted(s for s in table.strategy.unique() if s in known and not seeded(s))


def markdown(loaded: Loaded, results: Path) -> str:
    table = aggregate(loaded.ok)
    seed_free = _seed_free(table)
    once = (f"; {', '.join(seed_free)} run once on the whole training split, where the seed changes nothing"
            if seed_free else "")
    lines = ["# Leaderboard", "",
             f"Generated by `bench report` from {len(loaded.ok)} run records in `{results.name}/records` "
             f"on {time.strftime('%Y-%m-%d')}; do not edit by hand. Numbers are mean ± std over seeds "
             f"(a single seed shows no ±{once}). Accuracy and macro-F1 in %, on each task's fixed test split; "
             "peak MB is the cell process's peak resident memory.", ""]
    if table.empty:
        return "\n".join(lines + ["No records yet: run `bench run`."]) + "\n"
    lines += _machine_lines(loaded.ok)
    for task in sorted(table.task.unique()):
        first = next(r for r in loaded.ok if r["cell"]["task"] == task)
        data = first.get("data") or {}
        card = (first.get("config") or {}).get("task") or {}
        lines += ["", f"## {md_escape(task)}", "",
                  f"{md_escape(card.get('description', ''))}. Train {data.get('n_train_pool', data.get('n_train'))}, "
                  f"test {data.get('n_test')}; "
                  f"data: {md_escape(data.get('source', ''))}; fingerprint `{str(data.get('fingerprint', ''))[:12]}`.", ""]
        if not any(r["strategy"] == "majority" for _, r in table[table.task == task].iterrows()):
            lines += ["(no majority baseline recorded for this task: run `bench run --strategies majority`)", ""]
        lines.append("| " + " | ".join(headers()) + " |")
        lines.append("|" + "---|" * 3 + "---:|" * len(COLUMNS))
        for cells in rows_for(table, task):
            lines.append("| " + " | ".join(md_escape(c) for c in cells) + " |")
        if main_rows(table, task).within_noise.any():
            lines += ["", "≈: not better than the best row beyond noise (seed spread and test-set bootstrap)."]
        task_rows = table[table.task == task]
        if task_rows.budget.nunique() > 1:
            head, body = curve_rows(table, task)
            lines += ["", "Accuracy (%) by label budget (labelled examples per class; strategies that use no "
                      "labels show the same value everywhere):", ""]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|---|---|" + "---:|" * (len(head) - 2))
            lines += ["| " + " | ".join(md_escape(c) for c in cells) + " |" for cells in body]
        cross = analysis.crossover(task_rows.to_dict("records"), task)
        if cross is not None:
            lines += ["", f"**Crossover.** {md_escape(cross.sentence())}"]
        for kind, caption in plots.CAPTIONS.items():
            if (results / "plots" / plots.file_name(task, kind)).exists():
                lines += ["", f"![{caption}](plots/{plots.file_name(task, kind)})"]
    if loaded.failed:
        lines += ["", f"{len(loaded.failed)} failed run(s) are recorded and left out of the tables; "
                  "`bench report` lists them."]
    return "\n".join(lines) + "\n"


def _machine_lines(ok: list[dict]) -> list[str]:
    machines = {((r.get("provenance") or {}).get("machine") or {}).get("cpu", "?") for r in ok}
    devices = {(r.get("config") or {}).get("device", "?") for r in ok}
    commits = {str(((r.get("provenance") or {}).get("git") or {}).get("commit") or "unknown")[:10] for r in ok}
    pkgs = (ok[0].get("provenance") or {}).get("packages", {})
    versions = ", ".join(f"{k} {v}" for k, v in pkgs.items())
    return [f"Machine: {md_escape(', '.join(sorted(machines)))}; device: {', '.join(sorted(devices))}; "
            f"bench commit(s): {', '.join(sorted(commits))}.", "", f"Versions: {md_escape(versions)}."]


def write(results: Path) -> tuple[Path, Path, Loaded]:
    """Write LEADERBOARD.md and leaderboard.csv into `results`, atomically."""
    loaded = load(results)
    md_path, csv_path = results / "LEADERBOARD.md", results / "leaderboard.csv"
    table = aggregate(loaded.ok)
    if not table.empty:
        plots.write_all(table, loaded.ok, results / "plots")
    _write_text(md_path, markdown(loaded, results))
    _write_text(csv_path, table.to_csv(index=False) if not table.empty else "")
    return md_path, csv_path, loaded


def _write_text(path: Path, text: str) -> None:
    records.replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def rich_tables(ok: list[dict], tasks: list[str] | None = None):
    """rich Table objects, one per task, for the terminal."""
    from rich.table import Table

    table = aggregate(ok, tasks)
    out = []
    if table.empty:
        return out
    for task in sorted(table.task.unique()):
        t = Table(title=f"{task}", title_justify="left", pad_edge=False, padding=(0, 1))
        for i, h in enumerate(headers(short=True)):
            t.add_column(h, justify="left" if i < 2 else "right")
        for cells in rows_for(table, task):
            t.add_row(*cells, style="dim" if cells[0].endswith("(baseline)") else None)
        out.append(t)
        if table[table.task == task].budget.nunique() > 1:
            head, body = curve_rows(table, task)
            curve = Table(title=f"{task}: accuracy % by labels per class", title_justify="left")
            for i, h in enumerate(head):
                curve.add_column(h, justify="left" if i < 2 else "right")
            for cells in body:
                curve.add_row(*cells)
            out.append(curve)
        cross = analysis.crossover(table[table.task == task].to_dict("records"), task)
        if cross is not None:
            out.append(cross.sentence())
    return out
