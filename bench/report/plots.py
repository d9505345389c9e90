"""Plots drawn from aggregated records (matplotlib, no display needed).

Per task: accuracy against the label budget (a line per strategy and model),
accuracy against cost (fit + predict seconds, and peak memory) with the Pareto
front marked, and the per-epoch training and validation curves of the trained
strategies at the largest label budget; and for the update scenario
(bench.scenarios.update), accuracy after absorbing new labels against the
seconds it took. Files go to the results folder's plots/ and LEADERBOARD.md
links them.

Every strategy keeps one colour in every plot (bench.report.palette: the hue
says its family); a strategy run in several variants (models, changed
options, tuned) tells them apart by the marker. Names are in a legend beside the axes, never written
over the points.
"""

from __future__ import annotations

from pathlib import Path

from bench.data import sampling
from bench.files import replace_atomically
from bench.report.analysis import pareto_front
from bench.report.palette import MARKERS, VARIANT, Palette, for_records, label, variant
from bench.report.table import Leaderboard, flat, main_rows
from bench.run.records import Record
from bench.run.store import slug

CAPTIONS = {"budget": "accuracy vs labels per class", "cost": "accuracy vs cost, Pareto front marked",
            "curves": "training and validation curves"}


def legend_label(key: tuple) -> str:
    """label(), with long changed options wrapped onto further lines so the legend stays narrow."""
    import textwrap

    return "\n".join(textwrap.wrap(label(*key), 52, subsequent_indent="    ", break_on_hyphens=False))


def file_name(task: str, kind: str) -> str:
    return f"{slug(task)}-{kind}.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_all(board: Leaderboard, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    colours = for_records(board.ok + board.failed)
    written = []
    for task in board.tasks():
        rows = board.table[board.table.task == task]
        if rows.budget.nunique() > 1:
            written.append(budget_plot(rows, task, folder / file_name(task, "budget"), colours))
        written.append(cost_plot(rows, task, folder / file_name(task, "cost"), colours))
        trained = [r for r in board.ok if r.cell.task == task and r.training and r.training.curves]
        if trained:
            written.append(curves_plot(largest_budget(trained), task, folder / file_name(task, "curves"), colours))
    from bench.report.scenarios import update_tasks

    for task in update_tasks(board):
        written.append(update_plot(board, task, folder / file_name(task, "update")))
    return written


def largest_budget(records: list[Record]) -> list[Record]:
    """The records of the largest label budget among them (the whole training split beats any number)."""
    top = max(sampling.size(r.cell.budget) for r in records)
    return [r for r in records if sampling.size(r.cell.budget) == top]


def budget_plot(rows, task: str, path: Path, colours: Palette | None = None) -> Path:
    plt = _pyplot()
    colours = colours or Palette()
    names = sorted(rows.budget.unique(), key=sampling.order)
    x = {b: i for i, b in enumerate(names)}
    fig, ax = plt.subplots(figsize=(9, 4.5))
    groups = rows.groupby(VARIANT, sort=False)
    handles = []  # in the palette's order (matplotlib would list plain lines before error bars)
    for key, group in sorted(groups, key=lambda item: colours.order(*item[0])):
        group = group.sort_values("budget", key=lambda s: s.map(sampling.order))
        style = dict(color=colours.colour(key[0]), label=legend_label(key), marker=colours.marker(*key))
        if not group.uses_labels.iloc[0]:  # label-free: the same at every budget
            handles += ax.plot(range(len(names)), [100 * group.accuracy.iloc[0]] * len(names), linestyle="--",
                               linewidth=1.5, markerfacecolor="white", markersize=5, **style)
            continue
        xs = [x[b] for b in group.budget]
        ys = 100 * group.accuracy.to_numpy()
        err = 100 * group.accuracy_std.fillna(0).to_numpy()
        handles.append(ax.errorbar(xs, ys, yerr=err, capsize=3, markersize=5, **style))
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{task}: accuracy vs labels (mean ± std over seeds; dashed: uses no labels)")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _save(fig, path)


