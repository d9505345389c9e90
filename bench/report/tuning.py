"""The tuning table: every configuration the tuner tried, scored on training labels only.

Over every tuned record of a results folder (the published study's tuned
cells, or a `--select-only` study of defaults), per strategy and model: each
configuration's mean validation accuracy over the cells that tried it, how
many cells tried it and chose it, and its mean seconds per trial. Trials
under different versions of the protocol (bench.run.tuning) are scored by
different rules, so they are rows of their own. Test accuracy is never read
here: this is the table from which defaults are chosen (TUNING.md).
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
    score: float  # mean validation accuracy over the cells that tried it
    cells: int
    chosen: int  # cells whose tuner chose it
    seconds: float  # mean seconds per trial (all folds)
    default: bool  # the strategy's current default


def table(records: list[Record]) -> list[Row]:
    from bench.registry import STRATEGIES

    tried: dict[tuple, list] = {}
    for record in records:
        if record.tuning is None:
            continue
        for trial in record.tuning.trials:
            key = (record.cell.strategy, record.cell.model or "-", record.tuning.version,
                   json.dumps(trial.options, sort_keys=True))
            tried.setdefault(key, []).append((trial.score, trial.seconds, trial.options == record.tuning.chosen))
    rows = []
    for (strategy, model, protocol, options), runs in tried.items():
        options = json.loads(options)
        try:
            config = STRATEGIES.get(strategy).Config()
            default = all(getattr(config, k) == (tuple(v) if isinstance(v, list) else v) for k, v in options.items())
        except Exception:  # a strategy no longer registered: its rows still count, as not the default
            default = False
        rows.append(Row(strategy, model, protocol, options, round(statistics.mean(s for s, _, _ in runs), 4),
                        len(runs), sum(c for _, _, c in runs), round(statistics.mean(t for _, t, _ in runs), 1),
                        default))
    return sorted(rows, key=lambda r: (r.strategy, r.model, -r.protocol, -r.score))


def markdown(rows: list[Row]) -> str:
    lines = ["| strategy | model | protocol | options | validation accuracy % | cells | chosen | s per trial | |",
             "|---|---|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        options = ", ".join(f"{k}={v}" for k, v in sorted(r.options.items()))
        lines.append(f"| {r.strategy} | {r.model} | {r.protocol} | {options} | {100 * r.score:.1f} | {r.cells} | "
                     f"{r.chosen} | {r.seconds:.1f} | {'default' if r.default else ''} |")
    return "\n".join(lines) + "\n"
