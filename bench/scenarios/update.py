"""Keeping up: a strategy fitted on part of its labels absorbs the rest as new data.

The cell's training sample is split, stratified and seeded by the run seed,
into the first `fraction` (fitted first) and the rest (the new labelled
examples). After the first fit the test split is scored ("before"). Then the
new examples are absorbed two ways, each timed and scored:

- `retrain`: a fresh strategy, the same options, fitted on old + new; every
  strategy can do this, and it is the cell's main result;
- `incremental`: the fitted strategy's own `update(new, task)`, where it has
  one: knn and rag add the new examples to their index; the trained
  strategies (lora, full, partial, head-only) go on training from where they
  are, on the new examples only (the same training path: validation split,
  best epoch, early stopping).

Caches would make the seconds lie (a text embedded by an earlier run costs
nothing here), so each half runs with empty embedding and index caches of
its own (`cold_caches`): the first fit and the incremental update share one,
as a deployed system keeps its store; the retrain starts from an empty one,
as a fit from scratch does.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from bench.contracts import Split, TaskCard
from bench.data.sampling import validation_split


def split(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(first, new): `fraction` of the sample and the rest, both stratified by label, seeded."""
    return validation_split(train, 1 - fraction, 0, seed)


def absorb(strategy: Any, new: Split, task: TaskCard) -> float | None:
    """Seconds the strategy's own update took, or None when it has none (then only retraining is measured)."""
    update = getattr(strategy, "update", None)
    if not callable(update):
        return None
    started = time.perf_counter()
    update(new, task)
    return time.perf_counter() - started


def step(mode: str, seconds: float, score: Callable[[], Any]) -> dict:
    """An UpdateStep (as JSON) from the mode, its seconds and the metrics of the strategy after it."""
    metrics = score()
    return {"mode": mode, "seconds": round(seconds, 4), "accuracy": metrics.accuracy, "macro_f1": metrics.macro_f1}


CACHE_VARIABLES = {"BENCH_EMBEDDING_CACHE": "embeddings", "BENCH_INDEX_CACHE": "index"}


@contextmanager
def cold_caches() -> Iterator[None]:
    """Embedding and index caches (bench.engines.embeddings, bench.engines.retrieval) in a fresh temporary
    folder while the block runs, deleted after it; the process's own settings come back."""
    saved = {name: os.environ.get(name) for name in CACHE_VARIABLES}
    with tempfile.TemporaryDirectory(prefix="bench-update-") as folder:
        os.environ.update({name: os.path.join(folder, sub) for name, sub in CACHE_VARIABLES.items()})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
