"""Label budgets, noise, the crossover statement and plots, on hand-made typed records."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bench.contracts import EpochRow, Split, TrainingInfo
from bench.data.sampling import budget_sample
from bench.files import write_json
from bench.report import analysis, plots
from bench.report.publish import publish
from bench.report.table import aggregate, flat, load
from bench.run import tuning
from bench.run.grid import GridSpec, build_cells
from bench.run.records import Trial, TuningInfo
from bench.errors import BenchError
from conftest import make_record

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
    spec = GridSpec(tasks=("spam",), strategies=("zero-shot", "rag", "few-shot"), seeds=(3, 1, 2),
                    budgets=(8, None), baseline=False)
    cells = build_cells(spec)
    runs = Counter((c.strategy, c.budget) for c in cells)
    assert runs == {("zero-shot", None): 1, ("rag", 8): 3, ("rag", None): 1, ("few-shot", 8): 3, ("few-shot", None): 3}
    assert {c.seed for c in cells if c.strategy != "few-shot" and c.budget is None} == {3}  # the first seed given


@pytest.mark.parametrize("spec, message", [
    (dict(budgets=(0,)), "positive number of labels per class"),
    (dict(budgets=(8, 8)), "give each budget once"),
    (dict(seeds=(1, 1)), "a seed is repeated"),
    (dict(seeds=(2**40,)), "a seed is a whole number from 0 to 4294967295"),
    (dict(seeds=(-1,)), "a seed is a whole number"),
    (dict(tasks=()), "at least one task"),
])
def test_a_grid_spec_checks_itself(spec, message):
    with pytest.raises(BenchError, match=message):
        GridSpec(**spec)


def _grid(curve_trained, curve_prompted, zero_shot, noise=0.0):
    recs = []
    for seed in range(3):
        jitter = noise * (seed - 1)
        for budget, acc in curve_trained.items():
            recs.append(make_record("t", "lora", "training", budget, seed, acc + jitter))
        for budget, acc in curve_prompted.items():
            recs.append(make_record("t", "rag", "prompting", budget, seed, acc + jitter))
        recs.append(make_record("t", "zero-shot", "prompting", None, seed, zero_shot, uses_labels=False))
    return recs


def _crossover(recs):
    return analysis.crossover(aggregate(recs).to_dict("records"), "t")


def test_crossover_is_the_smallest_budget_from_which_training_leads():
    cross = _crossover(_grid({8: 0.60, 32: 0.80, 128: 0.90, None: 0.93},
                             {8: 0.70, 32: 0.72, 128: 0.74, None: 0.75}, 0.65))
    assert cross.found and cross.budget == "32" and cross.beyond_noise
    assert cross.gap == pytest.approx(0.08)
    assert "from 32 labels per class" in cross.sentence()


def test_label_free_prompting_counts_at_every_budget():
    cross = _crossover(_grid({8: 0.60, 32: 0.70, None: 0.86}, {8: 0.50, 32: 0.55, None: 0.60}, 0.85))
    assert cross.found and cross.at_all and cross.prompted == "zero-shot m"
    assert not cross.beyond_noise  # 86 vs 85 on 1000 test texts is within noise


def test_when_prompting_stays_ahead_it_says_so():
    cross = _crossover(_grid({8: 0.5, None: 0.6}, {8: 0.7, None: 0.8}, 0.5, noise=0.01))
    assert not cross.found and cross.beyond_noise and "stays ahead" in cross.sentence()
    tie = _crossover(_grid({8: 0.5, None: 0.80}, {8: 0.7, None: 0.80}, 0.5))  # level at the largest: no winner
    assert not tie.found and not tie.beyond_noise and "stays ahead" not in tie.sentence()
    assert "does not overtake prompting" in tie.sentence() and "neither is ahead beyond noise" in tie.sentence()


def _tuned(record, version: int = tuning.PROTOCOL_VERSION, precision: str = "fp32"):
    info = TuningInfo("held-out", (Trial({}, (0.5,), 0.5, 1.0),), {}, {}, 1.0, version)
    return replace(record, key=record.key + f"-tuned{version}", tuning=info,
                   config=replace(record.config, precision=precision))


def test_tuned_rows_speak_for_a_strategy_whatever_precision_they_ran_in():
    recs = _grid({None: 0.70}, {None: 0.60}, 0.75)
    for seed in range(3):  # tuned lora in bf16, beside the untuned fp32 rows: its row is "lora [precision=bf16]"
        recs.append(_tuned(make_record("t", "lora", "training", None, seed, 0.85), precision="bf16"))
    cross = _crossover(recs)
    assert cross.found and cross.trained == "lora tuned m" and cross.gap == pytest.approx(0.10)


def test_a_strategy_tuned_at_some_budgets_keeps_its_untuned_rows_at_the_others():
    recs = _grid({8: 0.80, None: 0.82}, {8: 0.70, None: 0.72}, 0.60)
    for seed in range(3):  # lora tuned with every label only, as a study part-way through
        recs.append(_tuned(make_record("t", "lora", "training", None, seed, 0.90)))
    cross = _crossover(recs)
    assert cross.found and cross.budget == "8" and cross.trained == "lora m"  # untuned, and named so
    rows = analysis.at_their_best(aggregate(recs).to_dict("records"))
    assert sorted((r["budget"], r["tuned"]) for r in rows if r["strategy"] == "lora") == [("8", False), ("all", True)]


def test_rows_tuned_under_an_earlier_protocol_are_rows_of_their_own_and_give_way():
    recs = _grid({None: 0.70}, {None: 0.60}, 0.75)
    for seed in range(3):  # lora tuned under protocol 1 scored higher than under the current one
        recs.append(_tuned(make_record("t", "lora", "training", None, seed, 0.90), version=1))
        recs.append(_tuned(make_record("t", "lora", "training", None, seed, 0.80)))
    rows = [flat(r) for r in recs if r.cell.strategy == "lora" and r.tuning]
    assert sorted({r["options"] for r in rows}) == ["", "protocol=1"]
    cross = _crossover(recs)
    assert cross.trained == "lora tuned m" and cross.gap == pytest.approx(0.05)  # the current protocol's 0.80


def test_pareto_front():
    points = [(1, 50), (2, 70), (3, 60), (10, 90), (0.5, 40)]
    assert sorted(analysis.pareto_front(points)) == [0, 1, 3, 4]


def _curves(epochs: int) -> TrainingInfo:
    rows = tuple(EpochRow(e, 1 / e, 0.5 + e / 10, 1.2 / e, 0.5 + e / 10, 1.0) for e in range(1, epochs + 1))
    return TrainingInfo(rows, epochs, "rule", epochs, epochs, False, 8, 2, 10.0)


def test_report_writes_plots_and_curve_tables_from_records(tmp_path):
    import dataclasses

    recs = _grid({8: 0.6, 32: 0.8, None: 0.9}, {8: 0.7, 32: 0.72, None: 0.75}, 0.65)
    for i, r in enumerate(recs):  # lora records carry the curves bench.engines.training reports
        if r.cell.strategy == "lora":
            recs[i] = dataclasses.replace(r, training=_curves(3 if r.cell.budget is None else 1))
    trained = [r for r in recs if r.training]
    assert {r.cell.budget for r in plots.largest_budget(trained)} == {None}  # the whole training split's runs
    for i, r in enumerate(recs):
        write_json(tmp_path / "records" / f"r{i}.json", r.as_json())
    board = load(tmp_path)
    assert len(board.ok) == len(recs) and not board.damaged
    md, _, _ = publish(board, tmp_path)
    text = md.read_text()
    for kind in ("budget", "cost", "curves"):
        png = tmp_path / "plots" / f"t-{kind}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"(plots/t-{kind}.png)" in text
    assert "| 8 / class | 32 / class | all |" in text
    assert "**Crossover.** t: training (lora m) overtakes prompting" in text


def test_records_from_an_earlier_task_card_get_their_own_row():
    """A record made when imdb cut texts at 256 tokens is not averaged with one made at the card's 512."""
    from bench.registry import TASKS

    current = TASKS.get("imdb").prompt_fields()
    now = make_record("imdb", "zero-shot", "prompting", None, 0, 0.70)
    now = replace(now, config=replace(now.config, task={"name": "imdb", **current}))
    earlier = make_record("imdb", "zero-shot", "prompting", None, 1, 0.60)
    earlier = replace(earlier, key="earlier",
                      config=replace(earlier.config, task={"name": "imdb", **current, "max_tokens": 64}))
    table = aggregate([now, earlier])
    options = sorted(table.options)
    assert options == ["", "max_tokens=64"]
    assert list(table[table.options == ""].accuracy) == [0.70]


