"""Plots drawn from aggregated records (matplotlib, no display needed).

Per task: accuracy against the label budget (a line per strategy and model),
accuracy against cost (fit + predict seconds, and peak memory) with the Pareto
front marked, and the per-epoch training and validation curves of the trained
strategies. Files go to the results folder's plots/ and LEADERBOARD.md links them.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.records import replace_atomically, slug

CAPTIONS = {"budget": "accuracy vs labels per class", "cost": "accuracy vs cost, Pareto front marked",
            "curves": "training and validation curves"}


def file_name(task: str, kind: str) -> str:
    return f"{slug(task)}-{kind}.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_all(table, records: list[dict], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for task in sorted(table.task.unique()):
        rows = table[table.task == task]
        if rows.budget.nunique() > 1:
            written.append(budget_plot(rows, task, folder / file_name(task, "budget")))
        written.append(cost_plot(rows, task, folder / file_name(task, "cost")))
        curves = [r for r in records if r["cell"]["task"] == task and (r.get("extra") or {}).get("history")]
        if curves:
            written.append(curves_plot(curves, task, folder / file_name(task, "curves")))
    return written


def _label(row) -> str:
    return row["strategy"] + ("" if row["model"] == "-" else f" ({row['model']})")


def budget_plot(rows, task: str, path: Path) -> Path:
    from bench.report import budget_order

    plt = _pyplot()
    budgets = sorted(rows.budget.unique(), key=budget_order)
    x = {b: i for i, b in enumerate(budgets)}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (strategy, model), group in rows.groupby(["strategy", "model"], sort=False):
        group = group.sort_values("budget", key=lambda s: s.map(budget_order))
        label = _label({"strategy": strategy, "model": model})
        if not group.uses_labels.iloc[0]:  # label-free: the same at every budget
            ax.axhline(100 * group.accuracy.iloc[0], linestyle="--", linewidth=1, label=label, color="grey")
            continue
        xs = [x[b] for b in group.budget]
        ys = 100 * group.accuracy.to_numpy()
        err = 100 * group.accuracy_std.fillna(0).to_numpy()
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xticks(range(len(budgets)), [b if b == "all" else f"{b}" for b in budgets])
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{task}: accuracy vs labels (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def cost_plot(rows, task: str, path: Path) -> Path:
    from bench.analysis import pareto_front
    from bench.report import main_rows

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


def curves_plot(records: list[dict], task: str, path: Path) -> Path:
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    for record in records:
        history = record["extra"]["history"]
        cell = record["cell"]
        name = f"{cell['strategy']} ({cell.get('model')}), seed {cell['seed']}"
        if cell.get("budget") is not None:
            name += f", {cell['budget']}/class"
        epochs = [h.get("epoch") for h in history]
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            values = [h.get(key) for h in history]
            if any(v is not None and not math.isnan(v) for v in values):
                loss_ax.plot(epochs, values, style, marker=".", label=f"{name} {key.split('_')[0]}")
        values = [h.get("val_accuracy") for h in history]
        if any(v is not None for v in values):
            acc_ax.plot(epochs, [100 * v if v is not None else math.nan for v in values], marker=".", label=name)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="train (solid) and validation (dashed) loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle(f"{task}: training curves")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        _pyplot().close(fig)
    return path
