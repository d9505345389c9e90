"""The command line: bad input gets one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_bench, sentiment_rows, write_csv

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

BAD_INPUT = [
    (["run", "--tasks", "imbd"], "unknown task 'imbd': did you mean 'imdb'"),
    (["run", "--tasks", "spam", "--strategies", "head-onyl"], "did you mean 'head-only'"),
    (["run", "--tasks", "spam", "--set", "C"], "expected NAME=VALUE"),
    (["run", "--tasks", "spam", "--strategies", "head-only", "--set", "lr=0.1"],
     "no strategy in this run has option 'lr'"),
    (["run", "--tasks", "spam", "--strategies", "head-only", "--set", "head-only.C=abc"], "not a valid float"),
    (["run", "--tasks", "spam", "--strategies", "head-only", "--set", "head-only.C=-1"], "bad option value"),
    (["run", "--tasks", "spam", "--strategies", "head-only", "--set", "zero-shot.k=4"],
     "strategy 'zero-shot' is not in this run"),
    (["run", "--tasks", "spam", "--data", "spam"], "expected TASK=PATH"),
    (["run", "--tasks", "spam", "--data", "imdb=x"], "task 'imdb' is not in this run"),
    (["run", "--tasks", "imdb", "--data", "imdb=/no/such/folder"], "does not exist"),
    (["run", "--tasks", "spam", "--seeds", "1", "1"], "a seed is repeated"),
    (["run", "--tasks", "spam", "--seeds", "one"], "invalid int value"),
    (["run", "--tasks", "no-such-card.toml"], "task card no-such-card.toml does not exist"),
    (["run", "--taks", "spam"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    (["run", "--tasks", "spam", "--max-memory", "-5"], "give a positive number of MB"),
    (["run", "--tasks", "spam", "--budgets", "0"], "positive number of labels per class"),
    (["run", "--tasks", "spam", "--budgets", "8", "8"], "give each budget once"),
    (["run", "--tasks", "spam", "--seeds", "99999999999999999999"], "a seed is a whole number from 0 to 4294967295"),
    (["run", "--tasks", "spam", "--seeds", "-3"], "a seed is a whole number"),
    (["run", "--tasks", "spam", "--results", "a-file.txt"], "--results a-file.txt is a file, not a folder"),
    (["report", "--results", "a-file.txt"], "--results a-file.txt is a file, not a folder"),
    (["run", "--tasks", "small.toml", "--budgets", "1000"], "training pool has at most 4 examples per class"),
    (["run", "--tasks", "small.toml", "--budgets", "4"], "so 4 per class is all of it; use 'all'"),
    (["run", "--tasks", "name-is-a-number.toml"], "name must be a string (got 5)"),
    (["run", "--tasks", "no-text-slot.toml"], "text_format must hold {text} once"),
    (["run", "--tasks", "small.toml", "--strategies", "majority", "--set", "majority.k=3"],
     "no strategy in this run has option 'k'"),
    (["run", "bad-study.toml"], "unknown field(s) colour"),
    (["run", "good-study.toml", "--tasks", "spam"], "--tasks: a study file sets its own grids"),
    (["run", "no-such-study.toml"], "study no-such-study.toml does not exist"),
    (["migrate", "--results", "no-such-results"], "no records in no-such-results/records"),
    (["run", "--tasks", "spam", "--tune", "1"], "give the number of configurations to try per strategy, 2 or more"),
    (["run", "--tasks", "spam", "--select-only"], "select-only needs tune"),
    (["tuning", "--results", "no-such-results"], "no records in no-such-results/records"),
    (["compare", "knn", "rag", "--results", "no-such-results"], "no records in no-such-results/records"),
    (["run", "--tasks", "spam", "--strategies", "few-shot", "--set", "few-shot.k=0"], "k must be >= 1"),
    (["run", "--tasks", "spam", "--strategies", "lora", "--set", "r=0"], "r must be >= 1"),
    (["run", "--tasks", "spam", "--strategies", "lora", "--set", "preset=nope"], "unknown preset 'nope'"),
    (["run", "--tasks", "spam", "--strategies", "rag", "--set", "rag.index=bogus"], "index must be one of"),
    (["run", "--tasks", "spam", "--strategies", "partial", "--set", "layers=-1"], "layers must be >= 0"),
    (["run", "--tasks", "spam", "--strategies", "full", "--set", "epochs=0"], "must be >= 1"),
    (["run", "--tasks", "spam", "--strategies", "knn", "--set", "knn.k=x"], "not a valid int"),
    (["run", "--tasks", "imdb", "--data", f"imdb={PYPROJECT}"], "unsupported type '.toml'"),
    (["report", "--results", "no-such-results"], "no records in no-such-results/records"),
    (["run", "--tasks", "spam", "--jobs", "0"], "--jobs 0: give how many cells run at once, 1 or more"),
    (["run", "--tasks", "spam", "--jobs", "-2"], "--jobs -2: give how many cells run at once"),
    (["run", "--tasks", "spam", "--executor", "ray", "--jobs", "2"], "--jobs is for --executor local"),
    (["run", "--tasks", "spam", "--ray-address", "127.0.0.1:1"], "give it with --executor ray"),
    (["run", "--tasks", "spam", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
     "--ray-address 127.0.0.1:1: no Ray cluster answers there"),
    (["run", "--tasks", "spam", "--executor", "dask"], "invalid choice: 'dask'"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    write_csv(tmp_path / "small.csv", sentiment_rows(5))  # 5 per class: 4 train and 1 test each
    (tmp_path / "small.toml").write_text('path = "small.csv"\n')
    (tmp_path / "name-is-a-number.toml").write_text('name = 5\npath = "small.csv"\n')
    (tmp_path / "no-text-slot.toml").write_text('path = "small.csv"\ntext_format = "Review:"\n')
    (tmp_path / "a-file.txt").write_text("not a folder")
    (tmp_path / "bad-study.toml").write_text('[[grid]]\ntasks = ["spam"]\ncolour = "red"\n')
    (tmp_path / "good-study.toml").write_text('[[grid]]\ntasks = ["small.toml"]\n')
    # An empty cache and no package index: bad input must be refused before anything is fetched.
    offline = {"BENCH_CACHE": str(tmp_path / "empty-cache"), "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull,
               "PIP_FIND_LINKS": str(tmp_path)}
    result = run_bench(*args, cwd=tmp_path, env=offline)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "results" / "records").exists()  # nothing half-started


def test_executor_ray_without_ray_installed_says_how_to_install_it(tmp_path):
    fake = tmp_path / "no-ray" / "ray"  # an import of ray that fails, as where Ray is not installed
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("No module named \'ray\'")\n')
    result = run_bench("run", "--tasks", "spam", "--executor", "ray", cwd=tmp_path,
                       env={"PYTHONPATH": str(fake.parent)})
    assert result.returncode == 2
    assert result.stderr.strip() == ("bench: error: --executor ray needs Ray, which is not installed here; "
                                     "install it with pip install 'bench[ray]'")


def test_help_ends_with_examples():
    result = run_bench("run", "--help")
    assert result.returncode == 0
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("bench run")


def test_ls_lists_tasks_and_strategies_with_origin():
    result = run_bench("ls", "--options")
    assert result.returncode == 0
    for word in ("imdb", "spam", "majority", "head-only", "built-in", "C=1.0"):
        assert word in result.stdout
