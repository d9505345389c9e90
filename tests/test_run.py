"""A grid end to end through the real command: records, skipping, --force, failures, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.files import replace_atomically, write_json
from bench.report.markdown import markdown
from bench.report.table import load
from bench.run import store
from bench.run.records import Record
from conftest import make_record, run_bench, sentiment_rows, write_csv


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


def _records(results: Path) -> list[Record]:
    return [r for r in store.iter_records(results)]


def test_majority_on_spam_records_reports_and_skips_on_rerun(tmp_path):
    results = tmp_path / "results"
    first = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0", "1",
                      "--results", str(results))
    assert first.returncode == 0, first.stderr
    recs = _records(results)
    assert sorted((r.cell.strategy, r.cell.seed) for r in recs) == [("majority", 0), ("majority", 1), ("tfidf", 0)]
    assert [r.gold for r in recs] == [recs[0].gold] * 3 and sum(recs[0].gold) == 128  # the test labels, once each
    r = next(r for r in recs if r.cell.strategy == "majority")
    assert r.ok and r.metrics.accuracy == pytest.approx(904 / 1032)
    assert r.data.n_test == 1032 and len(r.predictions) == 1032
    assert r.provenance.data_artifact["sha256"].startswith("6894d524")
    assert "torch" in r.provenance.packages and r.provenance.machine["cpu"]
    assert r.card().split_seed == 0 and r.card().source.kind == "packaged-table" and r.cost.peak_rss_mb > 0
    assert "majority" in first.stdout and "87.6" in first.stdout  # the table printed at the end
    tfidf = next(r for r in recs if r.cell.strategy == "tfidf")
    assert tfidf.metrics.accuracy > 0.95 and tfidf.provenance.strategy.family == "baseline"  # the classical reference

    again = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0", "1",
                      "--results", str(results))
    assert again.returncode == 0
    assert "0 cell(s) run, 3 already recorded" in " ".join(again.stderr.split())
    assert len(_records(results)) == 3

    forced = run_bench("run", "--tasks", "spam", "--strategies", "majority", "--seeds", "0",
                       "--results", str(results), "--force")
    assert forced.returncode == 0
    assert len(_records(results)) == 5  # majority and tfidf re-run; the old records are kept beside the new ones
    assert len(load(results).ok) == 3  # the newest per cell counts

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
    by_status = {r.status: r for r in _records(results)}
    assert set(by_status) == {"ok", "failed"}  # majority ran; head-only failed, with its reason
    assert by_status["failed"].error and by_status["failed"].traceback
    assert "no-such-model" in by_status["failed"].error


@pytest.mark.slow
def test_head_only_same_seed_same_predictions(tmp_path):
    card, results = _card(tmp_path), tmp_path / "results"
    for _ in range(2):
        result = run_bench("run", "--tasks", card, "--strategies", "head-only", "--no-baseline",
                           "--results", str(results), "--force")
        assert result.returncode == 0, result.stderr
    runs = _records(results)
    assert len(runs) == 2
    assert runs[0].predictions == runs[1].predictions
    assert runs[0].metrics.accuracy == 1.0  # clearly separable texts
    assert runs[0].cost.trainable_params == 2 * 384 + 2  # a linear head: 384 weights + a bias per class
    assert runs[0].cost.total_params == 22_713_216 + 770
    assert runs[0].provenance.model["sha256"].startswith("b9a0018d")
    assert [row.epoch for row in runs[0].training.curves] == list(range(1, runs[0].training.epochs_run + 1))
    assert runs[0].artifact.files == ("head.safetensors",)


def test_records_are_written_atomically_and_damage_is_not_trusted(tmp_path):
    path = tmp_path / "records" / "t" / "s" / "m" / "seed0-abc.json"
    store.write_new(path, make_record("t", "s", "other", None, 0, 0.5))
    assert store.is_done(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    path.write_text('{"status": "ok", "cell": {')  # truncated
    assert not store.is_done(path)
    loaded = load(tmp_path)
    assert [d.path for d in loaded.damaged] == [path] and loaded.ok == []


def test_two_writers_of_one_file_never_rename_each_others_temporary(tmp_path):
    """Two runs rebuilding one leaderboard at once: each write lands whole, none crashes."""
    path = tmp_path / "plots" / "task-cost.png"

    def outer(tmp: str) -> None:
        Path(tmp).write_text("outer")
        replace_atomically(path, lambda inner: Path(inner).write_text("inner"))  # lands mid-write

    replace_atomically(path, outer)
    assert path.read_text() == "outer"  # the last rename wins, whole
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind

    with pytest.raises(OSError):
        replace_atomically(path, lambda tmp: (_ for _ in ()).throw(OSError("disk full")))
    assert path.read_text() == "outer" and [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_claim_is_exclusive_and_a_dead_owners_claim_is_taken_over(tmp_path):
    record = tmp_path / "r.json"
    first, second = store.Claim(record), store.Claim(record)
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    Path(str(record) + ".claim").write_text("999999999")  # a pid that does not exist
    assert store.Claim(record).acquire()


def test_markdown_escapes_text_from_records(tmp_path):
    import dataclasses

    rec = make_record("t<script>", "a|b", "other", None, 0, 0.5)
    hostile = {"description": "<img src=x onerror=alert(1)>"}
    rec = dataclasses.replace(rec, config=dataclasses.replace(rec.config, task=hostile))
    write_json(tmp_path / "records" / "x.json", rec.as_json())
    board = markdown(load(tmp_path), tmp_path)
    assert "<script>" not in board and "<img" not in board and "a\\|b" in board
    json.loads((tmp_path / "records" / "x.json").read_text())


def test_the_key_covers_what_a_strategy_sees_and_nothing_else(tmp_path):
    """Editing a task's description or licence keeps its records; a label word or the template does not."""
    from bench.run.grid import Cell
    from bench.run.plan import plan

    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))

    def key(extra: str = "", strategy: str = "zero-shot", options: dict | None = None, seed: int = 0) -> str:
        card = tmp_path / "card.toml"
        card.write_text('name = "reviews"\npath = "reviews.csv"\n' + extra)
        [planned] = plan([Cell(str(card), strategy, "m", seed, None, options or {}, None, "cpu")], tmp_path / "r")
        return planned.key

    base = key()
    assert key('description = "now described"\nlicence = "CC0"\n') == base
    assert key('label_words = ["poor", "great"]\n') != base
    assert key('instruction = "Rate it."\n') != base
    assert key('text_format = "Review: {text}"\n') != base
    assert key("max_tokens = 64\n") != base
    assert key(options={"calibrate": False}) != base
    assert key(seed=1) != base


