"""One colour per strategy, by family, shared by the PNG plots and the HTML page.

A strategy's colour says its family at a glance: the baseline grey, prompting
blue to violet, retrieval green, training orange to dark red. The built-in
strategies have fixed colours, so a strategy looks the same in every plot and
in every report; a strategy this file does not know takes the next free shade
of its family (by name), and an unknown family a shade of its own. When a
strategy ran in several variants (models, changed options, tuned or not),
they are told apart by the marker, never by the colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIXED = {  # the built-in strategies
    "majority": "#7f7f7f", "tfidf": "#4d4d4d",
    "zero-shot": "#1f3b73", "few-shot": "#3a7dc9", "rag": "#7b5ea7",
    "knn": "#2a9d8f",
    "head-only": "#f4a261", "lora": "#e76f51", "partial": "#d62828", "full": "#7f0000",
}
SPARE = {  # further shades per family, for strategies that are not built in
    "baseline": ["#b0b0b0", "#262626"],
    "prompting": ["#5e9fd8", "#a48cc9", "#16255a"],
    "retrieval": ["#57cc99", "#1b5e20"],
    "training": ["#e9c46a", "#b5651d", "#ff7f7f"],
}
FAMILIES = ["baseline", "prompting", "retrieval", "training"]  # legends list strategies in this order
OTHER = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#c49c94", "#9467bd"]  # families without a hue
MARKERS = ["o", "s", "D", "^", "v", "P"]  # matplotlib names; PLOTLY_MARKERS below are the same shapes
PLOTLY_MARKERS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross"]


@dataclass
class Palette:
    """Colours by strategy, and each strategy's variants (model, options, tuned) in a fixed order (for the markers)."""

    colours: dict[str, str] = field(default_factory=dict)
    variants: dict[str, list[tuple]] = field(default_factory=dict)  # strategy -> its variants, most-run first
    families: dict[str, str] = field(default_factory=dict)

    def order(self, strategy: str, model: str = "-", options: str = "", tuned: bool = False) -> tuple:
        """Sort key for legends and tables: by family (baseline, prompting, retrieval, training), then name."""
        family = self.families.get(strategy, "")
        rank = FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)
        variants = self.variants.get(strategy, [])
        key = (model, options, bool(tuned))
        return rank, family, strategy, variants.index(key) if key in variants else len(variants), model, options, tuned

    def colour(self, strategy: str) -> str:
        return self.colours.get(strategy, OTHER[0])

    def marker(self, strategy: str, model: str = "-", options: str = "", tuned: bool = False,
               plotly: bool = False) -> str:
        """A strategy's first (most-run) variant is a circle, its second a square, and so on."""
        variants = self.variants.get(strategy, [])
        key = (model, options, bool(tuned))
        index = variants.index(key) if key in variants else 0
        return (PLOTLY_MARKERS if plotly else MARKERS)[index % len(MARKERS)]


VARIANT = ["strategy", "model", "options", "tuned"]  # a table row's columns that get a line or point of its own


def variant(row) -> tuple:
    """A table row's (strategy, model, options, tuned), as the palette's methods and `label` take them."""
    return tuple(row[k] for k in VARIANT)


def label(strategy: str, model: str | None = None, options: str = "", tuned: bool = False) -> str:
    """How a plot names a table row: `knn [k=8] tuned (all-MiniLM-L6-v2)`."""
    return (strategy + (f" [{options}]" if options else "") + (" tuned" if tuned else "")
            + ("" if model in (None, "-") else f" ({model})"))


def palette(runs: list[tuple]) -> Palette:
    """The palette for (strategy, family, model, options, tuned) tuples, one per run."""
    families = {run[0]: run[1] for run in runs}
    colours, used = {}, set(FIXED.values())
    for strategy in sorted(families):
        if strategy in FIXED:
            colours[strategy] = FIXED[strategy]
            continue
        pool = SPARE.get(families[strategy], []) + OTHER
        colours[strategy] = next((c for c in pool if c not in used), OTHER[len(colours) % len(OTHER)])
        used.add(colours[strategy])
    counts: dict[str, dict[tuple, int]] = {}
    for strategy, _, model, options, tuned in runs:
        per = counts.setdefault(strategy, {})
        key = (model, options, bool(tuned))
        per[key] = per.get(key, 0) + 1
    variants = {s: sorted(per, key=lambda v: (v[2], -per[v], v)) for s, per in counts.items()}
    return Palette(colours, variants, families)


def for_records(records) -> Palette:
    """The palette of a leaderboard's records (bench.run.records.Record), failed ones included."""
    from bench.report.table import flat

    rows = [flat(r) for r in records]
    return palette([(r["strategy"], r["family"], r["model"], r["options"], r["tuned"]) for r in rows])
