"""One run in detail: what the page's details view and `bench show` print about a record.

From the record alone: its metrics, costs, configuration, provenance, training
curves, calibration error, how its options were tuned (`record.tuning`: the
protocol and every trial, scored on training labels only), and, where the
record keeps its gold labels, the confusion matrix (rows gold, columns
predicted). With the task's test split (bench.report.gold): the texts it got
wrong, the confusion matrix of an older record without gold labels, and for a
calibrated prompting run the accuracy it would have had without calibration.
Without the split, `note` says what is missing and why.
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
    text: str | None  # None: the test split could not be loaded here


@dataclass
class RunDetail:
    record: Record
    id: str
    labels: tuple[str, ...] = ()
    confusion: list[list[int]] | None = None  # [gold][predicted]
    wrong: list[Wrong] = field(default_factory=list)
    calibration: list[tuple[str, str]] = field(default_factory=list)  # (what, value) rows
    tuning: list[tuple[str, str]] = field(default_factory=list)  # how the options were chosen, as (what, value) rows
    trials: list[dict] = field(default_factory=list)  # one per configuration tried: column -> value as shown
    note: str | None = None  # what of the confusion matrix and wrong texts is missing, and why

    def label(self, label: int) -> str:
        return self.labels[label] if 0 <= label < len(self.labels) else f"label {label} (out of range)"


def run_id(record: Record) -> str:
    """A short, stable name for a run: its key's first 12 characters (failed attempts: plus when they ended)."""
    if record.ok:
        return record.key[:12]
    return f"{record.key[:12]}-failed-{re.sub(r'[^0-9]', '', record.provenance.finished_at or '')[:14] or 'x'}"


def detail(record: Record, split: Gold | Unavailable | None) -> RunDetail:
    """`split`: the task's test split as bench.report.gold loaded it (or why it could not), None if not tried."""
    out = RunDetail(record, run_id(record), tuning=tuning(record), trials=trials(record))
    predictions = record.predictions
    if not record.ok or record.metrics is None:  # failed, or a --select-only choice: nothing was tested
        return out
    loaded = split if isinstance(split, Gold) else None
    if loaded is not None and predictions is not None and len(predictions) != len(loaded.labels):
        out.note = f"the run holds {len(predictions)} predictions for {len(loaded.labels)} test texts"
        loaded = None
    if loaded is not None and record.gold is not None and list(record.gold) != list(loaded.labels):
        out.note = "the test split loaded here does not have the gold labels the run recorded"
        loaded = None
    labels = record.gold if record.gold is not None else (loaded.labels if loaded is not None else None)
    if predictions is None:
        out.note = "the run kept no predictions"
    elif labels is None or len(labels) != len(predictions):
        out.note = out.note or _why(split)
    else:
        out.labels = loaded.label_names if loaded is not None else tuple(record.config.task.get("labels") or ())
        if not out.labels:  # a card without its label names: number them
            out.labels = tuple(f"label {i}" for i in range(max(max(labels), max(predictions)) + 1))
        out.confusion = confusion(predictions, labels, len(out.labels))
        out.wrong = [Wrong(i, y, p, loaded.texts[i] if loaded is not None else None)
                     for i, (y, p) in enumerate(zip(labels, predictions)) if p != y]
        if loaded is None:
            out.note = out.note or f"{_why(split)}; the texts it got wrong are listed by number only"
    out.calibration = calibration(record, loaded)
    return out


def _why(split: Gold | Unavailable | None) -> str:
    if isinstance(split, Unavailable):
        return f"the test texts could not be loaded: {split.reason}"
    if split is None:
        return "the run holds no data fingerprint to find its test split by"
    return "the test split does not match the run's predictions"


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
        interval = f"bootstrap 95 % interval {fmt(low, 'pct')}-{fmt(high, 'pct')}"
        rows += [("accuracy", f"{fmt(m.accuracy, 'pct')} % ({interval})"),
                 ("macro-F1", f"{fmt(m.macro_f1, 'pct')} %")]
        rows += [(f"F1 {name}", f"{fmt(value, 'pct')} %") for name, value in m.per_class_f1.items()]
    rows += [(what, fmt(value, kind) + unit) for what, value, kind, unit in (
        ("trainable parameters", c.trainable_params, "count", ""), ("total parameters", c.total_params, "count", ""),
        ("tune", c.tune_seconds, "sec", " s"), ("fit", c.fit_seconds, "sec", " s"),
        ("predict", c.predict_seconds, "sec", " s"),
        ("peak memory", c.peak_rss_mb, "mb", " MB"), ("memory before the strategy", c.baseline_rss_mb, "mb", " MB"),
        ("peak GPU memory", c.peak_gpu_mb, "mb", " MB")) if value is not None]
    if d is not None:
        rows += [("training examples", f"{d.n_train} (of a pool of {d.n_train_pool})"),
                 ("test examples", str(d.n_test)), ("data", d.source), ("data fingerprint", d.fingerprint[:16])]
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
    p = record.provenance.placement
    if p is not None:
        where = ", ".join(x for x in (p.executor, p.host, p.gpu or p.device,
                                      f"{p.threads} threads" if p.threads else None,
                                      "forked from the fork server" if p.worker == "forked" else None) if x)
        rows.append(("ran on", where + (f" (retried: {'; '.join(p.retries)})" if p.retries else "")))
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


def tuning(record: Record) -> list[tuple[str, str]]:
    """How the options were chosen (bench.run.tuning), as (what, value) rows; none for an untuned run."""
    t = record.tuning
    if t is None:
        return []
    rows = [("protocol", f"{t.protocol} (version {t.version})"), ("chosen", _options(t.chosen)),
            ("final fit with", _options(t.refit)), ("configurations tried", str(len(t.trials))),
            ("tuning time", f"{t.seconds:.1f} s"),
            ("scored on", "training labels only (the test split is never read while tuning)")]
    if t.trials_from:
        rows.append(("trials from", f"{t.trials_from} (run under the same trial rules; only the final fit ran here)"))
    for i, check in enumerate(t.refits, 1):  # version 4: did each refit learn on its own training labels?
        verdict = "learned" if check.learned else "did not learn"
        rows.append((f"refit {i}", f"{_options(check.options)}: {100 * check.train_accuracy:.1f} % on its training "
                                   f"labels, needed {100 * check.bar:.1f} %: {verdict} ({check.seconds:.1f} s)"))
    return rows


def trials(record: Record) -> list[dict]:
    """Every configuration the tuner tried, best first: options, mean and per-fold validation accuracy, time."""
    t = record.tuning
    if t is None:
        return []
    out = []
    for trial in sorted(t.trials, key=lambda trial: -trial.score):
        row = {"options": _options(trial.options), "validation accuracy %": f"{100 * trial.score:.1f}",
               "per fold %": ", ".join(f"{100 * s:.1f}" for s in trial.scores), "seconds": f"{trial.seconds:.1f}"}
        if trial.best_epochs:
            row["epochs kept"] = ", ".join(str(e) for e in trial.best_epochs)
        row["chosen"] = "chosen" if trial.options == t.chosen else ""
        out.append(row)
    return out


def _options(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "(defaults)"


def summarised(value, limit: int = 12):
    """`extra` as shown: long lists become a count and their first values (the predictions are shown elsewhere)."""
    if isinstance(value, dict):
        return {k: summarised(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{len(value)} values: {', '.join(str(v) for v in value[:limit])}, ..."
    return value
