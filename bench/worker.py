"""Runs one grid cell in its own process and measures it.

`python -m bench.worker RESULT.json < CELL.json`: builds the task data and the
strategy, seeds everything, then times `fit` and `predict` separately and reads
the process's peak resident memory (and the accelerator's peak, on a GPU). The
result (metrics, costs, predictions, or the error) is written to RESULT.json;
the parent turns it into a record. Because each cell is its own process, a
crash or a memory blow-up takes down only that cell, and the peak memory is
the cell's own.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    except ImportError:
        pass


def resolve_device(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def checked_outputs(predictions, proba, n: int, k: int):
    """Label ids (and probabilities) from a strategy, refused when malformed or not finite."""
    import numpy as np

    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if proba.shape != (n, k):
            raise RuntimeError(f"predict_proba returned shape {proba.shape}, expected ({n}, {k})")
        if not np.isfinite(proba).all():
            raise RuntimeError(f"predict_proba returned NaN or infinite scores for {int((~np.isfinite(proba)).any(axis=1).sum())} texts")
        predictions = proba.argmax(axis=1)
    values = list(predictions)
    if len(values) != n:
        raise RuntimeError(f"strategy returned {len(values)} predictions for {n} texts")
    out = []
    for v in values:
        if isinstance(v, float) and not np.isfinite(v):
            raise RuntimeError("strategy returned a NaN or infinite prediction")
        if int(v) != v or not 0 <= int(v) < k:
            raise RuntimeError(f"strategy returned label id {v!r}, not one of 0..{k - 1}")
        out.append(int(v))
    return out, proba


def run_cell(cell: dict) -> dict:
    """Everything measured for one cell; raises on any failure."""
    from bench import metrics
    from bench.grid import build_strategy, resolve_task
    from bench.models import use_offline_hub

    use_offline_hub()
    if cell.get("artifact_dir"):  # where a strategy may save what it trained (adapters, heads)
        os.environ["BENCH_ARTIFACT_DIR"] = cell["artifact_dir"]
    device = resolve_device(cell["device"])
    card = resolve_task(cell["task"], cell.get("data"))
    from bench.data import load_task

    from bench.budgets import budget_sample

    data = load_task(card)
    train = budget_sample(data.train, cell.get("budget"), cell["seed"])
    seed_everything(cell["seed"])
    gpu = device.startswith("cuda")
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
    baseline_rss = current_rss_mb()
    strategy = build_strategy(cell["strategy"], cell["options"], cell["model"], device)
    t0 = time.perf_counter()
    strategy.fit(train, card, cell["seed"])
    t1 = time.perf_counter()
    proba = None
    if hasattr(strategy, "predict_proba"):
        proba = strategy.predict_proba(data.test.texts)
        predictions = None
    else:
        predictions = strategy.predict(data.test.texts)
    t2 = time.perf_counter()
    predictions, proba = checked_outputs(predictions, proba, len(data.test), len(card.labels))
    counts = strategy.parameter_counts()
    extra = strategy.extra_info() if hasattr(strategy, "extra_info") else {}
    return {
        "device": device,
        "metrics": metrics.classification(data.test.labels, predictions, card.labels, proba, seed=cell["seed"]),
        "data": {"n_train": len(train), "n_train_pool": len(data.train), "n_test": len(data.test), "fingerprint": data.fingerprint,
                 "notes": list(data.notes), "source": card.source.describe()},
        "cost": {
            "trainable_params": int(counts.trainable),
            "total_params": int(counts.total),
            "fit_seconds": round(t1 - t0, 4),
            "predict_seconds": round(t2 - t1, 4),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "baseline_rss_mb": round(baseline_rss, 1),
            "peak_gpu_mb": round(__import__("torch").cuda.max_memory_allocated() / 2**20, 1) if gpu else None,
        },
        "predictions": predictions,
        "extra": extra,
    }


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    cell = json.loads(sys.stdin.read())
    try:
        result = {"status": "ok", "error": None, **run_cell(cell)}
    except BaseException as exc:  # the cell failed; the grid goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        result = {"status": "failed", "error": f"{type(exc).__name__}: {message}"[:500],
                  "traceback": traceback.format_exc()[-8000:],
                  "cost": {"peak_rss_mb": round(peak_rss_mb(), 1)}}
        traceback.print_exc()
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
