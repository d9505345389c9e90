"""How cells get run: the executor interface, a cell's worker process, and the local executor.

An executor takes jobs (a planned cell's payload for the worker, plus where
its log goes) and yields each job with the worker's result dict, in the
order they finish. The runner owns everything else (skipping, claims,
records), so another engine can run the same cells by implementing `map`,
without touching strategies or tasks: bench.run.ray_executor is one.

Every engine runs a cell the same way, in a process of its own
(`CellProcess`): a crash or a memory blow-up takes down that cell only, and
its peak memory is its own. The local executor runs `jobs` of them at a time
on this machine and shares its cores between them: with more than one, each
cell gets cores // jobs threads, and its record says so. A cell that loads a
model is forked from a fork server that imported the model libraries once
(`ForkServer`, bench.run.preload), which saves it their seconds of import; any
other cell, every cell on Ray, and every cell under BENCH_WORKER_START=spawn
starts a fresh `python -m bench.run.worker`. On an AMD processor with
AVX-512, both start with the switch that gives MKL the code it runs on Intel
processors (bench.run.mkl).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from bench.errors import BenchError
from bench.run import mkl


@dataclass(frozen=True)
class Job:
    key: str  # the cell's key
    payload: dict  # what the worker gets (bench.run.plan.Planned.job)
    label: str  # "imdb / head-only / all-MiniLM-L6-v2 / seed 0", for progress
    log_path: Path


class Executor(Protocol):
    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]: ...


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """Cells at a time when --jobs is not given: 1 on a small machine (under 8 cores or 16 GB);
    on a larger one a cell per 4 cores and per 4 GB of memory (a language-model cell peaks near 2.5 GB)."""
    import psutil

    memory_gb = psutil.virtual_memory().total / 2**30
    if cores() < 8 or memory_gb < 16:
        return 1
    return max(1, min(cores() // 4, int(memory_gb // 4)))


class CellProcess:
    """One cell in a fresh worker process: started, watched against the memory cap, read back.

    A worker that dies (a segfault, the kernel's OOM killer, a signal) gives a
    failed result naming how it died. With `max_memory_mb`, the worker's
    resident memory (its children included) is checked at every `done()` and
    the worker is killed, and the cell failed, as soon as it goes over.
    """

    def __init__(self, payload: dict, log_path: Path, env: dict, max_memory_mb: float | None = None,
                 fork_server: "ForkServer | None" = None):
        self.payload, self.log_path, self.max_memory_mb = payload, log_path, max_memory_mb
        self.over: float | None = None  # resident MB reached when stopped for going over the cap
        self.folder = Path(tempfile.mkdtemp(prefix="bench-cell-"))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        job = json.dumps(payload)  # the same text for a forked worker and a fresh one
        with open(log_path, "w", encoding="utf-8") as log:
            if fork_server is not None:
                self.proc = fork_server.start(job, self.folder / "result.json", log_path, env)
                return
            self.proc = subprocess.Popen([sys.executable, "-m", "bench.run.worker", str(self.folder / "result.json")],
                                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True,
                                         env=mkl.worker_environment(env))
        try:
            self.proc.stdin.write(job)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the worker died at once; result() says how
        except BaseException:
            self.kill()
            raise

    def done(self) -> bool:
        """Whether the worker has ended (stopped here if it went over the memory cap)."""
        if self.proc.poll() is not None:
            return True
        if self.max_memory_mb is not None:
            rss = _tree_rss_mb(self.proc.pid)
            if rss > self.max_memory_mb:
                self.over = rss
                self.proc.kill()
                self.proc.wait()
                return True
        return False

    def wait(self, poll_seconds: float = 0.1) -> dict:
        while not self.done():
            time.sleep(poll_seconds)
        return self.result()

    def result(self) -> dict:
        """The worker's result, or a failed one saying how it ended; raises KeyboardInterrupt if it was interrupted."""
        from bench.run.worker import placement

        try:
            out = self.folder / "result.json"
            code = self.proc.returncode
            if self.over is not None:
                return {"status": "failed", "cost": {"peak_rss_mb": round(self.over, 1)},
                        "error": f"exceeded --max-memory {self.max_memory_mb:g} MB (resident {self.over:.0f} MB); "
                                 "the worker was stopped", "placement": placement(self.payload)}
            if code in (-signal.SIGINT, 130):
                raise KeyboardInterrupt
            if out.exists():
                return json.loads(out.read_text())
            how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            if code == -signal.SIGKILL:
                how += " (out of memory?)"
            return {"status": "failed", "error": f"worker process {how}; see {self.log_path}",
                    "placement": placement(self.payload)}
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class ForkServer:
    """Python's multiprocessing fork server, preloading the model libraries (bench.run.preload): it starts when
    made and imports them in the background, and each cell is a fork of it (bench.run.worker.run_forked). It
    takes the thread count the cells get before its libraries load, as a fresh worker would, and ends with the
    run."""

    def __init__(self, threads: int | None):
        import multiprocessing
        from multiprocessing import forkserver

        from bench.run.worker import use_threads

        use_threads(threads)  # into this process's environment, which the server starts with
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["bench.run.preload"])
        preload = os.environ.get("LD_PRELOAD")
        os.environ.update(mkl.worker_environment(dict(os.environ)))  # MKL's code for this processor (bench.run.mkl)
        try:
            forkserver.ensure_running()  # returns at once; the first fork waits for the imports to end
        finally:  # only the server's environment: this process's own children (git, Ray) start as they were
            if preload is None:
                os.environ.pop("LD_PRELOAD", None)
            else:
                os.environ["LD_PRELOAD"] = preload

    def start(self, job: str, result: Path, log_path: Path, env: dict) -> "ForkedWorker":
        """A forked cell for `job`, the JSON text a fresh worker would read from its standard input."""
        from bench.run.worker import run_forked

        process = self.context.Process(target=run_forked, name="bench-cell",
                                       args=(job, str(result), str(log_path), env))
        process.start()
        return ForkedWorker(process)

    @staticmethod
    def available() -> bool:
        """On a POSIX system, unless BENCH_WORKER_START=spawn asks for a fresh interpreter per cell."""
        import multiprocessing

        return (os.environ.get("BENCH_WORKER_START", "fork-server") != "spawn"
                and "forkserver" in multiprocessing.get_all_start_methods())