def test_the_worker_gets_the_resolved_card_config_and_data(tmp_path):
    from bench.contracts import TaskData
    from bench.data.cards import from_json
    from bench.data.loading import fingerprint
    from bench.run.grid import Cell
    from bench.run.plan import plan

    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    (tmp_path / "card.toml").write_text('path = "reviews.csv"\nlabel_words = ["poor", "great"]\n')
    [planned] = plan([Cell(str(tmp_path / "card.toml"), "lora", "m", 3, 4, {"r": 2, "preset": "tutorial"}, None,
                           "cpu")], tmp_path / "results")
    job = json.loads(json.dumps(planned.job))  # as it crosses to the worker
    card = from_json(job["card"])
    assert card.labels == ("bad", "good") and card.label_words == ("poor", "great")  # inferred once, in the parent
    assert job["config"]["r"] == 2 and job["config"]["alpha"] == 32.0  # the preset resolved once, in the parent
    data = TaskData.from_json(job["data"])
    assert fingerprint(data.train, data.test) == data.fingerprint and len(data.train) == 32
    assert job["cell"] == {"task": "card", "strategy": "lora", "model": "m", "seed": 3, "budget": 4}
    assert job["artifact_dir"].startswith(str(tmp_path / "results" / "artifacts"))


def test_a_study_file_runs_its_grids_into_its_folder_and_a_rerun_skips_them(tmp_path):
    _card(tmp_path)
    study = tmp_path / "study" / "study.toml"
    study.parent.mkdir()
    study.write_text('results = "out"\n\n[[grid]]\ntasks = ["../reviews.toml"]\nstrategies = ["majority"]\n'
                     'seeds = [0, 1]\n\n[[grid]]\ntasks = ["../reviews.toml"]\nstrategies = ["knn"]\n'
                     'budgets = [4]\nbaseline = false\noptions = { "knn.k" = 3 }\n')
    planned = run_bench("run", str(study), "--dry-run", cwd=study.parent)
    assert planned.returncode == 0, planned.stderr
    assert "4 cell(s) would run, 0 already recorded" in planned.stdout and "knn" in planned.stdout
    assert not (study.parent / "out").exists()  # a dry run writes nothing

    first = run_bench("run", "--study", str(study), "--strategies", "knn", cwd=tmp_path)
    assert first.returncode == 2 and "a study file sets its own grids" in first.stderr
    first = run_bench("run", str(study), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    recs = _records(study.parent / "out")
    assert sorted((r.cell.strategy, r.cell.seed, r.cell.budget) for r in recs) == [
        ("knn", 0, 4), ("majority", 0, None), ("majority", 1, None), ("tfidf", 0, None)]
    assert [r.config.strategy for r in recs if r.cell.strategy == "knn"] == [{"k": 3, "index": "flat"}]
    again = run_bench("run", str(study), cwd=tmp_path)
    assert "0 cell(s) run, 4 already recorded" in " ".join(again.stderr.split())


def test_written_files_are_readable_like_ordinary_files(tmp_path):
    import os
    import stat

    path = tmp_path / "records" / "r.json"
    write_json(path, {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # a shared results folder stays shared


def test_scores_are_scikit_learns_accuracy_and_f1_to_the_last_bit():
    """bench.run.metrics computes them with numpy alone; on any labels, a class never seen or never predicted
    among them, they are the floats scikit-learn gives (accuracy_score, f1_score with zero_division=0)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from bench.run.metrics import classification

    rng = np.random.default_rng(0)
    for trial in range(300):
        k, n = int(rng.integers(2, 6)), int(rng.integers(1, 30))
        gold = rng.integers(0, k - (trial % 3 == 0), n)  # every third: the last class absent from the gold labels
        predicted = np.full(n, gold[0]) if trial % 5 == 0 else rng.integers(0, k, n)  # every fifth: one class only
        labels = list(range(k))
        scores = classification(gold.tolist(), predicted.tolist(), [f"class {i}" for i in labels])
        per_class = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
        assert scores.accuracy == accuracy_score(gold, predicted)
        assert scores.macro_f1 == f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
        assert list(scores.per_class_f1.values()) == per_class.tolist()


def test_a_packaged_gguf_model_is_converted_before_the_first_cell_so_no_cell_counts_the_conversion(tmp_path):
    """On an empty cache `bench run` converts SmolLM2 in a process of its own before the cells start: the cell's
    log has no conversion in it, and the converted folder is in the cache for the next run."""
    write_csv(tmp_path / "reviews.csv", sentiment_rows(6))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    cache = tmp_path / "cache"
    env = {"BENCH_CACHE": str(cache)}
    result = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "zero-shot",
                       "--no-baseline", "--results", str(tmp_path / "results"), env=env)
    assert result.returncode == 0, result.stderr
    assert any((folder / "config.json").exists() for folder in (cache / "converted").iterdir())
    logs = list((tmp_path / "results" / "logs").rglob("*.log"))
    assert len(logs) == 1 and "converting" not in logs[0].read_text()
    (record,) = store.iter_records(tmp_path / "results")
    assert record.ok and record.cell.model == "SmolLM2-135M-Instruct"
