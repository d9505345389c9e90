"""The scenario tables (bench.scenarios): domain shift, forgetting and keeping up, from the records.

Each table is a list of rows (dicts, means over seeds) built from the
leaderboard's scenario records, and drawn the same way in LEADERBOARD.md and
the terminal:

- `shift_rows`: per (trained on, tested on, strategy, budget): the shifted
  accuracy beside the in-domain accuracy of the same strategy, options and
  budget on the test task (its leaderboard row), and the drop in points;
- `forgetting_rows`: per (strategy, trained on, budget, probe task): knn and
  linear-probe accuracy on the original and on the tuned encoder, and the
  points lost;
- `update_rows`: per (task, strategy, budget, share fitted first): accuracy
  before the new examples, then the seconds and accuracy of each way of
  absorbing them.

bench.report.plots draws the update table: accuracy after against seconds.
"""

from __future__ import annotations

from statistics import mean

from bench.data import sampling
from bench.report.table import Leaderboard, flat, row_key
from bench.run.records import Record

SHIFT_HEADERS = ["trained on", "tested on", "strategy", "budget", "seeds", "in-domain %", "shifted %", "drop (points)"]
FORGETTING_HEADERS = ["strategy", "trained on", "budget", "probe task", "seeds", "knn before %", "knn after %",
                      "knn lost", "linear before %", "linear after %", "linear lost", "zero-shot before %",
                      "zero-shot after %"]
UPDATE_HEADERS = ["task", "strategy", "budget", "first fit", "new", "seeds", "before %", "retrain s", "retrain %",
                  "incremental s", "incremental %"]


STRATEGY = "_strategy"  # each row's registered strategy name, beside its display name (not a column)


def numeric(header: str) -> bool:
    """Whether a scenario table's column holds numbers (right-aligned, sorted as numbers)."""
    return header.endswith(("%", " s", "lost", "(points)", "seeds", "new"))


def _name(record: Record) -> str:
    row = flat(record)
    options = f" [{row['options']}]" if row["options"] else ""
    model = f" ({record.cell.model})" if record.cell.model else ""
    return f"{record.cell.strategy}{options}{' tuned' if row['tuned'] else ''}{model}"


