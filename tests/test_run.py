"""A grid end to end through the real command: records, skipping, --force, failures, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import records, report
from conftest import run_bench, sentiment_rows, write_csv


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


def _records(results: Path) -> list[dict]:
    return [r for _, r in records.iter_records(results)]


def test_majority_on_spam_records_reports_and_skips_on_rerun(tmp_path):
    results = tmp_path / "results"
    first = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0", "1",
                      "--results", str(results))
    assert first.returncode == 0, first.stderr
    recs = _records(results)
    assert len(recs) == 2 and {r["cell"]["seed"] for r in recs} == {0, 1}
    r = recs[0]
    assert r["status"] == "ok" and r["metrics"]["accuracy"] == pytest.approx(904 / 1032)
    assert r["data"]["n_test"] == 1032 and len(r["predictions"]) == 1032
    assert r["provenance"]["data_artifact"]["sha256"].startswith("6894d524")
    assert "torch" in r["provenance"]["packages"] and r["provenance"]["machine"]["cpu"]
    assert r["config"]["task"]["split_seed"] == 0 and r["cost"]["peak_rss_mb"] > 0
    assert "majority" in first.stdout and "87.6" in first.stdout  # the table printed at the end

    again = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0", "1",
                      "--results", str(results))
    assert again.returncode == 0
    assert "0 cell(s) run, 2 already recorded" in " ".join(again.stderr.split())
    assert len(_records(results)) == 2

    forced = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0",
                       "--results", str(results), "--force")
    assert forced.returncode == 0
    assert len(_records(results)) == 3  # the old record is kept beside the new one
    assert len(report.load(results).ok) == 2  # the newest per cell counts

    board = (results / "LEADERBOARD.md").read_text()
    assert "## spam" in board and "majority (baseline)" in board and "87.6 ± 0.0" in board
    assert (results / "leaderboard.csv").read_text().startswith("task,strategy,model")


@pytest.mark.slow
def test_failed_cell_is_recorded_and_the_grid_goes_on(tmp_path):
    results = tmp_path / "results"
    result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", "head-only",
                       "--models", str(tmp_path / "no-such-model"), "--results", str(results))
    assert result.returncode == 1
    assert "failed" in result.stderr and "head-only" in result.stderr
    by_status = {r["status"]: r for r in _records(results)}
    assert set(by_status) == {"ok", "failed"}  # majority ran; head-only failed, with its reason
    assert by_status["failed"]["error"] and by_status["failed"]["traceback"]
    assert "no-such-model" in by_status["failed"]["error"]


@pytest.mark.slow
def test_head_only_same_seed_same_predictions(tmp_path):
    card, results = _card(tmp_path), tmp_path / "results"
    for _ in range(2):
        result = run_bench("run", "--tasks", card, "--strategies", "head-only", "--no-baseline",
                           "--results", str(results), "--force")
        assert result.returncode == 0, result.stderr
    runs = _records(results)
    assert len(runs) == 2
    assert runs[0]["predictions"] == runs[1]["predictions"]
    assert runs[0]["metrics"]["accuracy"] == 1.0  # clearly separable texts
    assert runs[0]["cost"]["trainable_params"] == 2 * 384 + 2  # a linear head: 384 weights + a bias per class
    assert runs[0]["cost"]["total_params"] == 22_713_216 + 770
    assert runs[0]["provenance"]["model"]["sha256"].startswith("b9a0018d")


def test_records_are_written_atomically_and_damage_is_not_trusted(tmp_path):
    path = tmp_path / "records" / "t" / "s" / "m" / "seed0-abc.json"
    records.write_atomic(path, {"status": "ok", "cell": {}})
    assert records.is_done(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    path.write_text('{"status": "ok", "cell": {')  # truncated
    assert not records.is_done(path)
    loaded = report.load(tmp_path)
    assert loaded.damaged == [path] and loaded.ok == []


def test_two_writers_of_one_file_never_rename_each_others_temporary(tmp_path):
    """Two runs rebuilding one leaderboard at once: each write lands whole, none crashes."""
    path = tmp_path / "plots" / "task-cost.png"

    def outer(tmp: str) -> None:
        Path(tmp).write_text("outer")
        records.replace_atomically(path, lambda inner: Path(inner).write_text("inner"))  # lands mid-write

    records.replace_atomically(path, outer)
    assert path.read_text() == "outer"  # the last rename wins, whole
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind

    with pytest.raises(OSError):
        records.replace_atomically(path, lambda tmp: (_ for _ in ()).throw(OSError("disk full")))
    assert path.read_text() == "outer" and [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_claim_is_exclusive_and_a_dead_owners_claim_is_taken_over(tmp_path):
    record = tmp_path / "r.json"
    first, second = records.Claim(record), records.Claim(record)
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    Path(str(record) + ".claim").write_text("999999999")  # a pid that does not exist
    assert records.Claim(record).acquire()


def test_markdown_escapes_text_from_records(tmp_path):
    rec = {"status": "ok", "key": "k", "cell": {"task": "t<script>", "strategy": "a|b", "model": None, "seed": 0},
           "metrics": {"accuracy": 0.5, "macro_f1": 0.5}, "cost": {}, "data": {},
           "config": {"task": {"description": "<img src=x onerror=alert(1)>"}}, "provenance": {}}
    records.write_atomic(tmp_path / "records" / "x.json", rec)
    board = report.markdown(report.load(tmp_path), tmp_path)
    assert "<script>" not in board and "<img" not in board and "a\\|b" in board
    json.loads((tmp_path / "records" / "x.json").read_text())
