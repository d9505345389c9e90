"""How cells get run: the executor interface and the local, one-process-per-cell one.

An executor takes jobs (a cell as JSON plus where its log goes) and yields each
job with the worker's result dict. The runner owns everything else (skipping,
claims, records), so another engine can run the same cells by implementing
`map`: a Ray executor would submit `bench.worker.run_cell` as a remote task per
job and yield results as they complete, without touching strategies or tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol


@dataclass(frozen=True)
class Job:
    cell: dict  # bench.grid.Cell.as_json()
    label: str  # "imdb / head-only / all-MiniLM-L6-v2 / seed 0", for progress
    log_path: Path


class Executor(Protocol):
    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]: ...


class LocalProcessExecutor:
    """Runs each cell in a fresh Python process, one after another.

    A worker that dies (a segfault, the kernel's OOM killer, a signal) yields a
    failed result naming how it died; the next cell runs regardless.
    """

    def __init__(self, env: dict | None = None):
        self.env = {**os.environ, **(env or {})}

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]:
        for job in jobs:
            yield job, self.run_one(job)

    def run_one(self, job: Job) -> dict:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
            out = Path(tmp) / "result.json"
            with open(job.log_path, "w", encoding="utf-8") as log:
                proc = subprocess.run([sys.executable, "-m", "bench.worker", str(out)],
                                      input=json.dumps(job.cell), text=True,
                                      stdout=log, stderr=subprocess.STDOUT, env=self.env)
            if proc.returncode == -signal.SIGINT or proc.returncode == 130:
                raise KeyboardInterrupt
            if out.exists():
                return json.loads(out.read_text())
            how = (f"killed by signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exited with code {proc.returncode}")
            if proc.returncode == -signal.SIGKILL:
                how += " (out of memory?)"
            return {"status": "failed", "error": f"worker process {how}; see {job.log_path}"}
