"""Nothing lost, nothing let in: kills, Ctrl-C, failing cells, memory caps, two runs at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.run import store
from conftest import run_bench, sentiment_rows, write_csv

FIXTURES = {"BENCH_PLUGINS": "misbehaving", "PYTHONPATH": str(Path(__file__).parent / "fixtures")}


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(10))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    # The run gets Ctrl-C as a terminal gives it, even when the suite itself was started in the background
    # (`cmd &` in a script ignores SIGINT, and a child inherits that): the default action is restored for it.
    # Its temporary folders go under cwd/tmp (Ray's excepted: its socket paths must stay short), where a test can
    # see what a stopped run left behind, and where a killed one's leftovers go away with the test's folder.
    env = {**os.environ, **FIXTURES}
    if "ray" not in args:
        (cwd / "tmp").mkdir(exist_ok=True)
        env["TMPDIR"] = str(cwd / "tmp")
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _all_records(results: Path) -> list:
    return list(store.iter_records(results))


def test_failing_cells_are_recorded_with_reasons_and_the_grid_goes_on(tmp_path):
    results = tmp_path / "results"
    result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", "explode", "nan-scores", "hog", "hog-model",
                       "sleepy", "--set", "sleepy.seconds=0", "--max-memory", "1500", "--results", str(results),
                       env=FIXTURES)
    assert result.returncode == 1
    failed = {r.cell.strategy: r.error for r in _all_records(results) if r.status == "failed"}
    ok = {r.cell.strategy for r in _all_records(results) if r.ok}
    assert ok == {"majority", "tfidf", "sleepy"}  # the reference rows, and the one that behaves
    assert "boom in fit" in failed["explode"]
    assert "NaN" in failed["nan-scores"]
    assert "exceeded --max-memory 1500 MB" in failed["hog"]
    assert "exceeded --max-memory 1500 MB" in failed["hog-model"]  # a cell forked from the fork server, too
    summary = " ".join(result.stderr.split())
    assert "4 failed" in summary and all(name in summary for name in ("explode", "nan-scores", "hog", "hog-model"))


def _check_intact(results: Path) -> None:
    for record in _all_records(results):
        assert not isinstance(record, store.Damaged), f"corrupt record {record}"
    leftovers = [p for p in (results / "records").rglob(".*.tmp")] if (results / "records").exists() else []
    assert not leftovers


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_and_the_rerun_finishes(tmp_path):
    card, results = _card(tmp_path), tmp_path / "results"
    args = ["run", "--tasks", card, "--strategies", "majority", "sleepy", "sleepy-model", "--no-baseline", "--set",
            "seconds=0.3", "--seeds", *map(str, range(6)), "--results", str(results)]
    rng = random.Random(0)
    trials = 10
    for trial in range(trials):
        proc = _start(args, tmp_path)
        time.sleep(rng.uniform(0.5, 4.0))
        if trial % 2:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: as if the machine died
        else:
            proc.kill()  # only the runner: its worker must not run on, orphaned
        proc.wait()
        assert _left_running(proc.pid) == []
        _check_intact(results)
    done_before = {p: p.stat().st_mtime_ns for p in (results / "records").rglob("*.json") if store.is_done(p)}
    final = run_bench(*args, env=FIXTURES, cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    _check_intact(results)
    ok = [r for r in _all_records(results) if r.ok]
    assert Counter((r.cell.strategy, r.cell.seed) for r in ok) == Counter(
        {(s, seed): 1 for s in ("majority", "sleepy", "sleepy-model") for seed in range(6)})
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime  # finished cells were not redone
    ran = int(" ".join(final.stderr.split()).split(" cell(s) run")[0].split()[-1])
    assert ran == 18 - len(done_before)


@pytest.mark.parametrize("engine, how, strategy", [
    ([], "ctrl-c", "sleepy"), (["--jobs", "2"], "ctrl-c", "sleepy"), (["--executor", "ray"], "ctrl-c", "sleepy"),
    ([], "sigterm", "sleepy"), ([], "ctrl-c", "sleepy-model"), (["--jobs", "2"], "sigterm", "sleepy-model")],
    ids=["local", "jobs-2", "ray", "local-sigterm", "forked", "forked-jobs-2-sigterm"])
def test_ctrl_c_stops_cleanly_and_says_what_finished(tmp_path, engine, how, strategy):
    if "ray" in engine:
        pytest.importorskip("ray", reason="Ray is not installed; `pip install 'bench[ray]'`")
    results = tmp_path / "results"
    # eight cells of 2 s, stopped after two: on a loaded machine four were few enough to finish before the signal.
    # sleepy-model's cells are forked from the fork server, which must not outlive the run either.
    proc = _start(["run", "--tasks", _card(tmp_path), "--strategies", strategy, "--set", "seconds=2",
                   "--seeds", *map(str, range(8)), "--results", str(results), *engine], tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and len(_all_records(results)) < 2:
        time.sleep(0.2)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: the whole group
    else:
        proc.terminate()  # SIGTERM to the run alone (`kill`, a scheduler): it stops its workers itself
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    finished = len(_all_records(results))
    assert f"interrupted: {finished} cell(s) finished and recorded" in " ".join(err.split())
    _check_intact(results)
    assert not list((results / "records").rglob("*.claim"))
    assert _left_running(proc.pid) == []  # no worker, and no Ray process of a local instance, outlives the run
    assert not list((tmp_path / "tmp").glob("bench-cell-*"))  # each stopped cell's folder removed


def _left_running(group: int) -> list[str]:
    """Processes still alive in a process group (the run's: it was started in a session of its own)."""
    import psutil

    deadline, alive = time.time() + 15, []
    while time.time() < deadline:
        alive = []
        for p in psutil.process_iter(["name", "status"]):
            try:
                if os.getpgid(p.pid) == group and p.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(p.info["name"])
            except (ProcessLookupError, psutil.Error):
                pass
        if not alive:
            break
        time.sleep(0.5)
    return alive


@pytest.mark.slow
def test_two_runs_at_once_neither_corrupt_nor_duplicate(tmp_path):
    card, results = _card(tmp_path), tmp_path / "results"
    args = ["run", "--tasks", card, "--strategies", "majority", "sleepy", "--no-baseline", "--set",
            "sleepy.seconds=0.5", "--seeds", *map(str, range(4)), "--results", str(results)]
    procs = [_start(args, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    ok = [r for r in _all_records(results) if r.ok]
    assert len(ok) == 8 and len({r.key for r in ok}) == 8
    ran = sum(int(" ".join(err.split()).split(" cell(s) run")[0].split()[-1]) for _, err in outputs)
    assert ran == 8  # every cell ran exactly once between the two


def test_a_damaged_record_is_named_and_its_cell_runs_again(tmp_path):
    card, results = _card(tmp_path), tmp_path / "results"
    assert run_bench("run", "--tasks", card, "--strategies", "majority", "--no-baseline",
                     "--results", str(results)).returncode == 0
    [path] = list((results / "records").rglob("*.json"))
    path.write_text(path.read_text()[:100])
    report = run_bench("report", "--results", str(results), env={"COLUMNS": "300"})
    assert "damaged record skipped" in report.stdout and path.name in report.stdout
    again = run_bench("run", "--tasks", card, "--strategies", "majority", "--no-baseline", "--results", str(results))
    assert "1 cell(s) run" in " ".join(again.stderr.split())