def test_the_terminal_table_shows_options_in_brackets_as_text():
    """rich reads "[...]" as markup: a row's options must still be printed."""
    from io import StringIO

    from rich.console import Console

    from bench.report.table import Leaderboard
    from bench.report.terminal import rich_tables

    knn = make_record("spam", "knn", "retrieval", None, 0, 0.9)
    knn = replace(knn, config=replace(knn.config, strategy={"k": 99}))
    console = Console(file=StringIO(), width=200)
    for renderable in rich_tables(Leaderboard([knn], [], [], aggregate([knn]))):
        console.print(renderable)
    assert "knn [k=99]" in console.file.getvalue()


def test_leaderboard_md_shows_todays_recipe_first_and_other_recipes_apart(tmp_path):
    from bench.report.markdown import OTHER_RECIPES, markdown
    from bench.report.table import Leaderboard

    recs = []
    for seed in range(3):
        recs.append(make_record("t", "lora", "training", None, seed, 0.80))
        older = make_record("t", "lora", "training", None, seed, 0.90)
        by_hand = replace(older.config, strategy={**older.config.strategy, "epochs": 3})
        recs.append(replace(older, key=older.key + "-old", config=by_hand))
        recs.append(make_record("t", "rag", "prompting", None, seed, 0.79))
        recs.append(make_record("t", "majority", "baseline", None, seed, 0.50))
    board = Leaderboard(recs, [], [], aggregate(recs))
    text = markdown(board, tmp_path)
    today, others = text.split(OTHER_RECIPES)
    assert "| lora | m | 3 | 80.0 ± 0.0" in today and "epochs=3" not in today
    assert "| lora [epochs=3] | m | 3 | 90.0 ± 0.0" in others
    assert "| rag | m | 3 | 79.0 ± 0.0 ≈" in today  # ≈ compares with today's best (80.0), not the older 90.0
    assert "| majority (baseline) | m | 3 | 50.0" in today
