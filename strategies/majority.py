"""`majority`: always answer the most frequent training label.

The floor every leaderboard shows: on imbalanced tasks (spam is 87 % ham) it is
far above chance, and a strategy that does not beat it has learned nothing.
It is also the reference plugin: the smallest complete strategy.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from bench.contracts import ParameterCounts, Split, Strategy, TaskCard
from bench.registry import STRATEGIES


@STRATEGIES.register("majority")
class Majority(Strategy):
    family = "baseline"
    label = 0

    def fit(self, train: Split, task: TaskCard) -> None:
        counts = Counter(train.labels)
        # ties go to the smaller label id, so the answer never depends on order
        self.label = min(counts, key=lambda y: (-counts[y], y))

    def predict(self, texts: Sequence[str]) -> list[int]:
        return [self.label] * len(texts)

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=0)
