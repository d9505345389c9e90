"""Cells as Ray tasks: on a local Ray instance started for the run, or on an existing cluster.

`bench run --executor ray [--ray-address ADDRESS]`. Each cell is one Ray task
that asks for the CPUs, memory and GPU its strategy's family and device need
(`request`); inside it the cell runs exactly as the local executor runs it,
in a fresh worker process on the node (bench.run.executors.CellProcess), so a
record's measurements mean the same on either engine. Tasks are submitted a
window at a time (cells are claimed as they are submitted) and their results
streamed back with `ray.wait` as they finish; the runner, on the driver,
writes every record.

Whose failure is it? A cell that raises, or whose worker process dies (a
segfault, the kernel's OOM killer), comes back from its node as an ordinary
failed result: the cell's failure, recorded, never retried. A Ray error
instead means the engine failed around the cell: the Ray worker running the
task died, or its node did (`SYSTEM`). Such a cell is submitted once more
(Ray may place it on another node) and its record lists the first death in
`placement.retries`; a second death fails it with both reasons. Ray's memory
monitor stopping a task is the cell's (its node ran out of memory): failed,
not retried. Ctrl-C cancels every task still queued or running; results
that came back before it are still recorded.

Logs and trained weights: where the node sees the driver's results folder (a
shared file system, or the same machine) the cell writes them there itself;
otherwise they come back with the result and the driver writes them.
Ray is an optional extra (`pip install 'bench[ray]'`), imported only here.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from bench.errors import BenchError
from bench.run.executors import CellProcess, Job, cores

NEEDS = {  # a cell's request by strategy family: (CPUs, memory MB); about 1.3x the largest peak bench has measured
    "baseline": (1, 640),
    "retrieval": (2, 1600),
    "prompting": (2, 3300),
    "training": (2, 3600),
}
OTHER = (2, 3600)  # a plugin's strategy of family "other"
OBJECT_STORE_MB = 300  # of a local instance: payloads are task data and results, a few MB each
LOG_TAIL = 200_000  # characters of a cell's log sent back when the node cannot write the driver's folder
INSTALL = "pip install 'bench[ray]'"


@dataclass(frozen=True)
class Request:
    """What one cell asks a Ray node for."""

    cpus: int
    gpus: int
    memory_mb: int

    def options(self) -> dict:
        return {"num_cpus": self.cpus, "num_gpus": self.gpus, "memory": self.memory_mb * 2**20}


def request(payload: dict, largest: dict, max_memory_mb: float | None = None) -> Request:
    """A cell's CPUs and memory from its strategy's family (`--max-memory` replaces the memory), a GPU on cuda.

    No more memory than the largest node has, so that every cell can run
    somewhere, and no more than half its CPUs, so that two cells at least run
    side by side there (on a 2-core node, two cells of one thread each, not one
    of two threads).
    """
    from bench.contracts import traits
    from bench.registry import STRATEGIES

    family = traits(STRATEGIES.get(payload["cell"]["strategy"])).family
    cpus, memory = NEEDS.get(family, OTHER)
    memory = int(max_memory_mb or memory)
    return Request(cpus=max(1, min(cpus, int(largest.get("CPU", 2 * cpus)) // 2)),
                   gpus=1 if payload["device"].startswith("cuda") else 0,
                   memory_mb=max(1, min(memory, int(largest.get("memory", memory * 2**20) / 2**20))))


def import_ray():
    try:
        import ray
    except ImportError:
        raise BenchError(f"--executor ray needs Ray, which is not installed here; install it with {INSTALL}") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse, in one line, a HOST:PORT (or ray://HOST:PORT) address where nothing answers."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host, port = (host, port) if host and port.isdigit() else (address.removeprefix("ray://"), "6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BenchError(f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc}); start "
                         "one with `ray start --head`, or leave --ray-address out to start a local one for the run"
                         ) from None


def _first_line(exc: BaseException) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text}"[:300]


class RayExecutor:
    """Runs cells as Ray tasks; `start()` joins (or starts) the cluster, `close()` leaves it."""

    name = "ray"

    def __init__(self, address: str | None = None, max_memory_mb: float | None = None):
        self.address, self.max_memory_mb = address, max_memory_mb
        self.ray = import_ray()

    def start(self) -> "RayExecutor":
        ray = self.ray
        if self.address:
            check_reachable(self.address)
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        env = {k: v for k, v in os.environ.items() if k.startswith("BENCH_") or k == "HF_HUB_OFFLINE"}
        common = dict(log_to_driver=False, logging_level=logging.WARNING, runtime_env={"env_vars": env})
        try:
            if self.address:
                ray.init(address=self.address, **common)
            else:
                ray.init(address="local", num_cpus=cores(), object_store_memory=OBJECT_STORE_MB * 2**20,
                         include_dashboard=False, **common)
        except Exception as exc:  # Ray raises several kinds here; each is one line for the user
            where = f"--ray-address {self.address}: could not join the Ray cluster" if self.address else \
                "could not start a local Ray instance"
            raise BenchError(f"{where} ({_first_line(exc)})") from None
        return self

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()

    def prepare(self, loads_models: bool) -> None:
        """Nothing to start ahead: each cell is a Ray task in a worker of its own."""

    def nodes(self) -> list[dict]:
        """The resources of every live node."""
        return [n["Resources"] for n in self.ray.nodes() if n.get("Alive")]

    def device(self, requested: str) -> str:
        """"auto" is "cuda" when some node has a GPU; "cuda" is refused when none has."""
        has_gpu = any(n.get("GPU", 0) > 0 for n in self.nodes())
        if requested == "cuda" and not has_gpu:
            raise BenchError("--device cuda: no node of the Ray cluster has a GPU; use --device cpu or auto")
        return ("cuda" if has_gpu else "cpu") if requested == "auto" else requested

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict]]:
        ray = self.ray
        remote = ray.remote(max_calls=1, max_retries=0)(run_on_node)  # a fresh process per cell; retries below
        largest = {key: max(n.get(key, 0) for n in self.nodes()) for key in ("CPU", "memory")}
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        token, data, pending = uuid.uuid4().hex, {}, {}  # pending: task ref -> (job, earlier deaths)

        def submit(job: Job, retries: tuple[str, ...] = ()) -> None:
            need = request(job.payload, largest, self.max_memory_mb)
            payload = {k: v for k, v in job.payload.items() if k != "data"}
            payload["runtime"] = {"executor": self.name, "threads": need.cpus, "retries": list(retries),
                                  "worker": "fresh"}
            fingerprint = job.payload["data"]["fingerprint"]
            if fingerprint not in data:  # each task's data goes to the object store once
                data[fingerprint] = ray.put(job.payload["data"])
            job.log_path.parent.mkdir(parents=True, exist_ok=True)
            job.log_path.write_text(f"bench: sent to Ray as one task ({token}); asks for {need}\n")
            ref = remote.options(**need.options()).remote(payload, data[fingerprint], str(job.log_path), token,
                                                          self.max_memory_mb)
            pending[ref] = (job, retries)

        queue = iter(jobs)
        try:
            while True:
                while len(pending) < window and (job := next(queue, None)) is not None:
                    submit(job)
                if not pending:
                    return
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    job, retries = pending.pop(ref)
                    result, death = self._collect(ref, job, retries)
                    if death:
                        submit(job, (*retries, death))
                    else:
                        yield job, result
        except KeyboardInterrupt:
            try:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0) if pending else ([], [])
            except Exception:  # the interrupt reached Ray's own processes too
                ready = []
            came_back = [(ref, *pending.pop(ref)) for ref in ready]
            self._cancel(pending)
            for ref, job, retries in came_back:  # finished before the interrupt: keep their records
                result, death = self._collect(ref, job, retries)
                if not death:
                    yield job, result
            raise
        finally:
            self._cancel(pending)

    SYSTEM = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "RaySystemError")

    def _collect(self, ref, job: Job, retries: tuple[str, ...]) -> tuple[dict | None, str | None]:
        """A finished task's result, or (None, why) when the engine failed around the cell the first time."""
        errors = self.ray.exceptions
        system = tuple(getattr(errors, name) for name in self.SYSTEM if hasattr(errors, name))
        try:
            out = self.ray.get(ref)
        except errors.TaskCancelledError:
            raise KeyboardInterrupt from None
        except errors.OutOfMemoryError as exc:
            return self._failed(job, retries, "Ray's memory monitor stopped the cell: its node ran out of memory "
                                f"(give the cell less with --max-memory, or the node more) [{_first_line(exc)}]"), None
        except system as exc:
            death = f"the Ray worker or node running it died ({_first_line(exc)})"
            if not retries:
                return None, death
            return self._failed(job, retries, f"{death}, and it had died before; an engine failure twice, "
                                "not the cell's"), None
        except errors.RayError as exc:
            return self._failed(job, retries, f"the Ray task failed ({_first_line(exc)})"), None
        return land(out, job), None

    def _failed(self, job: Job, retries: tuple[str, ...], error: str) -> dict:
        return {"status": "failed", "error": error,
                "placement": {"executor": self.name, "device": job.payload["device"], "retries": list(retries)}}

    def _cancel(self, pending: dict) -> None:
        for ref in pending:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished, or Ray is going down with the interrupt
                pass
        pending.clear()


