"""One run in detail: what the page's details view and `bench show` print about a record.

From the record alone: its metrics, costs, configuration, provenance, training
curves, calibration error and tuning trials. With the task's test split
(bench.report.gold): the confusion matrix (rows gold, columns predicted), the
texts it got wrong, and for a calibrated prompting run the accuracy it would
have had without calibration. Without the split, `note` says why those are
missing.

Tuning trials are read from `extra["trials"]` or `extra["tuning"]["trials"]`
(a list of objects, one per trial: its options and its score), whichever a
strategy reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.report.gold import Gold, Unavailable
from bench.run.records import Record


@dataclass(frozen=True)
class Wrong:
    index: int  # position in the test split
    gold: int  # label ids (RunDetail.labels names them)
    predicted: int
    text: str


@dataclass
class RunDetail:
    record: Record
    id: str
    labels: tuple[str, ...] = ()
    confusion: list[list[int]] | None = None  # [gold][predicted]
    wrong: list[Wrong] = field(default_factory=list)
    calibration: list[tuple[str, str]] = field(default_factory=list)  # (what, value) rows
    trials: list[dict] = field(default_factory=list)
    note: str | None = None  # why the confusion matrix and wrong texts are missing

    def label(self, label: int) -> str:
        return self.labels[label] if 0 <= label < len(self.labels) else f"label {label} (out of range)"


def run_id(record: Record) -> str:
    """A short, stable name for a run: its key's first 12 characters (failed attempts: plus when they ended)."""
    if record.ok:
        return record.key[:12]
    return f"{record.key[:12]}-failed-{re.sub(r'[^0-9]', '', record.provenance.finished_at or '')[:14] or 'x'}"


def detail(record: Record, gold: Gold | Unavailable | None) -> RunDetail:
    out = RunDetail(record, run_id(record), trials=trials(record))
    predictions = record.predictions
    if isinstance(gold, Unavailable):
        out.note = f"the test texts could not be loaded: {gold.reason}"
    elif not record.ok or predictions is None:
        out.note = "the run kept no predictions" if record.ok else None
    elif gold is None:
        out.note = "the run holds no data fingerprint to find its test split by"
    elif len(predictions) != len(gold.labels):
        out.note = f"the run holds {len(predictions)} predictions for {len(gold.labels)} test texts"
    else:
        out.labels = gold.label_names
        out.confusion = confusion(predictions, gold.labels, len(out.labels))
        out.wrong = [Wrong(i, y, p, gold.texts[i]) for i, (y, p) in enumerate(zip(gold.labels, predictions)) if p != y]
    out.calibration = calibration(record, gold if isinstance(gold, Gold) and not out.note else None)
    return out


def title(record: Record) -> str:
    """`spam / lora / all-MiniLM-L6-v2 / 8 per class / seed 0`."""
    c = record.cell
    budget = "all labels" if c.budget is None else f"{c.budget} per class"
    return f"{c.task} / {c.strategy} / {c.model or '-'} / {budget} / seed {c.seed}"


def summary(record: Record) -> list[tuple[str, str]]:
    """What came out and what it cost, as (what, value) rows."""
    from bench.report.table import fmt

    rows = [("status", record.status)]
    m, c, d = record.metrics, record.cost, record.data
    if m is not None:
        low, high = m.accuracy_ci95
        rows += [("accuracy", f"{fmt(m.accuracy, 'pct')} % (bootstrap 95 % interval {fmt(low, 'pct')}-{fmt(high, 'pct')})"),
                 ("macro-F1", f"{fmt(m.macro_f1, 'pct')} %")]
        rows += [(f"F1 {name}", f"{fmt(value, 'pct')} %") for name, value in m.per_class_f1.items()]
    rows += [(what, fmt(value, kind) + unit) for what, value, kind, unit in (
        ("trainable parameters", c.trainable_params, "count", ""), ("total parameters", c.total_params, "count", ""),
        ("fit", c.fit_seconds, "sec", " s"), ("predict", c.predict_seconds, "sec", " s"),
        ("peak memory", c.peak_rss_mb, "mb", " MB"), ("memory before the strategy", c.baseline_rss_mb, "mb", " MB"),
        ("peak GPU memory", c.peak_gpu_mb, "mb", " MB")) if value is not None]
    if d is not None:
        rows += [("training examples", f"{d.n_train} (of a pool of {d.n_train_pool})"), ("test examples", str(d.n_test)),
                 ("data", d.source), ("data fingerprint", d.fingerprint[:16])]
        rows += [("data note", note) for note in d.notes]
    if record.training is not None:
        t = record.training
        rows += [("epochs", f"{t.epochs_run} of {t.epochs_planned}" + (" (stopped early)" if t.stopped_early else "")),
                 ("kept epoch", f"{t.best_epoch} ({t.best_rule})"),
                 ("train / validation split", f"{t.n_train} / {t.n_val}"),
                 ("training speed", f"{t.train_examples_per_second:,.1f} examples/s")]
    if record.artifact is not None:
        a = record.artifact
        rows.append(("saved weights", f"{a.path or 'not kept'} ({a.bytes / 1e6:.2f} MB, {a.format})"))
    rows.append(("finished", record.provenance.finished_at or "?"))
    return rows


def confusion(predictions, labels, k: int) -> list[list[int]]:
    matrix = [[0] * k for _ in range(k)]
    for y, p in zip(labels, predictions):
        if 0 <= p < k:
            matrix[y][p] += 1
    return matrix


def calibration(record: Record, gold: Gold | None) -> list[tuple[str, str]]:
    rows = []
    if record.metrics is not None and record.metrics.ece is not None:
        rows.append(("expected calibration error (15 bins)", f"{record.metrics.ece:.3f}"))
    calibrated = record.extra.get("calibrated")
    if calibrated is not None:
        rows.append(("contextual calibration", "on" if calibrated else "off"))
    raw = (record.extra.get("prompt") or {}).get("uncalibrated_predictions")
    if gold is not None and isinstance(raw, list) and len(raw) == len(gold.labels):
        accuracy = sum(p == y for p, y in zip(raw, gold.labels)) / len(raw)
        rows.append(("accuracy without calibration", f"{100 * accuracy:.1f} %"))
    return rows


def trials(record: Record) -> list[dict]:
    found = record.extra.get("trials")
    if found is None and isinstance(record.extra.get("tuning"), dict):
        found = record.extra["tuning"].get("trials")
    return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []


def summarised(value, limit: int = 12):
    """`extra` as shown: long lists become a count and their first values (the predictions are shown elsewhere)."""
    if isinstance(value, dict):
        return {k: summarised(v, limit) for k, v in value.items() if k not in ("trials",)}
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{len(value)} values: {', '.join(str(v) for v in value[:limit])}, ..."
    return value
