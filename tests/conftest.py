"""Shared helpers: run the real `bench` command in a subprocess, write small data files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_bench(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 900):
    """`bench ARGS` as a user would run it; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def bench_cli():
    return run_bench


def make_record(task: str, strategy: str, family: str, budget, seed: int, accuracy: float, uses_labels: bool = True,
                model: str | None = "m", n_test: int = 1000, training=None, seeded: bool = True, predictions=None):
    """A typed ok record with the fields the report reads, for tests of the report and analysis."""
    from bench.run.records import CellId, Cost, DataInfo, Metrics, Provenance, Record, RunConfig, StrategyInfo

    half = 1.96 * (accuracy * (1 - accuracy) / n_test) ** 0.5
    return Record(
        key=f"{task}-{strategy}-{model}-{budget}-{seed}", status="ok",
        cell=CellId(task, strategy, model, seed, budget),
        config=RunConfig(strategy=_made_today(strategy), task={"name": task, "description": "d"}, device="cpu",
                         task_ref=task, data_override=None),
        metrics=Metrics(accuracy, accuracy, {}, (accuracy - half, accuracy + half)),
        data=DataInfo(n_train=10, n_train_pool=10, n_test=n_test, fingerprint="f" * 64, notes=(), source="s"),
        cost=Cost(trainable_params=10, total_params=100, fit_seconds=1.0 + (budget or 500), predict_seconds=1.0,
                  peak_rss_mb=500),
        training=training, predictions=predictions,
        provenance=Provenance(strategy=StrategyInfo(family, uses_labels, seeded, "x.Y", "built-in"), model={},
                              data_source="s", data_artifact=None, packages={"python": "3"}, git={}, machine={},
                              data_fingerprint="f" * 64, finished_at="2026-01-01T00:00:00+0000"))


def _made_today(strategy: str) -> dict:
    """The options a record made today holds whose default changed after records existed (a record without them
    ran before the change: bench.report.table.changed_options), at today's defaults."""
    from bench.report.table import _absent, _defaults

    defaults = _defaults(strategy) or {}
    return {name: defaults[name] for name in _absent(strategy)}


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


def sentiment_rows(n: int) -> list[tuple[str, str]]:
    """Small, clearly separable labelled texts for the loaders and the grid."""
    good = ["a wonderful, moving film", "great acting and a great story", "I loved every minute",
            "brilliant and funny", "a delight from start to end"]
    bad = ["a dull, boring mess", "terrible acting and a weak plot", "I hated every minute",
           "awful and far too long", "a waste of two hours"]
    rows = []
    for i in range(n):
        rows.append((f"{good[i % 5]} (review {i})", "good"))
        rows.append((f"{bad[i % 5]} (review {i})", "bad"))
    return rows