def _groups(records: list[Record], key) -> dict[tuple, list[Record]]:
    groups: dict[tuple, list[Record]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _points(before: float | None, after: float | None) -> str:
    return "-" if before is None or after is None else f"{100 * (before - after):+.1f}"


def shift_rows(board: Leaderboard) -> list[dict]:
    shifted = [r for r in board.scenarios if r.shift is not None]
    in_domain: dict[tuple, list[float]] = {}  # a leaderboard row's key (its test task's) -> accuracy per seed
    for record in board.ok:
        in_domain.setdefault(row_key(flat(record)), []).append(record.metrics.accuracy)
    rows = []
    key = lambda r: (r.shift.train_task, r.cell.task, _name(r), sampling.name(r.cell.budget))  # noqa: E731
    for (source, target, name, budget), group in sorted(_groups(shifted, key).items(),
                                                        key=lambda item: (item[0][:3], sampling.order(item[0][3]))):
        home = in_domain.get(row_key(flat(group[0])))  # the shifted cell's task is the one it was tested on
        after = mean(r.metrics.accuracy for r in group)
        before = mean(home) if home else None
        rows.append({STRATEGY: group[0].cell.strategy, "trained on": source, "tested on": target, "strategy": name,
                     "budget": budget, "seeds": len(group), "in-domain %": _pct(before), "shifted %": _pct(after),
                     "drop (points)": _points(before, after)})
    return rows


def forgetting_rows(board: Leaderboard) -> list[dict]:
    probed = [(r, p) for r in board.scenarios for p in r.forgetting]
    groups: dict[tuple, list] = {}
    for record, result in probed:
        groups.setdefault((_name(record), record.cell.task, sampling.name(record.cell.budget), result.task),
                          []).append((record, result))
    rows = []
    for (name, task, budget, probe), pairs in sorted(groups.items()):
        results = [result for _, result in pairs]
        m = {k: mean(getattr(p, k) for p in results) for k in ("knn_before", "knn_after", "linear_before",
                                                               "linear_after")}
        for k in ("zero_shot_before", "zero_shot_after"):
            values = [getattr(p, k) for p in results if getattr(p, k) is not None]
            m[k] = mean(values) if values else None
        rows.append({STRATEGY: pairs[0][0].cell.strategy, "strategy": name, "trained on": task, "budget": budget,
                     "probe task": probe, "seeds": len(results),
                     "knn before %": _pct(m["knn_before"]), "knn after %": _pct(m["knn_after"]),
                     "knn lost": _points(m["knn_before"], m["knn_after"]),
                     "linear before %": _pct(m["linear_before"]), "linear after %": _pct(m["linear_after"]),
                     "linear lost": _points(m["linear_before"], m["linear_after"]),
                     "zero-shot before %": _pct(m["zero_shot_before"]),
                     "zero-shot after %": _pct(m["zero_shot_after"])})
    return rows


def update_means(group: list[Record]) -> dict:
    """Mean seconds and accuracy per update mode over a group's seeds, and the accuracy before."""
    modes: dict[str, list] = {}
    for record in group:
        for step in record.update.steps:
            modes.setdefault(step.mode, []).append(step)
    return {"before": mean(r.update.accuracy_before for r in group),
            **{mode: (mean(s.seconds for s in steps), mean(s.accuracy for s in steps))
               for mode, steps in modes.items()}}


def update_groups(board: Leaderboard) -> dict[tuple, list[Record]]:
    updated = [r for r in board.scenarios if r.update is not None]
    key = lambda r: (r.cell.task, _name(r), sampling.name(r.cell.budget), r.update.fraction)  # noqa: E731
    return dict(sorted(_groups(updated, key).items(),
                       key=lambda item: (item[0][0], item[0][1], sampling.order(item[0][2]), item[0][3])))


def update_tasks(board: Leaderboard) -> list[str]:
    """The tasks with update cells (each gets an update plot)."""
    return sorted({r.cell.task for r in board.scenarios if r.update is not None})


def update_rows(board: Leaderboard) -> list[dict]:
    rows = []
    for (task, name, budget, fraction), group in update_groups(board).items():
        m = update_means(group)
        retrain, incremental = m.get("retrain"), m.get("incremental")
        rows.append({STRATEGY: group[0].cell.strategy, "task": task, "strategy": name, "budget": budget,
                     "first fit": f"{round(100 * fraction)} % ({group[0].update.n_initial})",
                     "new": group[0].update.n_new, "seeds": len(group), "before %": _pct(m["before"]),
                     "retrain s": f"{retrain[0]:.1f}" if retrain else "-",
                     "retrain %": _pct(retrain[1]) if retrain else "-",
                     "incremental s": f"{incremental[0]:.2f}" if incremental else "-",
                     "incremental %": _pct(incremental[1]) if incremental else "-"})
    return rows


TABLES = {  # section title, what it says, headers, rows
    "shift": ("Domain shift", "Fitted on one task's training split, tested on another task's test split with the "
              "same labels (`bench run --tasks T --train-on S`); in-domain is the same strategy, options and budget "
              "fitted and tested on the test task (its leaderboard row). Drop = in-domain - shifted.",
              SHIFT_HEADERS, shift_rows),
    "forgetting": ("Forgetting", "Each fine-tuned encoder probed on other tasks (`--probe`): k nearest neighbours "
                   "(k=4) and a logistic-regression head on its frozen, mean-pooled features, before (the original "
                   "encoder) and after the fine-tune. Lost = before - after, in points; zero-shot: a fine-tuned "
                   "language model prompted on the probe task, before and after. Frozen encoders (knn, rag, "
                   "head-only) lose nothing by construction.", FORGETTING_HEADERS, forgetting_rows),
    "update": ("Keeping up", "Fitted on part of the training sample first, then given the rest as new labelled "
               "data (`--update SHARE`): retrain = a fresh fit on old + new; incremental = the strategy's own update "
               "(knn and rag add the new examples to their index; lora, full, partial and head-only train on from "
               "where they are, on the new examples only). Seconds are the update's alone.",
               UPDATE_HEADERS, update_rows),
}


def sections(board: Leaderboard) -> list[tuple[str, str, list[str], list[dict]]]:
    """(title, explanation, headers, rows) of each scenario table that has records."""
    out = []
    for title, text, headers, rows_of in TABLES.values():
        rows = rows_of(board)
        if rows:
            out.append((title, text, headers, rows))
    return out
