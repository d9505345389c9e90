"""The scenarios (bench.scenarios): domain shift, forgetting, keeping up, on small slices of real data and models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from bench.contracts import RunContext, Split, TaskData
from bench.errors import BenchError


@pytest.fixture(scope="module")
def spam():
    from bench.data.loading import resolve
    from bench.registry import TASKS

    return resolve(TASKS.get("spam"))


def small(split: Split, per_class: int, seed: int = 0) -> Split:
    from bench.data.sampling import budget_sample

    return budget_sample(split, per_class, seed)


# Domain shift -------------------------------------------------------------------------------------------------


def test_labels_are_mapped_by_name_and_a_mismatch_is_one_clear_error():
    from bench.registry import TASKS
    from bench.scenarios.shift import label_map, to_target

    spam, email, imdb = TASKS.get("spam"), TASKS.get("spam-email"), TASKS.get("imdb")
    assert label_map(email, spam) == (0, 1)
    flipped = dataclasses.replace(email, labels=("spam", "ham"), label_words=("spam", "ham"))
    assert label_map(flipped, spam) == (1, 0)
    predictions, proba = to_target([0, 1, 1], np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), (1, 0))
    assert predictions == [1, 0, 0]
    assert proba.tolist() == [[0.1, 0.9], [0.8, 0.2], [0.6, 0.4]]  # columns follow the labels' names
    with pytest.raises(BenchError, match="same label names"):
        label_map(imdb, spam)


def test_train_on_a_task_with_other_labels_fails_in_one_line(bench_cli, tmp_path):
    out = bench_cli("run", "--tasks", "spam", "--train-on", "imdb", "--strategies", "majority", "--no-baseline",
                    "--results", str(tmp_path), "--dry-run")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "are not those of spam" in out.stderr and "same label names" in out.stderr
    out = bench_cli("run", "--tasks", "spam", "--train-on", "spam", "--strategies", "majority", "--results",
                    str(tmp_path), "--dry-run")
    assert out.returncode == 2 and "fits on one task and tests on another" in out.stderr


@pytest.mark.slow
def test_shift_fits_on_one_task_and_tests_on_another(bench_cli, tmp_path):
    """knn fitted on 8 e-mails per class predicts every SMS of spam's test split; the record says where it learned,
    stays out of the leaderboard, and the shift table sets it beside the in-domain row."""
    from bench.data.loading import resolve
    from bench.registry import TASKS
    from bench.report.scenarios import shift_rows
    from bench.report.table import load

    for extra in (["--train-on", "spam-email"], []):
        out = bench_cli("run", "--tasks", "spam", "--strategies", "knn", "--budgets", "8", "--no-baseline",
                        "--results", str(tmp_path), *extra)
        assert out.returncode == 0, out.stderr[-2000:]
    email, spam = resolve(TASKS.get("spam-email"))[1], resolve(TASKS.get("spam"))[1]
    board = load(tmp_path)
    (shifted,) = board.scenarios
    assert shifted.shift.train_task == "spam-email" and shifted.shift.train_fingerprint == email.fingerprint
    assert shifted.data.n_train == 16 and shifted.data.n_train_pool == len(email.train)
    assert len(shifted.predictions) == len(spam.test) and list(shifted.gold) == list(spam.test.labels)
    assert Path(next((tmp_path / "records").rglob("from-spam-email-b8-seed0-*.json"))).exists()
    assert list(board.table.task) == ["spam"] and len(board.ok) == 1  # the in-domain row alone
    (row,) = shift_rows(board)
    assert row["in-domain %"] == f"{100 * board.ok[0].metrics.accuracy:.1f}"
    assert row["shifted %"] == f"{100 * shifted.metrics.accuracy:.1f}"
    assert "## Domain shift" in (tmp_path / "LEADERBOARD.md").read_text()


# Forgetting ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_task(spam):
    """A small probe task: 40 + 40 training and 30 + 30 test reviews of rotten-tomatoes."""
    from bench.data.loading import resolve
    from bench.registry import TASKS

    card, data = resolve(TASKS.get("rotten-tomatoes"))
    return card, TaskData(small(data.train, 40), small(data.test, 30), data.label_names, data.fingerprint)


def fitted(strategy: str, spam, **options):
    from bench.run.grid import build_strategy

    card, data = spam
    s = build_strategy(strategy, {"min_steps": 0, "epochs": 1, **options}, context=RunContext(seed=0))
    s.fit(small(data.train, 8), card)
    return s


def test_a_fine_tune_that_leaves_the_encoder_as_it_was_loses_nothing(spam, probe_task):
    """partial with layers=0 trains only the pooler and the classifier, which the probes never read."""
    from bench.scenarios import forgetting

    (result,) = forgetting.probe(fitted("partial", spam, layers=0), [probe_task])
    assert result["knn_after"] == result["knn_before"] and result["linear_after"] == result["linear_before"]
    assert result["n_train"] == 80 and result["n_test"] == 60
    assert result["knn_before"] > 0.5  # the probes read something: MiniLM separates reviews better than chance


def test_forgetting_probes_the_tuned_encoder(spam, probe_task):
    """full fine-tuning moves every weight: the probe sees the tuned body (the strategy's own), not a reload."""
    from bench.scenarios import forgetting

    strategy = fitted("full", spam, learning_rate=1e-3)
    tokenizer, body = strategy.tuned_encoder()
    from bench.engines.classifier import backbone, load_classifier

    assert body is backbone(strategy.model)
    original = backbone(load_classifier(strategy.model_name, 2)[1])
    texts = probe_task[1].test.texts[:8]
    before = forgetting.embed(original, tokenizer, texts, 64)
    after = forgetting.embed(body, tokenizer, texts, 64)
    assert np.allclose(np.linalg.norm(after, axis=1), 1, atol=1e-5)
    assert not np.allclose(before, after, atol=1e-3)


def test_probe_needs_a_strategy_that_trains_an_encoder(bench_cli, tmp_path):
    out = bench_cli("run", "--tasks", "spam", "--strategies", "knn", "head-only", "--probe", "yelp",
                    "--results", str(tmp_path), "--dry-run")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "none of this grid's strategies trains one" in out.stderr


# Keeping up ---------------------------------------------------------------------------------------------------


def test_the_update_split_is_stratified_disjoint_and_seeded(spam):
    from bench.scenarios.update import split

    sample = small(spam[1].train, 16)
    first, new = split(sample, 0.5, seed=3)
    assert sorted(first.texts + new.texts) == sorted(sample.texts)
    assert sorted(first.labels) == sorted(new.labels) == [0] * 8 + [1] * 8
    assert split(sample, 0.5, seed=3) == (first, new) and split(sample, 0.5, seed=4) != (first, new)


def test_an_update_adds_exactly_the_new_examples_and_keeps_old_neighbours(spam):
    from bench.run.grid import build_strategy
    from bench.scenarios.update import cold_caches, split

    card, data = spam
    first, new = split(small(data.train, 20), 0.5, seed=0)
    knn = build_strategy("knn", {"k": 1})
    with cold_caches():
        knn.fit(first, card)
        before = knn.predict(first.texts)
        index = knn.retriever.index
        knn.update(new, card)
        assert knn.retriever.index is index and index.ntotal == len(first) + len(new)
        assert knn.retriever.summary()["vectors"] == len(first) + len(new)
        assert list(knn.labels) == first.labels + new.labels
        assert knn.predict(first.texts) == before == first.labels  # each old text still finds itself
        assert knn.predict(new.texts) == new.labels  # and each new one is found
        _, ids = knn.retriever.search(new.texts, 1)
        assert sorted(ids[:, 0]) == list(range(len(first), len(first) + len(new)))


def test_cold_caches_hold_only_for_the_block(monkeypatch, tmp_path):
    import os

    from bench.engines.embeddings import cache_dir
    from bench.scenarios.update import cold_caches

    monkeypatch.setenv("BENCH_EMBEDDING_CACHE", str(tmp_path))
    with cold_caches():
        inside = cache_dir()
        assert inside != tmp_path and inside.parent.exists()
    assert cache_dir() == tmp_path and not inside.parent.exists()
    assert "BENCH_INDEX_CACHE" not in os.environ or os.environ["BENCH_INDEX_CACHE"] != str(inside.parent / "index")


@pytest.mark.slow
def test_an_update_cell_records_both_ways_of_absorbing_new_labels(bench_cli, tmp_path):
    from bench.report.scenarios import update_rows
    from bench.report.table import load

    out = bench_cli("run", "--tasks", "spam", "--strategies", "knn", "majority", "--budgets", "8", "--update", "0.5",
                    "--no-baseline", "--results", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    board = load(tmp_path)
    assert board.table.empty and len(board.scenarios) == 2
    by_strategy = {r.cell.strategy: r for r in board.scenarios}
    knn = by_strategy["knn"].update
    assert (knn.n_initial, knn.n_new, knn.fraction) == (8, 8, 0.5)
    assert [s.mode for s in knn.steps] == ["retrain", "incremental"]
    assert knn.steps[0].accuracy == by_strategy["knn"].metrics.accuracy  # the retrain is the cell's result
    assert [s.mode for s in by_strategy["majority"].update.steps] == ["retrain"]  # no update of its own
    rows = {r["strategy"].split(" ")[0]: r for r in update_rows(board)}
    assert rows["majority"]["incremental s"] == "-" and rows["knn"]["new"] == 8
    assert (tmp_path / "plots" / "spam-update.png").stat().st_size > 1000
    markdown = (tmp_path / "LEADERBOARD.md").read_text()
    assert "## Keeping up" in markdown and "plots/spam-update.png" in markdown


# Study files --------------------------------------------------------------------------------------------------


def test_a_study_declares_scenarios_and_refuses_bad_ones(tmp_path):
    from bench.run.study import load_study

    path = tmp_path / "study.toml"
    path.write_text('[[grid]]\ntasks = ["spam"]\ntrain_on = "spam-email"\n\n'
                    '[[grid]]\ntasks = ["spam"]\nstrategies = ["full"]\nprobes = ["yelp", "imdb"]\n\n'
                    '[[grid]]\ntasks = ["imdb"]\nupdate = 0.25\n')
    shift, probes, update = (g.scenario for g in load_study(path).grids)
    assert shift.train_on == "spam-email" and not shift.probes and shift.update is None
    assert probes.probes == ("yelp", "imdb") and update.update == 0.25
    for bad, message in (("update = 1.5", "between 0 and 1"), ('train_on = ["a"]', "train_on must be a task name"),
                         ('train_on = "spam-email"\ntune = 2\nselect_only = true', "cannot be combined"),
                         ("update = 0.5\ntune = 2", "run the update scenario untuned")):
        path.write_text(f'[[grid]]\ntasks = ["spam"]\n{bad}\n')
        with pytest.raises(BenchError, match=message):
            load_study(path)


def test_scenario_keys_differ_from_plain_keys_and_plain_keys_are_unchanged():
    from bench.run.records import cell_identity, cell_key

    args = ("spam", {}, "f" * 64, "knn", {"k": 4}, "m", 0, 8, "cpu")
    plain = cell_key(cell_identity(*args))
    assert plain == cell_key(cell_identity(*args, None, None))
    assert json.dumps(cell_identity(*args), sort_keys=True).count("scenario") == 0
    assert cell_key(cell_identity(*args, scenario={"update": 0.5})) != plain