def run_on_node(payload: dict, data: dict, log_path: str, token: str, max_memory_mb: float | None) -> dict:
    """A Ray task's body: the cell run on this node (see `run_here`)."""
    import ray

    return run_here(payload, data, Path(log_path), token, max_memory_mb, ray.get_runtime_context().get_node_id())


def run_here(payload: dict, data: dict, log: Path, token: str, max_memory_mb: float | None,
             node: str | None = None) -> dict:
    """The cell in a worker process that dies with this one, on this machine.

    When this machine sees the driver's log file (it holds the run's token)
    the cell writes its log and weights into the driver's folders itself;
    otherwise it writes them here, and they go back with the result.
    """
    try:
        shared = token in log.read_text(errors="replace")[:1000]
    except OSError:
        shared = False
    runtime = {**payload["runtime"], "node": node, "parent_pid": os.getpid()}
    job = {**payload, "data": data, "runtime": runtime}
    folder = None if shared else Path(tempfile.mkdtemp(prefix="bench-ray-cell-"))
    if folder is not None and job.get("artifact_dir"):
        job["artifact_dir"] = str(folder / "artifacts")
    try:
        cell = CellProcess(job, log if shared else folder / "cell.log", dict(os.environ), max_memory_mb)
        try:
            result = cell.wait()
        except BaseException:
            cell.kill()
            raise
        if shared:
            return {"result": result}
        files = folder / "artifacts"
        return {"result": result, "log": (folder / "cell.log").read_text(errors="replace")[-LOG_TAIL:],
                "artifacts": {str(p.relative_to(files)): p.read_bytes()
                              for p in sorted(files.rglob("*")) if p.is_file()}}
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def land(out: dict, job: Job) -> dict:
    """The cell's result, its log and weights written on the driver when the node sent them back."""
    from bench.files import replace_atomically

    result = out["result"]
    if "log" in out:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        job.log_path.write_text(out["log"], encoding="utf-8")
    target = job.payload.get("artifact_dir")
    if out.get("artifacts") and target:
        for name, blob in out["artifacts"].items():
            replace_atomically(Path(target) / name, lambda tmp, blob=blob: Path(tmp).write_bytes(blob))
        if isinstance(result.get("artifact"), dict):
            result["artifact"] = {**result["artifact"], "path": target}
    return result