def cost_plot(rows, task: str, path: Path, colours: Palette | None = None) -> Path:
    plt = _pyplot()
    colours = colours or Palette()
    rows = main_rows(rows, task)
    rows = rows.iloc[sorted(range(len(rows)), key=lambda i: colours.order(*variant(rows.iloc[i])))]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    seconds = (rows.fit_seconds.fillna(0) + rows.predict_seconds.fillna(0)).clip(lower=1e-3).to_numpy()
    memory = rows.peak_rss_mb.fillna(0).clip(lower=1).to_numpy()
    acc = 100 * rows.accuracy.to_numpy()
    for ax, cost, xlabel in ((axes[0], seconds, "fit + predict seconds (log)"),
                             (axes[1], memory, "peak resident MB (log)")):
        front = set(pareto_front(list(zip(cost, acc))))
        for i, (_, row) in enumerate(rows.iterrows()):
            ax.scatter(cost[i], acc[i], s=60 if i in front else 40, color=colours.colour(row.strategy),
                       marker=colours.marker(*variant(row)), edgecolors="black" if i in front else "none",
                       linewidths=1.2, zorder=3, label=legend_label(variant(row)))
        pts = sorted((cost[i], acc[i]) for i in front)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="black", linestyle="--",
                linewidth=1, zorder=2, label="Pareto front (ringed points)")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.92), frameon=False)
    fig.suptitle(f"{task}: accuracy vs cost (all labels)")
    return _save(fig, path)


def curves_plot(records: list[Record], task: str, path: Path, colours: Palette | None = None) -> Path:
    """One row per trained strategy and variant (model, options, tuned): loss (train solid, validation dashed)
    and validation accuracy, in the strategy's colour, one marker per seed."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    colours = colours or Palette()
    groups: dict[tuple, list[Record]] = {}
    for record in sorted(records, key=lambda r: (colours.order(*variant(flat(r))), r.cell.seed)):
        groups.setdefault(variant(flat(record)), []).append(record)
    seeds = sorted({r.cell.seed for r in records})
    nan = float("nan")
    fig, axes = plt.subplots(len(groups), 2, figsize=(10, 3.0 * len(groups) + 0.6), squeeze=False)
    for (key, runs), (loss_ax, acc_ax) in zip(groups.items(), axes):
        colour, name = colours.colour(key[0]), legend_label(key)
        for record in runs:
            history, seed = record.training.curves, record.cell.seed
            marker = MARKERS[seeds.index(seed) % len(MARKERS)]
            epochs = [h.epoch for h in history]
            loss_ax.plot(epochs, [h.train_loss for h in history], "-", color=colour, marker=marker, markersize=4)
            loss_ax.plot(epochs, [nan if h.val_loss is None else h.val_loss for h in history], "--", color=colour,
                         marker=marker, markersize=4)
            acc_ax.plot(epochs, [nan if h.val_accuracy is None else 100 * h.val_accuracy for h in history],
                        color=colour, marker=marker, markersize=4, label=f"seed {seed}")
        loss_ax.set(ylabel="loss", title=f"{name}\ntrain (solid), validation (dashed) loss")
        acc_ax.set(ylabel="validation accuracy (%)", title=f"{name}\nvalidation accuracy")
        acc_ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
            ax.title.set_fontsize(9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    budget = records[0].cell.budget
    fig.suptitle(f"{task}: training curves ({'all labels' if budget is None else f'{budget} labels per class'})")
    return _save(fig, path)


def update_plot(board: Leaderboard, task: str, path: Path) -> Path | None:
    """Accuracy against the update's seconds for one task: a point per strategy and mode, the accuracy before
    the update drawn as the line each point rises from."""
    from bench.report.scenarios import update_groups, update_means

    groups = {k: g for k, g in update_groups(board).items() if k[0] == task}
    if not groups:
        return None
    plt = _pyplot()
    colours = for_records([g[0] for g in groups.values()])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for (_, name, budget, fraction), group in groups.items():
        m = update_means(group)
        colour = colours.colour(group[0].cell.strategy)
        for mode, marker in (("retrain", "o"), ("incremental", "D")):
            if mode in m:
                seconds, accuracy = m[mode]
                ax.plot([max(seconds, 1e-3)] * 2, [100 * m["before"], 100 * accuracy], color=colour, alpha=0.4)
                ax.scatter(max(seconds, 1e-3), 100 * accuracy, color=colour, marker=marker, s=45, zorder=3,
                           label=f"{name}, {'all labels' if budget == sampling.ALL else f'{budget}/class'}: {mode}")
    ax.set_xscale("log")
    ax.set_xlabel("seconds to absorb the new examples (log)")
    ax.set_ylabel("test accuracy after (%)")
    ax.set_title(f"{task}: keeping up (circle: retrain from scratch; diamond: incremental; line from the "
                 "accuracy before)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight"))
    finally:
        _pyplot().close(fig)
    return path
