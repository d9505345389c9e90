"""Label budgets, noise, the crossover statement and plots, on hand-made records."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import analysis, plots, records, report
from bench.budgets import budget_sample, parse
from bench.contracts import Split
from bench.errors import BenchError

POOL = Split([f"text {i}" for i in range(300)], [0] * 200 + [1] * 70 + [2] * 30)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_budgets_are_nested_and_balanced_per_seed(seed):
    samples = {b: budget_sample(POOL, b, seed) for b in (8, 32, 128)}
    assert Counter(samples[8].labels) == {0: 8, 1: 8, 2: 8}
    assert Counter(samples[32].labels) == {0: 32, 1: 32, 2: 30}  # class 2 has only 30: all of it
    assert set(samples[8].texts) <= set(samples[32].texts) <= set(samples[128].texts)
    assert budget_sample(POOL, 32, seed) == samples[32]  # pure: same seed, same sample
    assert budget_sample(POOL, None, seed) is POOL


def test_different_seeds_draw_different_examples():
    assert budget_sample(POOL, 8, 0).texts != budget_sample(POOL, 8, 1).texts


def test_seed_free_strategies_run_once_where_they_see_every_label():
    from bench.grid import build_cells

    cells = build_cells(["spam"], ["zero-shot", "rag", "few-shot"], None, [3, 1, 2], {}, {}, "cpu",
                        budgets=[8, None])
    runs = Counter((c.strategy, c.budget) for c in cells)
    assert runs == {("zero-shot", None): 1, ("rag", 8): 3, ("rag", None): 1, ("few-shot", 8): 3, ("few-shot", None): 3}
    assert {c.seed for c in cells if c.strategy != "few-shot" and c.budget is None} == {3}  # the first seed given


def test_budget_arguments():
    assert parse(["all", "32", "8"]) == [8, 32, None]
    for bad in (["0"], ["x"], ["8", "8"]):
        with pytest.raises(BenchError):
            parse(bad)


def _record(task, strategy, family, budget, seed, accuracy, uses_labels=True, model="m", n_test=1000):
    half = 1.96 * (accuracy * (1 - accuracy) / n_test) ** 0.5
    return {"status": "ok", "key": f"{task}{strategy}{budget}{seed}",
            "cell": {"task": task, "strategy": strategy, "model": model, "seed": seed, "budget": budget},
            "metrics": {"accuracy": accuracy, "macro_f1": accuracy, "accuracy_ci95": [accuracy - half, accuracy + half]},
            "cost": {"fit_seconds": 1.0 + (budget or 500), "predict_seconds": 1.0, "peak_rss_mb": 500,
                     "trainable_params": 10, "total_params": 100},
            "data": {"n_train": 10, "n_test": n_test}, "config": {"task": {"description": "d"}},
            "provenance": {"strategy": {"family": family, "uses_labels": uses_labels}}}


def _grid(curve_trained, curve_prompted, zero_shot, noise=0.0):
    recs = []
    for seed in range(3):
        jitter = noise * (seed - 1)
        for budget, acc in curve_trained.items():
            recs.append(_record("t", "lora", "training", budget, seed, acc + jitter))
        for budget, acc in curve_prompted.items():
            recs.append(_record("t", "rag", "prompting", budget, seed, acc + jitter))
        recs.append(_record("t", "zero-shot", "prompting", None, seed, zero_shot, uses_labels=False))
    return recs


def _crossover(recs):
    table = report.aggregate(recs)
    return analysis.crossover(table.to_dict("records"), "t")


def test_crossover_is_the_smallest_budget_from_which_training_leads():
    cross = _crossover(_grid({8: 0.60, 32: 0.80, 128: 0.90, None: 0.93}, {8: 0.70, 32: 0.72, 128: 0.74, None: 0.75}, 0.65))
    assert cross.found and cross.budget == "32" and cross.beyond_noise
    assert cross.gap == pytest.approx(0.08)
    assert "from 32 labels per class" in cross.sentence()


def test_label_free_prompting_counts_at_every_budget():
    cross = _crossover(_grid({8: 0.60, 32: 0.70, None: 0.86}, {8: 0.50, 32: 0.55, None: 0.60}, 0.85))
    assert cross.found and cross.at_all and cross.prompted == "zero-shot m"
    assert not cross.beyond_noise  # 86 vs 85 on 1000 test texts is within noise


def test_when_prompting_stays_ahead_it_says_so():
    cross = _crossover(_grid({8: 0.5, None: 0.6}, {8: 0.7, None: 0.8}, 0.5, noise=0.01))
    assert not cross.found and "stays ahead" in cross.sentence()


def test_pareto_front():
    points = [(1, 50), (2, 70), (3, 60), (10, 90), (0.5, 40)]
    assert sorted(analysis.pareto_front(points)) == [0, 1, 3, 4]


def test_report_writes_plots_and_curve_tables_from_records(tmp_path):
    recs = _grid({8: 0.6, 32: 0.8, None: 0.9}, {8: 0.7, 32: 0.72, None: 0.75}, 0.65)
    curves = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_accuracy": 0.5 + e / 10} for e in (1, 2, 3)]
    trained = next(r for r in recs if r["cell"]["strategy"] == "lora" and r["cell"]["budget"] is None)
    trained["extra"] = {"training": {"curves": curves, "best_epoch": 3}}  # as bench.training.History reports them
    small = next(r for r in recs if r["cell"]["strategy"] == "lora" and r["cell"]["budget"] == 8)
    small["extra"] = {"training": {"curves": curves[:1], "best_epoch": 1}}
    assert plots.largest_budget([small, trained]) == [trained]  # the plot shows the whole training split's runs
    for i, r in enumerate(recs):
        records.write_atomic(tmp_path / "records" / f"r{i}.json", r)
    md, csv, _ = report.write(tmp_path)
    board = md.read_text()
    for kind in ("budget", "cost", "curves"):
        png = tmp_path / "plots" / f"t-{kind}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"(plots/t-{kind}.png)" in board
    assert "| 8 / class | 32 / class | all |" in board
    assert "**Crossover.** t: training (lora m) overtakes prompting" in board
