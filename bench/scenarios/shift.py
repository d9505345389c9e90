"""Domain shift: a strategy fitted on one task's training split meets another task's test split.

The strategy is built exactly as for its own task (the training task's card:
its instruction, label words and token budget) and then reads the other
task's test texts, as a system built for e-mail would when SMS arrive. The two
tasks must have the same label names, in any order: predictions are mapped
from the training task's label ids to the test task's by name.
"""

from __future__ import annotations

from bench.contracts import TaskCard
from bench.errors import BenchError


def label_map(source: TaskCard, target: TaskCard) -> tuple[int, ...]:
    """For each label id of `source`, the id of the label with the same name in `target`."""
    if sorted(source.labels) != sorted(target.labels):
        raise BenchError(f"--train-on {source.name}: its labels ({', '.join(source.labels)}) are not those of "
                         f"{target.name} ({', '.join(target.labels)}); a shift needs the same label names (rename "
                         "them in a task card)")
    return tuple(target.labels.index(name) for name in source.labels)


def to_target(predictions: list[int], proba, mapping: tuple[int, ...]):
    """Predictions (and an (n, K) probability array) in the test task's label ids."""
    import numpy as np

    mapped = [mapping[y] for y in predictions]
    if proba is None:
        return mapped, None
    out = np.zeros_like(proba)
    out[:, list(mapping)] = proba
    return mapped, out
