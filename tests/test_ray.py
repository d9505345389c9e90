"""Cells as Ray tasks: the same records and tables as local processes, two nodes, a death mid-cell.

Every Ray instance here is started and stopped by the test that needs it: a
local one by `bench run --executor ray` itself (and shut down by it), a
two-node cluster by `ray start --block` in process groups of its own, which
the fixture kills by id (never `ray stop`, which would stop every Ray
instance of the machine's user). Object stores are kept small.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bench.run import store
from bench.run.records import Record
from conftest import run_bench, sentiment_rows, write_csv

pytest.importorskip("ray", reason="Ray is not installed; `pip install 'bench[ray]'` (the test extra has it)")

FIXTURES = {"BENCH_PLUGINS": "misbehaving", "PYTHONPATH": str(Path(__file__).parent / "fixtures")}
RAY = str(Path(sys.executable).with_name("ray"))
SPAM_GRID = ["run", "--tasks", "spam", "--strategies", "majority", "knn", "head-only", "--seeds", "0", "1",
             "--set", "head-only.max_train_examples=400"]  # a smaller training pool keeps head-only's fit short
STABLE = ["task", "strategy", "model", "budget", "seeds", "accuracy", "accuracy_std", "macro_f1", "trainable_params",
          "total_params", "n_train", "n_test"]  # the table's columns that do not depend on the machine's speed


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(10))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


def _records(results: Path) -> dict[str, Record]:
    found = list(store.iter_records(results))
    assert all(isinstance(r, Record) for r in found), found
    return {r.key: r for r in found}


def _table(results: Path):
    from bench.report.table import load

    return load(results).table[STABLE]


def test_a_cell_asks_for_what_its_family_and_device_need_and_no_more_than_a_node_has():
    from bench.run.ray_executor import Request, request

    big = {"CPU": 16.0, "memory": 64 * 2**30}
    cell = {"cell": {"strategy": "head-only"}, "device": "cpu"}
    assert request(cell, big) == Request(cpus=2, gpus=0, memory_mb=3600)
    assert request({**cell, "device": "cuda"}, big).gpus == 1
    assert request({"cell": {"strategy": "majority"}, "device": "cpu"}, big) == Request(1, 0, 640)
    assert request(cell, big, max_memory_mb=1000).memory_mb == 1000  # --max-memory is what it asks for
    assert request(cell, {"CPU": 2.0, "memory": 2 * 2**30}) == Request(1, 0, 2048)  # two fit on a 2-core node


def test_a_node_that_cannot_see_the_results_folder_sends_the_log_and_weights_back(tmp_path):
    from bench.run.grid import Cell
    from bench.run.plan import plan
    from bench.run.executors import Job
    from bench.run.ray_executor import land, run_here

    [planned] = plan([Cell(_card(tmp_path), "majority", None, 0, None, {}, None, "cpu")], tmp_path / "results")
    job = Job(planned.key, planned.job, planned.label, tmp_path / "results" / "logs" / "cell.log")
    payload = {**{k: v for k, v in job.payload.items() if k != "data"},
               "runtime": {"executor": "ray", "threads": 1, "retries": []}}
    out = run_here(payload, job.payload["data"], job.log_path, token="not-this-machine's", max_memory_mb=None)
    assert out["result"]["status"] == "ok" and out["result"]["placement"]["executor"] == "ray"
    assert "log" in out and out["artifacts"] == {} and not job.log_path.exists()  # nothing written here
    weights = {"result": {**out["result"], "artifact": {"path": "/elsewhere", "files": ["head.safetensors"]}},
               "log": "trained\n", "artifacts": {"head.safetensors": b"weights"}}
    result = land(weights, job)
    assert job.log_path.read_text() == "trained\n"
    assert Path(job.payload["artifact_dir"], "head.safetensors").read_bytes() == b"weights"
    assert result["artifact"]["path"] == job.payload["artifact_dir"]


@pytest.fixture(scope="module")
def spam_runs(tmp_path_factory):
    """The small spam grid through local processes (two at a time) and through a local Ray instance.

    One thread per cell on both engines (OMP_NUM_THREADS=1, which bench leaves alone): the same arithmetic
    everywhere, and no cell slowed by threads fighting over a small shared machine. That --jobs 1 and
    --jobs 2 give the same records is tests/test_executors.py's.
    """
    root = tmp_path_factory.mktemp("spam-grid")
    runs = {}
    for name, engine in (("local", ["--jobs", "2"]), ("ray", ["--executor", "ray"])):
        started = time.perf_counter()
        result = run_bench(*SPAM_GRID, *engine, "--results", str(root / name), env={"OMP_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr
        runs[name] = root / name
        print(f"spam grid, {name}: {time.perf_counter() - started:.0f} s")
    return runs


@pytest.mark.slow
def test_the_spam_grid_gives_the_same_records_and_tables_locally_and_on_ray(spam_runs):
    local, there = _records(spam_runs["local"]), _records(spam_runs["ray"])
    assert sorted(local) == sorted(there) and len(local) == 6  # majority, head-only x 2 seeds; knn, tfidf once
    for key, record in local.items():
        assert there[key].ok and there[key].predictions == record.predictions
        assert there[key].metrics == record.metrics and there[key].config == record.config
    assert _table(spam_runs["ray"]).equals(_table(spam_runs["local"]))
    for engine, records in (("local", local), ("ray", there)):
        for record in records.values():
            where = record.provenance.placement
            assert where.executor == engine and where.host == socket.gethostname() and where.threads == 1
            assert (where.node is not None) == (engine == "ray")
    trained = [r for r in there.values() if r.cell.strategy == "head-only"]
    assert all(Path(r.artifact.path, "head.safetensors").is_file() for r in trained)  # the weights in --results


@pytest.mark.slow
def test_a_report_over_records_gathered_from_several_runs_gives_the_same_tables(spam_runs, tmp_path):
    """Seed 0 from the local run, seed 1 from the Ray run, copied into one folder: the one-machine tables."""
    gathered = tmp_path / "gathered"
    for name, seeds in (("local", {0}), ("ray", {1})):
        for path in (spam_runs[name] / "records").rglob("*.json"):
            record = store.read(path)
            if record.cell.seed in seeds:
                target = gathered / path.relative_to(spam_runs[name])
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    report = run_bench("report", "--results", str(gathered))
    assert report.returncode == 0, report.stderr
    assert {r.provenance.placement.executor for r in _records(gathered).values()} == {"local", "ray"}
    assert _table(gathered).equals(_table(spam_runs["local"]))
    assert (gathered / "LEADERBOARD.md").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_nodes(address: str, env: dict) -> int:
    status = subprocess.run([RAY, "status", f"--address={address}"], capture_output=True, text=True, env=env)
    active = status.stdout.split("Active:")[-1].split("Pending:")[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


@pytest.fixture
def two_nodes():
    """A Ray head and a second node on this machine, one CPU each; stopped by process group, even on failure."""
    folder = tempfile.mkdtemp(prefix="bench-ray-", dir="/tmp")  # short: Ray's socket paths live under it
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, **FIXTURES, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    node = ["--block", "--num-cpus=1", "--memory=4000000000", "--object-store-memory=150000000",
            "--disable-usage-stats"]
    commands = [[RAY, "start", "--head", f"--port={address.split(':')[1]}", f"--temp-dir={folder}",
                 "--include-dashboard=false", *node],
                [RAY, "start", f"--address={address}", '--resources={"second": 1}', *node]]
    started = []
    try:
        for i, command in enumerate(commands):
            with open(Path(folder) / f"node{i}.log", "w") as log:
                started.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True))
            deadline = time.time() + 120
            while _alive_nodes(address, env) < i + 1:
                assert time.time() < deadline, (Path(folder) / f"node{i}.log").read_text()[-2000:]
                time.sleep(1)
        yield address, env
    finally:
        for proc in reversed(started):
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the node's raylet, workers and agents are in its group
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_two_node_cluster_runs_cells_on_both_nodes(two_nodes, tmp_path):
    address, env = two_nodes
    results = tmp_path / "results"
    result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", "sleepy", "--set", "sleepy.seconds=3",
                       "--seeds", "0", "1", "2", "3", "--no-baseline", "--executor", "ray", "--ray-address", address,
                       "--results", str(results), env=env)
    assert result.returncode == 0, result.stderr
    records = _records(results).values()
    assert len(records) == 4 and all(r.ok for r in records)
    nodes = {r.provenance.placement.node for r in records}
    assert len(nodes) == 2 and None not in nodes  # cells from both nodes
    assert all(r.provenance.placement.threads == 1 for r in records)  # each asked for what one node has


def _cell_processes(results: Path) -> dict[str, int]:
    """The worker processes of this run's cells, by the log they write (one per cell)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        if "bench.run.worker" in " ".join(proc.info["cmdline"] or []):
            try:
                log = os.readlink(f"/proc/{proc.pid}/fd/1")
            except OSError:
                continue
            if log.startswith(str(results)):
                found[Path(log).stem] = proc.pid
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds a cell's process through /proc (Linux)")
def test_a_ray_worker_killed_mid_cell_is_retried_and_a_killed_cell_fails_alone(tmp_path):
    import psutil

    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--tasks", _card(tmp_path), "--strategies",
                             "sleepy", "--set", "sleepy.seconds=4", "--seeds", "0", "1", "2", "3", "--no-baseline",
                             "--executor", "ray", "--results", str(results)], env={**os.environ, **FIXTURES},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        killed: dict[str, str] = {}  # cell (its log's name) -> what was killed
        deadline = time.time() + 240
        while len(killed) < 2 and proc.poll() is None and time.time() < deadline:
            for cell, pid in _cell_processes(results).items():
                if cell in killed:
                    continue
                time.sleep(1.5)  # mid-cell
                if not killed:  # the first: its Ray worker dies, as if the engine lost it
                    psutil.Process(pid).parent().kill()
                    killed[cell] = "ray worker"
                else:  # the second: the cell's own process dies
                    os.kill(pid, signal.SIGKILL)
                    killed[cell] = "cell"
                break
            time.sleep(0.2)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert sorted(killed.values()) == ["cell", "ray worker"], err
    assert proc.returncode == 1, err  # the grid finished, with one failed cell
    records = {store.record_path(results, "reviews", "sleepy", None, r.cell.seed, r.key).stem: r
               for r in _records(results).values()}  # by the name their logs have
    by_fate = {fate: records[cell] for cell, fate in killed.items()}
    retried = by_fate["ray worker"]
    assert retried.ok and len(retried.provenance.placement.retries) == 1
    assert "Ray worker or node running it died" in retried.provenance.placement.retries[0]
    assert by_fate["cell"].status == "failed" and "killed by signal SIGKILL" in by_fate["cell"].error
    others = [r for cell, r in records.items() if cell not in killed]
    assert len(others) == 2 and all(r.ok and r.provenance.placement.retries == () for r in others)
