"""How cells get run: the executor interface and the local, one-process-per-cell one.

An executor takes jobs (a planned cell's payload for the worker, plus where
its log goes) and yields each job with the worker's result dict. The runner
owns everything else (skipping, claims, records), so another engine can run
the same cells by implementing `map`, without touching strategies or tasks.
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
    key: str  # the cell's key
    payload: dict  # what the worker gets (bench.run.plan.Planned.job)
    label: str  # "imdb / head-only / all-MiniLM-L6-v2 / seed 0", for progress
    log_path: Path


class Executor(Protocol):
    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]: ...


class LocalProcessExecutor:
    """Runs each cell in a fresh Python process, one after another.

    A worker that dies (a segfault, the kernel's OOM killer, a signal) yields a
    failed result naming how it died; the next cell runs regardless. With
    `max_memory_mb`, the worker's resident memory (its children included) is
    watched several times a second and the worker is killed, and the cell
    failed, as soon as it goes over.
    """

    POLL_SECONDS = 0.1

    def __init__(self, env: dict | None = None, max_memory_mb: float | None = None):
        self.env = {**os.environ, **(env or {})}
        self.max_memory_mb = max_memory_mb

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]:
        for job in jobs:
            yield job, self.run_one(job)

    def run_one(self, job: Job) -> dict:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
            out = Path(tmp) / "result.json"
            with open(job.log_path, "w", encoding="utf-8") as log:
                proc = subprocess.Popen([sys.executable, "-m", "bench.run.worker", str(out)],
                                        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                        text=True, env=self.env)
                try:
                    proc.stdin.write(json.dumps(job.payload))
                    proc.stdin.close()
                    over = self._wait(proc)
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
            if over is not None:
                return {"status": "failed", "cost": {"peak_rss_mb": round(over, 1)},
                        "error": f"exceeded --max-memory {self.max_memory_mb:g} MB (resident {over:.0f} MB); "
                                 "the worker was stopped"}
            if proc.returncode in (-signal.SIGINT, 130):
                raise KeyboardInterrupt
            if out.exists():
                return json.loads(out.read_text())
            how = (f"killed by signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exited with code {proc.returncode}")
            if proc.returncode == -signal.SIGKILL:
                how += " (out of memory?)"
            return {"status": "failed", "error": f"worker process {how}; see {job.log_path}"}

    def _wait(self, proc: subprocess.Popen) -> float | None:
        """Wait for the worker; the resident MB it reached if it went over the cap."""
        if self.max_memory_mb is None:
            proc.wait()
            return None
        import psutil

        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]) / 2**20
            except psutil.Error:
                rss = 0.0
            if rss > self.max_memory_mb:
                proc.kill()
                proc.wait()
                return rss
            try:
                proc.wait(timeout=self.POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        return None
