"""The tuning table: every configuration the tuner tried, scored on training labels only.

Over every tuned record of a results folder (the published study's tuned
cells, or a `--select-only` study of defaults), per strategy and model: each
configuration's mean validation accuracy over the cells that tried it, how
many cells tried it and chose it, and its mean seconds per trial. Trials
under different versions of the protocol (bench.run.tuning) are scored by
different rules, and trials of a recipe set by hand (`--set
attention_dropout=None`, another task card, another numeric format) train
something else, so each is a row of its own: a defaults study sets one recipe
beside another over the same cells and folds. A record that reused another's
trials (`trials_from`: a newer protocol's refit, or a tuned cell after its
`--select-only` choice) adds none: they count once, under the version they ran
under. Test accuracy is never read here: this is the table from which defaults
are chosen (TUNING.md).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from bench.run.records import Record


@dataclass(frozen=True)
class Row:
    strategy: str
    model: str
    protocol: int  # the version of the tuning protocol its trials ran under
    options: dict
    recipe: str  # what the cells set by hand, beside the searched options ("" for the strategy's defaults)
    score: float  # mean validation accuracy over the cells that tried it
    cells: int
    chosen: int  # cells whose tuner chose it
    seconds: float  # mean seconds per trial (all folds)
    default: bool  # the strategy's current default


def table(records: list[Record]) -> list[Row]:
    from bench.registry import STRATEGIES
    from bench.report.table import changed_card, changed_options, changed_precision

    tried: dict[tuple, list] = {}
    for record in records:
        if record.tuning is None or record.tuning.trials_from:  # lent trials count once, where they ran
            continue
        by_hand = changed_options(record.cell.strategy, record.config.strategy)
        recipe = ", ".join(filter(None, (changed_card(record.cell.task, record.config.task), by_hand,
                                         changed_precision(record.config.precision))))
        for trial in record.tuning.trials:
            key = (record.cell.strategy, record.cell.model or "-", record.tuning.version,
                   json.dumps(trial.options, sort_keys=True), recipe, not by_hand)
            tried.setdefault(key, []).append((trial.score, trial.seconds, trial.options == record.tuning.chosen))
    rows = []
    for (strategy, model, protocol, options, recipe, own_options), runs in tried.items():
        options = json.loads(options)
        try:
            config = STRATEGIES.get(strategy).Config()
            default = own_options and all(getattr(config, k) == (tuple(v) if isinstance(v, list) else v)
                                          for k, v in options.items())
        except Exception:  # a strategy no longer registered: its rows still count, as not the default
            default = False
        rows.append(Row(strategy, model, protocol, options, recipe,
                        round(statistics.mean(s for s, _, _ in runs), 4), len(runs), sum(c for _, _, c in runs),
                        round(statistics.mean(t for _, t, _ in runs), 1), default))
    return sorted(rows, key=lambda r: (r.strategy, r.model, -r.protocol, r.recipe, -r.score))


def markdown(rows: list[Row]) -> str:
    lines = ["| strategy | model | protocol | set by hand | options | validation accuracy % | cells | chosen "
             "| s per trial | |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        options = ", ".join(f"{k}={v}" for k, v in sorted(r.options.items()))
        lines.append(f"| {r.strategy} | {r.model} | {r.protocol} | {r.recipe or '-'} | {options} | "
                     f"{100 * r.score:.1f} | {r.cells} | {r.chosen} | {r.seconds:.1f} | "
                     f"{'default' if r.default else ''} |")
    return "\n".join(lines) + "\n"
