"""The registry: built-ins, lookups with suggestions, duplicate names (plugins: test_plugin.py)."""

import pytest

from bench.errors import BenchError
from bench.registry import STRATEGIES, TASKS, Registry


def test_builtins_are_listed_with_their_origin():
    assert {"majority", "head-only"} <= set(STRATEGIES.names())
    assert {"imdb", "spam"} <= set(TASKS.names())
    assert STRATEGIES.origin("majority") == "built-in"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(BenchError, match="did you mean 'head-only'"):
        STRATEGIES.get("head-onyl")
    with pytest.raises(BenchError, match="unknown task 'imbd': did you mean 'imdb'"):
        TASKS.get("imbd")


def test_a_name_registered_twice_is_an_error():
    registry = Registry("strategy", "bench.strategies", "bench.test-none")
    registry.register("x")(object())
    with pytest.raises(BenchError, match="registered twice"):
        registry.register("x")(object())
