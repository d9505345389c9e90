"""The registry: built-ins, lookups with suggestions, duplicate names, and plugins checked as they load.

The plugin tests install nothing: a `*.dist-info` folder on PYTHONPATH is a
real distribution to importlib.metadata, so its entry points load exactly as
an installed package's would (test_plugin.py installs one with pip).
"""


import pytest

from bench.contracts import NoConfig, ParameterCounts, contract_problems
from bench.errors import BenchError
from bench.registry import STRATEGIES, TASKS, Registry
from conftest import run_bench, sentiment_rows, write_csv


def test_builtins_are_listed_with_their_origin():
    assert {"majority", "head-only", "knn", "lora", "rag"} <= set(STRATEGIES.names())
    assert {"imdb", "spam", "spam-email", "20newsgroups"} <= set(TASKS.names())
    assert STRATEGIES.origin("majority") == TASKS.origin("imdb") == "built-in"
    assert TASKS.get("imdb").source.kind == "packaged-table"  # built-in cards are TOML files in tasks/


def test_unknown_name_suggests_the_closest():
    with pytest.raises(BenchError, match="did you mean 'head-only'"):
        STRATEGIES.get("head-onyl")
    with pytest.raises(BenchError, match="unknown task 'imbd': did you mean 'imdb'"):
        TASKS.get("imbd")


def test_a_name_registered_twice_is_an_error():
    registry = Registry("strategy", lambda r: None, "bench.test-none", check=lambda obj: [])
    registry.register("x")(object())
    with pytest.raises(BenchError, match="registered twice"):
        registry.register("x")(object())


class _WithoutConfig:
    def fit(self, train, task): ...
    def predict(self, texts): ...
    def parameter_counts(self): ...


class _WithoutPredict:
    Config = NoConfig

    def fit(self, train, task): ...
    def parameter_counts(self): return ParameterCounts(0, 0)


def test_the_contract_names_what_a_class_lacks():
    assert contract_problems(STRATEGIES.get("knn")) == []
    assert contract_problems(_WithoutConfig) == ["has no Config dataclass (its options; use "
                                                 "bench.contracts.NoConfig for none)"]
    assert contract_problems(_WithoutPredict) == ["has neither predict(texts) nor predict_proba(texts)"]
    assert contract_problems(len) == ["is a builtin_function_or_method, not a class"]


GOOD = '''
from collections import Counter
from bench.contracts import ParameterCounts


class FirstWord:
    """Not inheriting from bench.contracts.Strategy: the contract is all it needs."""

    from bench.contracts import NoConfig as Config
    default_model = None

    def __init__(self, config, model=None, context=None):
        self.config = config

    def fit(self, train, task):
        self.label_of = {}
        for text, label in zip(train.texts, train.labels):
            self.label_of.setdefault(text.split()[0], Counter())[label] += 1
        self.default = Counter(train.labels).most_common(1)[0][0]

    def predict(self, texts):
        counts = [self.label_of.get(t.split()[0]) for t in texts]
        return [c.most_common(1)[0][0] if c else self.default for c in counts]

    def parameter_counts(self):
        return ParameterCounts(0, 0)
'''

MALFORMED = '''
class NoConfigHere:
    default_model = None

    def fit(self, train, task):
        pass

    def predict(self, texts):
        return [0] * len(texts)

    def parameter_counts(self):
        return None
'''


@pytest.fixture
def plugins(tmp_path) -> dict:
    """A distribution advertising a good strategy, a malformed one and one whose module does not import."""
    (tmp_path / "good_plugin.py").write_text(GOOD)
    (tmp_path / "malformed_plugin.py").write_text(MALFORMED)
    dist = tmp_path / "three_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: three-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.strategies]\nfirst-word = good_plugin:FirstWord\n"
                                           "no-config = malformed_plugin:NoConfigHere\n"
                                           "missing = no_such_module:Anything\n")
    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return {"PYTHONPATH": str(tmp_path), "COLUMNS": "250"}


def test_a_malformed_plugin_is_one_line_naming_it_and_the_good_one_runs(tmp_path, plugins):
    good = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "first-word",
                     "--results", str(tmp_path / "results"), env=plugins)
    assert good.returncode == 0, good.stderr
    assert "3 cell(s) run" in " ".join(good.stderr.split())  # the plugin, and the reference rows
    board = (tmp_path / "results" / "LEADERBOARD.md").read_text()
    rows = {line.split("|")[1].strip(): float(line.split("|")[4].split()[0]) for line in board.splitlines()
            if line.startswith("| ") and not line.startswith("| strategy")}
    assert rows["first-word"] > rows["majority (baseline)"]  # it ran, and learned something

    bad = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "no-config",
                    "--results", str(tmp_path / "results"), env=plugins)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in bad.stderr
    assert "strategy 'no-config' (plugin three-plugins (malformed_plugin:NoConfigHere)) is broken" in lines[0]
    assert "has no Config dataclass" in lines[0]

    missing = run_bench("run", "--tasks", "spam", "--strategies", "missing", env=plugins)
    assert missing.returncode == 2 and "failed to load: ModuleNotFoundError" in missing.stderr

    listed = run_bench("ls", env=plugins)
    assert listed.returncode == 0
    assert "first-word" in listed.stdout and "plugin three-plugins" in listed.stdout
    broken = listed.stdout[listed.stdout.index("broken plugins"):]
    assert "no-config" in broken and "missing" in broken and "first-word" not in broken
