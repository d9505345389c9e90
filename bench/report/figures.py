"""The page's interactive plots, as plotly figures: label budget, accuracy against cost, training curves.

The same views as the PNG plots (bench.report.plots), in the same colours
(bench.report.palette), drawn by plotly.js in the browser: names are in the
legend and in the hover text, a click on a legend entry hides a strategy, and a
click on a point opens that run's details (its run ids ride along as
`customdata`). Every name that came from a record is HTML-escaped, because
plotly reads a few tags in labels. Figures leave here as plain JSON (no
plotly template), to be embedded once in the page.
"""

from __future__ import annotations

import html
import json

from bench.data import sampling
from bench.report.analysis import pareto_front
from bench.report.palette import VARIANT, Palette, label, variant
from bench.report.table import row_key

LAYOUT = {"template": "none", "font": {"family": "system-ui, sans-serif", "size": 12}, "hovermode": "closest",
          "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "paper_bgcolor": "white", "plot_bgcolor": "white",
          "legend": {"font": {"size": 11}, "orientation": "h", "yanchor": "top", "y": -0.18, "x": 0}}
AXIS = {"gridcolor": "#e6e6e6", "zeroline": False, "linecolor": "#999", "showline": True}


def _name(key: tuple) -> str:
    """A (strategy, model, options, tuned) as the legend and hover text name it, HTML-escaped."""
    return html.escape(label(*key))


def _as_json(fig) -> dict:
    return json.loads(fig.to_json())


def budget_figure(rows, runs: dict, colours: Palette) -> dict:
    """Accuracy against labels per class: a line per table row's variant (dashed: uses no labels).
    `runs`: a table row's key (bench.report.table.row_key) -> the ids of its runs."""
    import plotly.graph_objects as go

    names = sorted(rows.budget.unique(), key=sampling.order)
    ticks = [b if b == sampling.ALL else f"{b} / class" for b in names]
    fig = go.Figure()
    groups = sorted(rows.groupby(VARIANT, sort=False), key=lambda item: colours.order(*item[0]))
    for key, group in groups:
        strategy = key[0]
        group = group.sort_values("budget", key=lambda s: s.map(sampling.order))
        free = not group.uses_labels.iloc[0]
        keys = [runs.get(row_key(row), [""])[0] for _, row in group.iterrows()]
        if free:  # the same at every budget
            group, keys = group.iloc[[0] * len(names)].assign(budget=names), keys[:1] * len(names)
        std = group.accuracy_std.fillna(0).to_numpy()
        fig.add_trace(go.Scatter(
            x=[ticks[names.index(b)] for b in group.budget], y=(100 * group.accuracy).round(2).tolist(),
            error_y={"type": "data", "array": (100 * std).round(2).tolist(), "visible": not free, "thickness": 1},
            mode="lines+markers", name=_name(key),
            line={"color": colours.colour(strategy), "dash": "dash" if free else "solid", "width": 2},
            marker={"symbol": colours.marker(*key, plotly=True), "size": 8,
                    "color": "white" if free else colours.colour(strategy),
                    "line": {"color": colours.colour(strategy), "width": 1.5}},
            customdata=[[k, int(s)] for k, s in zip(keys, group.seeds)],
            hovertemplate=("<b>%{fullData.name}</b><br>%{x}: %{y:.1f} %" + ("" if free else " ± %{error_y.array:.1f}")
                           + "<br>seeds: %{customdata[1]}" + ("<br>uses no labels" if free else "")
                           + "<br><i>click for the run</i><extra></extra>")))
    fig.update_layout(**LAYOUT, xaxis={**AXIS, "title": "labelled examples per class", "type": "category",
                                       "categoryorder": "array", "categoryarray": ticks},
                      yaxis={**AXIS, "title": "test accuracy (%)"}, height=_height(len(groups)))
    return _as_json(fig)


