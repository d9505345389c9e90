"""The tuning protocol and the paired statistics: selection on training labels only, tests by hand."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections import Counter

import pytest

from bench.contracts import Split
from bench.report.paired import compare, mcnemar_exact
from bench.run import tuning
from conftest import make_record, run_bench, sentiment_rows, write_csv

POOL = Split([f"text {i}" for i in range(60)], [0] * 40 + [1] * 20)


def test_the_defaults_come_first_then_a_seeded_sample_of_the_grid():
    space = {"C": (0.1, 1.0, 10.0), "ngram_max": (1, 2)}
    first = tuning.candidates(space, {"C": 1.0, "ngram_max": 2, "other": 5}, 4, seed=0)
    assert first[0] == {"C": 1.0, "ngram_max": 2} and len(first) == 4 and len({str(c) for c in first}) == 4
    assert tuning.candidates(space, {"C": 1.0, "ngram_max": 2}, 4, seed=0) == first  # seeded
    assert tuning.candidates(space, {"C": 1.0, "ngram_max": 2}, 4, seed=1) != first
    assert len(tuning.candidates(space, {"C": 1.0, "ngram_max": 2}, 99, seed=0)) == 6  # the whole grid, once each


def test_small_pools_are_cross_validated_and_large_ones_held_out_stratified_and_seeded():
    protocol, pairs = tuning.folds(POOL, seed=3)
    assert protocol.startswith("3-fold stratified cross-validation") and len(pairs) == 3
    seen = sorted(i for _, val in pairs for i in val)
    assert seen == list(range(60))  # every training label validates once
    for fit, val in pairs:
        counts = Counter(POOL.labels[i] for i in val)
        assert not set(fit) & set(val) and counts[0] in (13, 14) and counts[1] in (6, 7)  # each fold keeps 2 : 1
    assert tuning.folds(POOL, seed=3) == (protocol, pairs) and tuning.folds(POOL, seed=4)[1] != pairs
    big = Split([f"t{i}" for i in range(1000)], [0] * 800 + [1] * 200)
    protocol, [(fit, val)] = tuning.folds(big, seed=0)
    assert "held-out split of 200" in protocol and Counter(big.labels[i] for i in val) == {0: 160, 1: 40}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Planned jobs on real SMS spam: tfidf and head-only at 8 labels per class, tuned with 3 trials."""
    from bench.run.grid import Cell
    from bench.run.plan import plan

    results = tmp_path_factory.mktemp("results")
    cells = [Cell("spam", name, model, 0, 8, {}, None, "cpu", tune=3)
             for name, model in (("tfidf", None), ("head-only", "all-MiniLM-L6-v2"))]
    return {p.cell.strategy: p.job for p in plan(cells, results)}


@pytest.fixture(scope="module")
def clean(jobs):
    """Each job run once in this process, as the worker runs it."""
    from bench.run.worker import run_cell

    return {name: run_cell(job) for name, job in jobs.items()}


def _poisoned(job: dict) -> dict:
    """The same job with the test labels shuffled (and the fingerprint that goes with them)."""
    from bench.contracts import TaskData
    from bench.data.loading import fingerprint

    job = copy.deepcopy(job)
    labels = job["data"]["test"]["labels"]
    random.Random(0).shuffle(labels)
    data = TaskData.from_json(job["data"])
    job["data"]["fingerprint"] = fingerprint(data.train, data.test)
    return job


@pytest.mark.parametrize("strategy", ["tfidf", "head-only"])
def test_the_tuner_never_reads_the_test_split(jobs, clean, strategy):
    from bench.run.worker import run_cell

    clean, poisoned = clean[strategy], run_cell(_poisoned(jobs[strategy]))
    assert clean["tuning"]["trials"] and len(clean["tuning"]["trials"]) == 3
    assert clean["tuning"]["protocol"].startswith("3-fold stratified cross-validation on the 16 training labels")
    for key in ("trials", "chosen", "refit"):
        trials = lambda t: [{k: v for k, v in row.items() if k != "seconds"} for row in t] if key == "trials" else t
        assert trials(clean["tuning"][key]) == trials(poisoned["tuning"][key])
    assert clean["predictions"] == poisoned["predictions"]  # the same model, whatever the test labels say
    assert clean["metrics"]["accuracy"] != poisoned["metrics"]["accuracy"]  # ... which were really poisoned


