"""The local executor with --jobs: cells at a time, the same records, and where each cell ran."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bench.run import store
from bench.run.executors import cores
from bench.run.records import Record
from conftest import run_bench, sentiment_rows, write_csv

FIXTURES = {"BENCH_PLUGINS": "misbehaving", "PYTHONPATH": str(Path(__file__).parent / "fixtures")}
LEADERBOARD = Path(__file__).resolve().parent.parent / "leaderboard"


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(10))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


def _by_key(results: Path) -> dict[str, Record]:
    return {r.key: r for r in store.iter_records(results)}


def _span(record: Record) -> tuple[datetime, datetime]:
    p = record.provenance
    stamp = "%Y-%m-%dT%H:%M:%S%z"
    return datetime.strptime(p.started_at, stamp), datetime.strptime(p.finished_at, stamp)


def test_jobs_2_runs_two_cells_at_once_and_gives_the_same_records_as_jobs_1(tmp_path):
    card = _card(tmp_path)
    grid = ["run", "--tasks", card, "--strategies", "sleepy", "explode", "--set", "sleepy.seconds=3",
            "--seeds", "0", "1", "--no-baseline"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_bench(*grid, "--jobs", "1", "--results", str(one), env=FIXTURES).returncode == 1
    result = run_bench(*grid, "--jobs", "2", "--results", str(two), env=FIXTURES)
    assert result.returncode == 1, result.stderr  # explode fails, alone
    first, second = _by_key(one), _by_key(two)
    assert sorted(first) == sorted(second) and len(first) == 4  # sleepy and explode x 2 seeds: the same keys
    for key, record in first.items():
        assert (record.status, record.predictions, record.metrics) == (second[key].status, second[key].predictions,
                                                                       second[key].metrics)
        assert record.ok == (record.cell.strategy == "sleepy") and "boom in fit" in (record.error or "boom in fit")
    a, b = [r for r in second.values() if r.ok]
    assert _span(a)[0] < _span(b)[1] and _span(b)[0] < _span(a)[1]  # the two cells of 3 s ran at the same time
    for record in second.values():
        where = record.provenance.placement
        assert where.executor == "local" and where.host == socket.gethostname() and where.device == "cpu"
        threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, cores() // 2))  # the cores shared by 2 cells
        assert where.threads == threads and where.retries == ()
        assert record.provenance.machine["cpu"] and record.provenance.machine["cpu_count"]


def test_records_written_before_placement_was_recorded_still_read():
    published = (json.loads(path.read_text()) for path in sorted(LEADERBOARD.rglob("records/**/*.json")))
    earlier = next(raw for raw in published if "placement" not in raw["provenance"])  # the study's older records
    assert Record.from_json(earlier).provenance.placement is None


def test_a_cell_with_a_model_is_forked_from_the_fork_server_and_records_what_a_fresh_worker_does(tmp_path):
    card = _card(tmp_path)
    grid = ["run", "--tasks", card, "--strategies", "knn", "head-only", "zero-shot", "--seeds", "0", "1"]
    forked, fresh = tmp_path / "forked", tmp_path / "fresh"
    assert run_bench(*grid, "--results", str(forked)).returncode == 0
    assert run_bench(*grid, "--results", str(fresh), env={"BENCH_WORKER_START": "spawn"}).returncode == 0
    a, b = _by_key(forked), _by_key(fresh)
    assert sorted(a) == sorted(b) and len(a) == 7  # knn, zero-shot and tfidf once; head-only and majority x 2 seeds
    for key, record in a.items():
        other, where = b[key], record.provenance.placement
        assert (record.predictions, record.metrics) == (other.predictions, other.metrics)
        assert where.worker == ("forked" if record.cell.model else "fresh")  # the reference rows load no model
        assert other.provenance.placement.worker == "fresh" and where.threads == other.provenance.placement.threads
        # a fork counts the pages it shares with the server, so its memory reads as a fresh worker's would
        assert abs(record.cost.peak_rss_mb - other.cost.peak_rss_mb) < 0.1 * other.cost.peak_rss_mb


def test_the_fork_server_starts_ahead_of_the_first_cell_only_when_a_cell_loads_a_model():
    """`bench run` calls prepare before it loads the tasks, so the server's imports overlap that work."""
    code = ("import psutil; from bench.run.executors import LocalProcessExecutor; executor = LocalProcessExecutor(); "
            "servers = lambda: sum('forkserver' in ' '.join(p.cmdline()) for p in psutil.Process().children()); "
            "executor.prepare(loads_models=False); before = servers(); executor.prepare(loads_models=True); "
            "print(before, servers(), executor.fork_server is not None)")
    env = {k: v for k, v in os.environ.items() if k != "BENCH_WORKER_START"}
    for start, expected in (("fork-server", ["0", "1", "True"]), ("spawn", ["0", "0", "False"])):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**env, "BENCH_WORKER_START": start}).stdout
        assert out.split() == expected, (start, out)


def test_forked_cells_get_their_share_of_the_cores_with_jobs_2(tmp_path):
    results = tmp_path / "results"
    result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", "sleepy-model", "--set", "seconds=0",
                       "--seeds", "0", "1", "--jobs", "2", "--no-baseline", "--results", str(results), env=FIXTURES)
    assert result.returncode == 0, result.stderr
    threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, cores() // 2))
    placements = [r.provenance.placement for r in store.iter_records(results)]
    assert len(placements) == 2 and all(p.worker == "forked" and p.threads == threads for p in placements)
