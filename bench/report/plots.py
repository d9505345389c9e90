"""Plots drawn from aggregated records (matplotlib, no display needed).

Per task: accuracy against the label budget (a line per strategy and model),
accuracy against cost (fit + predict seconds, and peak memory) with the Pareto
front marked, and the per-epoch training and validation curves of the trained
strategies at the largest label budget. Files go to the results folder's plots/
and LEADERBOARD.md links them.
"""

from __future__ import annotations

from pathlib import Path

from bench.data import sampling
from bench.files import replace_atomically
from bench.report.analysis import pareto_front
from bench.report.table import Leaderboard, main_rows
from bench.run.records import Record
from bench.run.store import slug

CAPTIONS = {"budget": "accuracy vs labels per class", "cost": "accuracy vs cost, Pareto front marked",
            "curves": "training and validation curves"}


def file_name(task: str, kind: str) -> str:
    return f"{slug(task)}-{kind}.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_all(board: Leaderboard, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for task in board.tasks():
        rows = board.table[board.table.task == task]
        if rows.budget.nunique() > 1:
            written.append(budget_plot(rows, task, folder / file_name(task, "budget")))
        written.append(cost_plot(rows, task, folder / file_name(task, "cost")))
        trained = [r for r in board.ok if r.cell.task == task and r.training and r.training.curves]
        if trained:
            written.append(curves_plot(largest_budget(trained), task, folder / file_name(task, "curves")))
    return written


def largest_budget(records: list[Record]) -> list[Record]:
    """The records of the largest label budget among them (the whole training split beats any number)."""
    top = max(sampling.size(r.cell.budget) for r in records)
    return [r for r in records if sampling.size(r.cell.budget) == top]


def _label(row) -> str:
    return (row["strategy"] + (f" [{row['options']}]" if row.get("options") else "") + (" tuned" if row.get("tuned") else "")
            + ("" if row["model"] == "-" else f" ({row['model']})"))


def budget_plot(rows, task: str, path: Path) -> Path:
    plt = _pyplot()
    names = sorted(rows.budget.unique(), key=sampling.order)
    x = {b: i for i, b in enumerate(names)}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (strategy, model, options, tuned), group in rows.groupby(["strategy", "model", "options", "tuned"], sort=False):
        group = group.sort_values("budget", key=lambda s: s.map(sampling.order))
        label = _label({"strategy": strategy, "model": model, "options": options, "tuned": tuned})
        if not group.uses_labels.iloc[0]:  # label-free: the same at every budget
            ax.axhline(100 * group.accuracy.iloc[0], linestyle="--", linewidth=1, label=label, color="grey")
            continue
        xs = [x[b] for b in group.budget]
        ys = 100 * group.accuracy.to_numpy()
        err = 100 * group.accuracy_std.fillna(0).to_numpy()
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{task}: accuracy vs labels (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def cost_plot(rows, task: str, path: Path) -> Path:
    plt = _pyplot()
    rows = main_rows(rows, task)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    seconds = (rows.fit_seconds.fillna(0) + rows.predict_seconds.fillna(0)).clip(lower=1e-3).to_numpy()
    for ax, cost, xlabel in ((axes[0], seconds, "fit + predict seconds (log)"),
                             (axes[1], rows.peak_rss_mb.fillna(0).clip(lower=1).to_numpy(), "peak resident MB (log)")):
        acc = 100 * rows.accuracy.to_numpy()
        front = pareto_front(list(zip(cost, acc)))
        ax.scatter(cost, acc, color="tab:blue")
        for c, a, (_, row) in zip(cost, acc, rows.iterrows()):
            ax.annotate(_label(row), (c, a), fontsize=7, xytext=(4, 3), textcoords="offset points")
        pts = sorted((cost[i], acc[i]) for i in front)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="tab:red", linewidth=1,
                label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{task}: accuracy vs cost (all labels)")
    return _save(fig, path)


def curves_plot(records: list[Record], task: str, path: Path) -> Path:
    """One row per trained strategy and model: loss (train solid, validation dashed) and validation accuracy."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    groups: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: (r.cell.strategy, str(r.cell.model), r.cell.seed)):
        groups.setdefault(f"{record.cell.strategy} ({record.cell.model})", []).append(record)
    fig, axes = plt.subplots(len(groups), 2, figsize=(10, 2.6 * len(groups) + 0.6), squeeze=False)
    for (name, runs), (loss_ax, acc_ax) in zip(groups.items(), axes):
        for record in runs:
            history, seed = record.training.curves, record.cell.seed
            color = f"C{seed % 10}"
            epochs = [h.epoch for h in history]
            loss_ax.plot(epochs, [h.train_loss for h in history], "-", color=color, marker=".")
            nan = float("nan")
            loss_ax.plot(epochs, [nan if h.val_loss is None else h.val_loss for h in history], "--", color=color,
                         marker=".")
            acc_ax.plot(epochs, [nan if h.val_accuracy is None else 100 * h.val_accuracy for h in history],
                        color=color, marker=".", label=f"seed {seed}")
        loss_ax.set(ylabel="loss", title=f"{name}: train (solid), validation (dashed) loss")
        acc_ax.set(ylabel="validation accuracy (%)", title=f"{name}: validation accuracy")
        acc_ax.legend(fontsize=7)
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
            ax.title.set_fontsize(9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    budget = records[0].cell.budget
    fig.suptitle(f"{task}: training curves ({'all labels' if budget is None else f'{budget} labels per class'})")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        _pyplot().close(fig)
    return path