def test_a_tuned_trained_strategy_replays_its_trial_on_every_label_and_stops_at_the_kept_epoch(jobs, clean):
    result = clean["head-only"]
    tuned = result["tuning"]
    chosen = next(t for t in tuned["trials"] if t["options"] == tuned["chosen"])
    assert len(chosen["best_epochs"]) == 3  # the epoch each fold's fit kept, by the best-epoch rule
    assert tuned["refit"]["val_fraction"] == 0 and tuned["refit"]["stop_after"] == sorted(chosen["best_epochs"])[1]
    assert tuned["refit"]["epochs"] == jobs["head-only"]["config"]["epochs"]  # the trial's schedule, not squeezed
    assert result["training"]["n_train"] == 16 and result["training"]["n_val"] == 0  # every label, no validation
    assert result["training"]["epochs_run"] == tuned["refit"]["stop_after"] < result["training"]["epochs_planned"]
    assert result["cost"]["tune_seconds"] > 0 and tuned["version"] == 4 and tuned["trials_from"] is None
    [check] = tuned["refits"]  # version 4: the refit scored on its own labels, and it learned
    assert check["options"] == tuned["chosen"] and check["train_accuracy"] >= check["bar"] > 0.5


def test_a_trained_strategys_trials_train_on_the_whole_fold_and_choose_the_epoch_on_its_held_out_part():
    from bench.contracts import RunContext
    from bench.data.loading import load_task
    from bench.registry import STRATEGIES, TASKS

    calls = []

    class Spy(STRATEGIES.get("head-only")):
        def fit(self, train, task, validation=None):
            calls.append((train.texts, validation.texts if validation else None, self.config.patience))
            super().fit(train, task, validation=validation)

    card = TASKS.get("spam")
    data = load_task(card)
    pool = Split(*map(list, zip(*[(t, y) for t, y in zip(data.train.texts, data.train.labels)][:60])))
    base = Spy.Config(epochs=3, min_steps=0, patience=1)  # early stopping on, shorter than the trials' rule
    tuned = tuning.tune(Spy, base, "all-MiniLM-L6-v2", RunContext(device="cpu", seed=0), pool, card, 2)
    _, pairs = tuning.folds(pool, seed=0)
    assert len(calls) == 2 * len(pairs)  # two trials, one fit per fold, nothing else before the refit
    for (fit, val, patience), (fit_ids, val_ids) in zip(calls, pairs * 2):
        assert fit == [pool.texts[i] for i in fit_ids] and val == [pool.texts[i] for i in val_ids]
        assert patience == tuning.TRIAL_PATIENCE
    assert tuned.info.version == tuning.protocol_version(Spy) == 4
    assert tuned.info.protocol.endswith("each epoch validated on the held-out part")
    assert tuning.protocol_version(STRATEGIES.get("tfidf")) == 1  # its rules did not change: its cells stand
    chosen = next(t for t in tuned.info.trials if t.options == tuned.info.chosen)
    assert tuned.config.val_fraction == 0 and tuned.config.stop_after == sorted(chosen.best_epochs)[len(pairs) // 2]

    # The same cell's trials recorded under protocol 2 (the same trial rules) are reused: nothing is fitted again
    calls.clear()
    older = dataclasses.replace(tuned.info, version=2)
    again = tuning.tune(Spy, base, "all-MiniLM-L6-v2", RunContext(device="cpu", seed=0), pool, card, 2,
                        prior=("records/spam/old.json", older))
    assert calls == [] and again.info.trials == tuned.info.trials and again.config == tuned.config
    assert again.info.trials_from == "records/spam/old.json" and again.info.version == 4
    # and so are a --select-only record's, run under today's rules
    chosen = tuning.tune(Spy, base, "all-MiniLM-L6-v2", RunContext(device="cpu", seed=0), pool, card, 2,
                         prior=("records/spam/chosen.json", tuned.info))
    assert calls == [] and chosen.config == tuned.config and chosen.info.trials_from == "records/spam/chosen.json"
    # the search's cost, paid by that record (both sides rounded to the record's hundredths)
    assert again.info.seconds >= round(sum(t.seconds for t in tuned.info.trials), 2)
    for stale in (dataclasses.replace(older, version=1),  # other trial rules
                  dataclasses.replace(older, trials=older.trials[:1])):  # other options tried
        calls.clear()
        fresh = tuning.tune(Spy, base, "all-MiniLM-L6-v2", RunContext(device="cpu", seed=0), pool, card, 2,
                            prior=("records/spam/old.json", stale))
        assert len(calls) == 2 * len(pairs) and fresh.info.trials_from is None


def test_a_refit_that_does_not_learn_gives_way_to_the_next_best_trials_refit():
    from bench.contracts import RunContext
    from bench.data.loading import load_task
    from bench.data.sampling import budget_sample
    from bench.registry import STRATEGIES, TASKS
    from bench.run.records import TuningInfo, build
    from bench.run.worker import _final_fit

    class Stuck(STRATEGIES.get("head-only")):  # the refit of one trial ends up answering one class everywhere
        stuck_C = None

        def predict_proba(self, texts):
            proba = super().predict_proba(texts)
            if self.config.stop_after is not None and self.config.C == Stuck.stuck_C:
                proba[:, 0], proba[:, 1:] = 1.0, 0.0
            return proba

    card = TASKS.get("spam")
    train = budget_sample(load_task(card).train, 8, 0)  # 8 ham, 8 spam
    context = RunContext(device="cpu", seed=0)
    tuned = tuning.tune(Stuck, Stuck.Config(), "all-MiniLM-L6-v2", context, train, card, 3)
    assert [trial.options for trial, _ in tuned.ranked][0] == tuned.info.chosen and tuned.ranked[0][1] == tuned.config
    scores = [trial.score for trial, _ in tuned.ranked]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.5
    Stuck.stuck_C = tuned.info.chosen["C"]
    strategy, seconds, info = _final_fit(Stuck, tuned.config, {"model": "all-MiniLM-L6-v2", "seed": 0}, context,
                                         train, card, tuned)
    failed, kept = info.refits
    assert failed.options == tuned.info.chosen and failed.train_accuracy == 0.5 and not failed.learned
    assert failed.bar == round(0.5 + (scores[0] - 0.5) / 2, 5)  # halfway from the majority share to the trial
    assert kept.learned and kept.options == tuned.ranked[1][0].options == info.chosen
    assert info.refit == dataclasses.asdict(tuned.ranked[1][1]) and strategy.config == tuned.ranked[1][1]
    assert info.seconds >= round(tuned.info.seconds + failed.seconds, 2) and seconds > 0  # its cost is tuning's
    assert build(TuningInfo, json.loads(json.dumps(dataclasses.asdict(info))), "record") == info  # as stored


def test_the_tuning_table_never_averages_trials_scored_under_different_protocols():
    from bench.report.tuning import markdown, table
    from bench.run.records import Trial, TuningInfo

    def tuned(seed, version, score):
        info = TuningInfo("held-out", (Trial({"learning_rate": 1e-3}, (score,), score, 2.0),),
                          {"learning_rate": 1e-3}, {}, 2.0, version)
        return dataclasses.replace(make_record("t", "lora", "training", None, seed, 0.5), tuning=info)

    rows = table([tuned(0, 1, 0.6), tuned(1, 1, 0.7), tuned(0, 2, 0.8)])
    assert [(r.protocol, r.score, r.cells) for r in rows] == [(2, 0.8, 1), (1, 0.65, 2)]
    assert "| lora | m | 2 | - | learning_rate=0.001 | 80.0 | 1 | 1 | 2.0 | default |" in markdown(rows)

    # nor trials of a recipe set by hand (a defaults study: the same cells and folds, one option changed)
    hand = tuned(0, 2, 0.9)
    hand = dataclasses.replace(hand, config=dataclasses.replace(hand.config, strategy={"attention_dropout": 0.25}))
    rows = table([tuned(0, 2, 0.8), tuned(1, 2, 0.6), hand])
    assert [(r.recipe, r.score, r.cells, r.default) for r in rows] == [("", 0.7, 2, True),
                                                                      ("attention_dropout=0.25", 0.9, 1, False)]
    assert "| lora | m | 2 | attention_dropout=0.25 | learning_rate=0.001 | 90.0 | 1 | 1 | 2.0 |  |" in markdown(rows)

    # trials a newer protocol's record reused count once, under the version they ran under
    lent = tuned(0, 4, 0.8)
    lent = dataclasses.replace(lent, tuning=dataclasses.replace(lent.tuning, trials_from="records/t/old.json"))
    assert [(r.protocol, r.score, r.cells) for r in table([tuned(0, 2, 0.8), lent])] == [(2, 0.8, 1)]


def test_paired_statistics_agree_with_a_hand_computation():
    # 20 test texts, two seeds; A is right on 9 texts where B is wrong, B on 1 where A is wrong (both seeds)
    gold = [0] * 20
    a_right = [1] * 15 + [0] * 5
    b_right = [1] * 6 + [0] * 9 + [1] + [0] * 4
    make = lambda name, right, seed: dataclasses.replace(  # noqa: E731
        make_record("t", name, "other", None, seed, sum(right) / 20), gold=tuple(gold),
        predictions=tuple(0 if r else 1 for r in right))
    only_a, only_b, p = mcnemar_exact([bool(x) for x in a_right], [bool(x) for x in b_right])
    assert (only_a, only_b) == (9, 1) and p == pytest.approx(2 * (1 + 10) / 2**10)  # 0.0215
    test = compare([make("a", a_right, s) for s in (0, 1)], [make("b", b_right, s) for s in (0, 1)])
    assert test.difference == pytest.approx((15 - 7) / 20) and test.seeds == (0, 1)
    assert 0 < test.low < 0.4 < test.high and test.beyond_noise and test.p < 0.05
    assert [m.p for m in test.per_seed] == [pytest.approx(0.0215, abs=1e-4)] * 2
    same = compare([make("a", a_right, 0)], [make("b", a_right, 0)])
    assert same.difference == 0 and same.low == same.high == 0 and same.p == 1 and not same.beyond_noise
    once = compare([make("a", a_right, 0)], [make("b", b_right, s) for s in (0, 1, 2)])  # seed-free A: every seed
    assert once.seeds == (0, 1, 2)


def test_bench_compare_prints_the_difference_and_the_texts_they_disagree_on(tmp_path):
    write_csv(tmp_path / "reviews.csv", sentiment_rows(40))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    results = str(tmp_path / "results")
    assert run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--results", results,
                     "--strategies", "majority").returncode == 0  # with tfidf, the reference row
    out = run_bench("compare", "tfidf", "majority", "--results", results, "--show", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "reviews, all labels: tfidf (-) vs majority (-), 1 paired seed(s), 16 test texts"
    assert "difference +50.0 points (95 % CI" in lines[1] and "beyond noise" in lines[1]
    assert lines[2].startswith("  seed 0: 8 texts only A gets right, 0 only B, McNemar exact p=0.008")
    assert lines[3] == "They disagree on 8 texts (seed 0); the first 2:"
    assert len(lines) == 6 and "gold good" in lines[4] and "(review" in lines[4]
    bad = run_bench("compare", "tfidf", "rag", "--results", results)
    assert bad.returncode == 2 and "rag: no row" in bad.stderr


def test_bench_compare_takes_the_current_recipe_of_a_strategy_over_older_ones():
    from bench.cli.compare import _row
    from bench.errors import BenchError
    from bench.report.table import aggregate
    from bench.run.records import Trial, TuningInfo

    def tuned(seed, version, accuracy):
        info = TuningInfo("held-out", (Trial({}, (0.5,), 0.5, 1.0),), {}, {}, 1.0, version)
        return dataclasses.replace(make_record("t", "lora", "training", None, seed, accuracy), tuning=info)

    older = make_record("t", "lora", "training", None, 0, 0.9)
    older = dataclasses.replace(older, config=dataclasses.replace(older.config, strategy={"epochs": 3}))
    current = tuning.PROTOCOL_VERSION
    rows = aggregate([tuned(0, current - 1, 0.8), tuned(0, current, 0.7), older,
                      make_record("t", "lora", "training", None, 0, 0.6)])
    assert _row(rows, "lora", untuned=False).accuracy == pytest.approx(0.7)  # tuned, under the current protocol
    assert _row(rows, "lora", untuned=True).accuracy == pytest.approx(0.6)  # untuned, with today's defaults
    with pytest.raises(BenchError, match="lora@m2: no row at this task and budget; rows: lora@m$"):
        _row(rows, "lora@m2", untuned=False)


def test_select_only_chooses_on_training_labels_and_never_scores_the_test_split(tmp_path):
    write_csv(tmp_path / "reviews.csv", sentiment_rows(40))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    results = str(tmp_path / "results")
    run = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "tfidf", "majority",
                    "--tune", "3", "--select-only", "--results", results)
    assert run.returncode == 0, run.stderr
    assert "1 cell(s) run" in " ".join(run.stderr.split())  # majority has nothing to choose: left out
    from pathlib import Path

    from bench.run import store

    [record] = list(store.iter_records(Path(results)))
    assert record.ok and record.metrics is None and record.predictions is None and record.gold is None
    assert len(record.tuning.trials) == 3 and record.tuning.chosen and record.cost.tune_seconds > 0
    table = run_bench("tuning", "--results", results)
    assert table.returncode == 0 and table.stdout.count("| tfidf |") == 3 and "| default |" in table.stdout
    assert run_bench("tuning", "--results", results, "--tasks", "reviews", "--budgets", "all").stdout == table.stdout
    other = run_bench("tuning", "--results", results, "--budgets", "8")  # no cell at that budget: one line, exit 2
    assert other.returncode == 2 and other.stderr.strip().endswith(
        "records for these tasks and budgets; run `bench run --tune N`") and "Traceback" not in other.stderr
    board = (Path(results) / "LEADERBOARD.md").read_text()
    assert "| tfidf" not in board  # a choice without a test score is no leaderboard row