def cost_figure(rows, runs: dict, colours: Palette) -> dict:
    """Accuracy against fit + predict seconds and against peak memory, all labels; the Pareto front as a step line."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = rows.iloc[sorted(range(len(rows)), key=lambda i: colours.order(*variant(rows.iloc[i])))]
    seconds = (rows.fit_seconds.fillna(0) + rows.predict_seconds.fillna(0)).clip(lower=1e-3).round(3).tolist()
    memory = rows.peak_rss_mb.fillna(0).clip(lower=1).round(1).tolist()
    accuracy = (100 * rows.accuracy).round(2).tolist()
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("fit + predict seconds (log)", "peak resident MB (log)"))
    for col, cost in ((1, seconds), (2, memory)):
        front = set(pareto_front(list(zip(cost, accuracy))))
        for i, (_, row) in enumerate(rows.iterrows()):
            name = _name(variant(row))
            fig.add_trace(go.Scatter(
                x=[cost[i]], y=[accuracy[i]], mode="markers", name=name, legendgroup=name, showlegend=col == 1,
                marker={"symbol": colours.marker(*variant(row), plotly=True), "size": 12 if i in front else 10,
                        "color": colours.colour(row.strategy),
                        "line": {"color": "black" if i in front else "white", "width": 2 if i in front else 1}},
                customdata=[[runs.get(row_key(row), [""])[0], seconds[i], memory[i],
                             _round(row.fit_seconds), _round(row.predict_seconds), "yes" if i in front else "no"]],
                hovertemplate=("<b>%{fullData.name}</b><br>accuracy %{y:.1f} %<br>fit %{customdata[3]} s + predict "
                               "%{customdata[4]} s<br>peak %{customdata[2]:,.0f} MB<br>on the Pareto front: "
                               "%{customdata[5]}<br><i>click for the run</i><extra></extra>")), row=1, col=col)
        points = sorted((cost[i], accuracy[i]) for i in front)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines",
                                 line={"shape": "hv", "color": "black", "dash": "dash", "width": 1},
                                 name="Pareto front (ringed)", legendgroup="front", showlegend=col == 1,
                                 hoverinfo="skip"), row=1, col=col)
    fig.update_layout(**LAYOUT, height=_height(len(rows) + 1))
    fig.update_xaxes(type="log", **AXIS)
    fig.update_yaxes(**AXIS)
    fig.update_yaxes(title_text="test accuracy (%)", row=1, col=1)
    return _as_json(fig)


def curves_figure(curves) -> dict:
    """One run's training curves: train and validation loss (left axis), accuracies (right axis), by epoch."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    epochs = [row.epoch for row in curves]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=("loss", "accuracy (%)"))
    for key, name, dash, colour, col in (("train_loss", "train loss", "solid", "#1f3b73", 1),
                                         ("val_loss", "validation loss", "dash", "#e76f51", 1),
                                         ("train_accuracy", "train accuracy", "solid", "#1f3b73", 2),
                                         ("val_accuracy", "validation accuracy", "dash", "#e76f51", 2)):
        scale = 100 if col == 2 else 1
        values = [getattr(row, key) for row in curves]  # validation values are None without a validation split
        if all(v is None for v in values):
            continue
        fig.add_trace(go.Scatter(x=epochs, y=[None if v is None else round(scale * v, 4) for v in values],
                                 mode="lines+markers", name=name, line={"dash": dash, "color": colour},
                                 hovertemplate=f"{name}, epoch %{{x}}: %{{y:.3f}}<extra></extra>"), row=1, col=col)
    fig.update_layout({**LAYOUT, "height": 300, "legend": {"orientation": "h", "y": -0.3}})
    fig.update_xaxes(title_text="epoch", dtick=1 if len(epochs) <= 12 else None, **AXIS)
    fig.update_yaxes(**AXIS)
    return _as_json(fig)


def _height(entries: int) -> int:
    """Room for the plot and its legend below it (about three entries a line)."""
    return 400 + 22 * -(-entries // 3)


def _round(value) -> float | None:
    return None if value is None or value != value else round(float(value), 2)