class ForkedWorker:
    """A cell forked from the fork server, behind the part of subprocess.Popen that CellProcess uses."""

    def __init__(self, process):
        self.process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode  # negative: the signal that ended it

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self.process.kill()

    def wait(self) -> int | None:
        self.process.join()
        return self.process.exitcode


def _tree_rss_mb(pid: int) -> float:
    """Resident MB of a process and its children."""
    import psutil

    try:
        watched = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


class LocalProcessExecutor:
    """Runs the cells on this machine, `jobs` worker processes at a time, yielding each as it ends.

    A cell is taken from `jobs` only when a slot is free, so a cell is claimed
    when it starts. On Ctrl-C the running workers are stopped, the cells that
    had already ended are still yielded (their records are written), and the
    interrupt goes on to the runner.
    """

    POLL_SECONDS = 0.1
    name = "local"

    def __init__(self, jobs: int = 1, env: dict | None = None, max_memory_mb: float | None = None):
        self.jobs = jobs
        self.threads = None if jobs == 1 else max(1, cores() // jobs)  # None: the libraries' own default
        self.env = {**os.environ, **(env or {})}
        self.max_memory_mb = max_memory_mb
        self.fork_server: ForkServer | None = None  # started by prepare (ahead, or for the first model cell)

    def start(self) -> "LocalProcessExecutor":
        return self  # nothing to start: each cell starts its own process

    def close(self) -> None:
        pass

    def prepare(self, loads_models: bool) -> None:
        """When some cell will load a model, start the fork server now: it imports the model libraries (4-5 s
        on two cores) while this process loads the tasks and plans the cells, rather than before the first
        cell."""
        if loads_models and self.fork_server is None and ForkServer.available():
            self.fork_server = ForkServer(self.threads)

    def device(self, requested: str) -> str:
        """"auto" is "cuda" when this machine has a GPU; "cuda" is refused when it has none."""
        from bench.run.device import resolve_device

        if requested == "cuda" and resolve_device("auto") != "cuda":
            raise BenchError("--device cuda: no CUDA device is visible; use --device cpu or auto")
        return resolve_device(requested)

    def launch(self, job: Job) -> CellProcess:
        forked = bool(job.payload.get("cell", {}).get("model")) and ForkServer.available()
        payload = {**job.payload, "runtime": {"executor": self.name, "threads": self.threads,
                                              "parent_pid": os.getpid(),  # a worker never outlives its run
                                              "worker": "forked" if forked else "fresh"}}
        self.prepare(loads_models=forked)  # the server, if no earlier call started it
        return CellProcess(payload, job.log_path, self.env, self.max_memory_mb, self.fork_server if forked else None)

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]:
        queue, running = iter(jobs), {}  # running: key -> (job, its process)
        try:
            while True:
                while len(running) < self.jobs and (job := next(queue, None)) is not None:
                    running[job.key] = (job, self.launch(job))
                if not running:
                    return
                ended = [key for key, (_, cell) in running.items() if cell.done()]
                for key in ended:
                    job, cell = running.pop(key)
                    yield job, cell.result()
                if not ended:
                    time.sleep(self.POLL_SECONDS)
        except KeyboardInterrupt:
            finished = [key for key, (_, cell) in running.items() if cell.proc.poll() == 0]
            for key in finished:  # ended before the interrupt: keep their results
                job, cell = running.pop(key)
                yield job, cell.result()
            raise
        finally:
            for _, cell in running.values():
                cell.kill()