def test_a_cell_tuned_under_the_older_protocol_lends_its_trials_to_the_plan(tmp_path, monkeypatch):
    from bench.registry import STRATEGIES
    from bench.run import store
    from bench.run.grid import Cell
    from bench.run.plan import keyed_config, plan
    from bench.run.records import Trial, TuningInfo

    cells = [Cell("spam", name, model, 0, 8, {}, None, "cpu", tune=3)
             for name, model in (("head-only", "all-MiniLM-L6-v2"), ("tfidf", None))]
    with monkeypatch.context() as patched:
        patched.setattr(tuning, "PROTOCOL_VERSION", 2)
        old, _ = plan(cells, tmp_path)
    trials = (Trial({"C": 1.0}, (0.9, 0.8, 0.85), 0.85, 3.0, (4, 5, 6)),)
    record = dataclasses.replace(make_record("spam", "head-only", "transfer", 8, 0, 0.9),
                                 tuning=TuningInfo("3-fold", trials, {"C": 1.0}, {}, 3.0, version=2))
    store.write_new(old.path, record)
    new, tfidf = plan(cells, tmp_path)
    assert new.key != old.key and new.job["prior_trials"]["record"] == str(old.path.relative_to(tmp_path))
    assert tuple(new.job["prior_trials"]["tuning"]["trials"][0]["best_epochs"]) == (4, 5, 6)
    assert tfidf.job["prior_trials"] is None  # its rules never changed: nothing older to borrow from

    # A --select-only record of the same cell (its choice, under today's rules) lends its trials first
    [chooser] = plan([dataclasses.replace(cells[0], select_only=True)], tmp_path)
    assert chooser.key != new.key and chooser.job["prior_trials"] is None  # a choice borrows from choices only
    chosen = dataclasses.replace(record, metrics=None, tuning=dataclasses.replace(record.tuning, version=3))
    store.write_new(chooser.path, chosen)
    new, _ = plan(cells, tmp_path)
    assert new.job["prior_trials"]["record"] == str(chooser.path.relative_to(tmp_path))
    assert new.job["prior_trials"]["tuning"]["version"] == 3

    # An option added after records existed changes no key while it is at its default
    head_only = STRATEGIES.get("head-only")
    config = dataclasses.asdict(head_only.Config())
    assert "stop_after" in config and "stop_after" not in keyed_config(head_only, config)
    assert keyed_config(head_only, {**config, "stop_after": 2})["stop_after"] == 2


