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
