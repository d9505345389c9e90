"""Scores of one run: accuracy, macro-F1, per-class F1, a bootstrap interval and ECE.

Computed with numpy alone, as scikit-learn's `accuracy_score` and `f1_score(zero_division=0)` define them
(F1 of a class = 2 TP / (texts of the class + texts predicted as it), 0 where both are 0; the same floats,
tests/test_run.py): every cell scores its predictions, and scikit-learn's metrics cost a cell that has not
loaded scikit-learn (a prompting cell) 0.8 s of imports.
"""

from __future__ import annotations

from typing import Sequence

from bench.run.records import Metrics


def classification(gold: Sequence[int], predicted: Sequence[int], label_names: Sequence[str],
                   proba=None, seed: int = 0, n_boot: int = 1000) -> Metrics:
    import numpy as np

    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    per_class = f1_per_class(gold_a, pred_a, len(label_names))
    return Metrics(
        accuracy=float((gold_a == pred_a).mean()),
        macro_f1=float(per_class.mean()),
        per_class_f1={name: float(v) for name, v in zip(label_names, per_class)},
        accuracy_ci95=bootstrap_accuracy(gold_a, pred_a, seed, n_boot),
        ece=None if proba is None else expected_calibration_error(np.asarray(proba), gold_a),
    )


def f1_per_class(gold, pred, n_labels: int):
    """F1 of each class 0 .. n_labels - 1: 2 TP / (texts of the class + texts predicted as it), 0 where
    both are 0 (a class absent from the test split and never predicted)."""
    import numpy as np

    true_positives = np.bincount(gold[gold == pred], minlength=n_labels)[:n_labels]
    texts = np.bincount(gold, minlength=n_labels)[:n_labels] + np.bincount(pred, minlength=n_labels)[:n_labels]
    return np.divide(2.0 * true_positives, texts, out=np.zeros(n_labels), where=texts > 0)


def bootstrap_accuracy(gold, pred, seed: int, n_boot: int) -> tuple[float, float]:
    """Percentile 95 % interval of test accuracy over resampled test sets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    correct = (gold == pred).astype(float)
    idx = rng.integers(0, len(correct), size=(n_boot, len(correct)))
    means = correct[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def expected_calibration_error(proba, gold, n_bins: int = 15) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by size."""
    import numpy as np

    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(ece)