def test_a_runs_page_says_where_reused_trials_came_from():
    from bench.report.runs import tuning as tuning_rows
    from bench.run.records import RefitCheck, Trial, TuningInfo

    info = TuningInfo("held-out", (Trial({"learning_rate": 1e-4}, (0.8,), 0.8, 9.0, (3,)),), {"learning_rate": 1e-4},
                      {"learning_rate": 1e-4, "stop_after": 3}, 9.5, 3, "records/t/full/m/seed0-abc.json")
    rows = dict(tuning_rows(dataclasses.replace(make_record("t", "full", "training", None, 0, 0.8), tuning=info)))
    assert rows["protocol"] == "held-out (version 3)" and "stop_after=3" in rows["final fit with"]
    assert rows["trials from"].startswith("records/t/full/m/seed0-abc.json")
    checks = (RefitCheck({"learning_rate": 1e-4}, 0.5, 0.65, 30.0),
              RefitCheck({"learning_rate": 5e-5}, 0.97, 0.6, 31.0))
    rows = dict(tuning_rows(dataclasses.replace(make_record("t", "full", "training", None, 0, 0.8),
                                                tuning=dataclasses.replace(info, refits=checks))))
    assert rows["refit 1"] == \
        "learning_rate=0.0001: 50.0 % on its training labels, needed 65.0 %: did not learn (30.0 s)"
    assert rows["refit 2"].startswith("learning_rate=5e-05: 97.0 %") and rows["refit 2"].endswith("learned (31.0 s)")


def test_the_refit_rules_study_builds_both_rules_from_one_choice_and_seeds_its_held_out_split():
    import importlib.util
    from pathlib import Path

    from bench.registry import STRATEGIES

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "refit_rules.py"
    spec = importlib.util.spec_from_file_location("refit_rules", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    full = STRATEGIES.get("full")
    refit = dataclasses.asdict(full.Config(learning_rate=1e-4, stop_after=4, val_fraction=0.0, patience=0))
    replay, anneal = (study.refit_config(full, refit, rule) for rule in study.RULES)
    assert (replay.epochs, replay.stop_after) == (10, 4)  # the trial's 10-epoch schedule, stopped after epoch 4
    assert (anneal.epochs, anneal.stop_after) == (4, 0)  # a schedule of its own, planned for the 4 kept epochs
    assert anneal.learning_rate == replay.learning_rate == 1e-4 and anneal.val_fraction == 0
    fit, val = study.held_out(POOL, study.SPLIT_SEED, 12)
    assert len(val) == 12 and Counter(val.labels) == {0: 8, 1: 4} and not set(fit.texts) & set(val.texts)
    assert study.held_out(POOL, study.SPLIT_SEED, 12) == (fit, val)  # seeded


def test_the_defaults_study_scores_every_training_label_once_per_variant_on_the_same_folds():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "defaults_cv.py"
    spec = importlib.util.spec_from_file_location("defaults_cv", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    folds = study.folds(POOL, 4, seed=0)
    held = [text for _, val in folds for text in val.texts]
    assert sorted(held) == sorted(POOL.texts)  # every text held out exactly once
    assert all(Counter(val.labels) == {0: 10, 1: 5} for _, val in folds)  # stratified: 40:20 into 4 folds
    assert all(not set(fit.texts) & set(val.texts) for fit, val in folds)
    assert study.folds(POOL, 4, seed=0) == folds  # seeded
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        study.variants(["C"])
    # the real path on spam's training messages: tfidf at two C values, paired text by text
    out = study.run(study.argparse.Namespace(task="spam", strategies=["tfidf"], variant=["C=10", "C=0.01"],
                                             budget=6, seeds=[0], folds=3, device="cpu"))
    assert len(out["rows"]) == 2 * 3 and {r["fold"] for r in out["rows"]} == {0, 1, 2}
    first, second = out["summary"]
    assert first["items"] == second["items"] == 12  # 6 per class, each held out once
    assert second["difference_pts"] == pytest.approx(second["held_out_pct"] - first["held_out_pct"], abs=0.01)
    assert second["only_first"] + second["only_this"] <= 12
