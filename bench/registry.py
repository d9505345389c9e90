"""One generic registry for strategies and tasks, which checks what it registers.

Built-ins are loaded on first use: the strategy modules listed in
`bench.strategies.BUILTINS` (each registers itself with the decorator) and the
TOML cards in `bench.tasks`. Third-party packages advertise theirs as entry
points (group `bench.strategies` or `bench.tasks`), loaded lazily under their
advertised name; `BENCH_DISABLE_PLUGIN_AUTOLOAD=1` turns that off.
`BENCH_PLUGINS=module[,module]` imports modules that register with the
decorator themselves: a strategy in a local file, no package.

Every object is checked as it is registered (a strategy against the contract
in bench.contracts, a task for being a TaskCard). A built-in that fails is a
bug and raises. A plugin that fails to load or to pass the check is *broken*:
`bench ls` lists it with the reason, using it is a one-line error naming it,
and the other plugins load as usual. A name registered twice is an error, and
an unknown name gets a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from bench.errors import BenchError

T = TypeVar("T")

AUTOLOAD_SWITCH = "BENCH_DISABLE_PLUGIN_AUTOLOAD"
PLUGIN_MODULES = "BENCH_PLUGINS"
BUILT_IN = "built-in"


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    origin: str  # "built-in", "plugin <distribution> (<module>)" or "plugin module <module>"


@dataclass(frozen=True)
class Broken:
    name: str
    origin: str
    reason: str


class Registry(Generic[T]):
    """Names to objects, filled by the built-ins loader, decorators and entry points."""

    def __init__(self, kind: str, load_builtins: Callable[["Registry[T]"], None], entry_point_group: str,
                 check: Callable[[Any], list[str]]):
        self.kind = kind  # "strategy" or "task", for messages
        self.load_builtins = load_builtins
        self.entry_point_group = entry_point_group
        self.check = check
        self._entries: dict[str, Entry[T]] = {}
        self._broken: dict[str, Broken] = {}
        self._loaded = False
        self._loading_origin = BUILT_IN

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@STRATEGIES.register("majority")`."""

        def decorate(obj: T) -> T:
            self.add(name, obj, self._loading_origin)
            return obj

        return decorate

    def add(self, name: str, obj: T, origin: str) -> None:
        taken = self._entries.get(name)
        if taken is not None and taken.obj is not obj:
            message = f"{self.kind} {name!r} is registered twice ({taken.origin} and {origin}); rename one of them"
            if origin == BUILT_IN:
                raise BenchError(message)
            self._broken[name] = Broken(name, origin, message)
            return
        problems = self.check(obj)
        if problems:
            if origin == BUILT_IN:
                raise TypeError(f"built-in {self.kind} {name!r} " + "; ".join(problems))
            self._broken[name] = Broken(name, origin, "; ".join(problems))
            return
        self._entries[name] = Entry(name, obj, origin)

    def get(self, name: str) -> T:
        self._load()
        if name in self._broken:
            b = self._broken[name]
            raise BenchError(f"{self.kind} {name!r} ({b.origin}) is broken: {b.reason}; fix or uninstall it, "
                             f"or set {AUTOLOAD_SWITCH}=1")
        if name not in self._entries:
            raise BenchError(self._unknown(name))
        return self._entries[name].obj

    def entries(self) -> list[Entry[T]]:
        self._load()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def broken(self) -> list[Broken]:
        self._load()
        return sorted(self._broken.values(), key=lambda b: b.name)

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def origin(self, name: str) -> str:
        self._load()
        return self._entries[name].origin

    def _unknown(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(self._entries)) or "none"
        return f"unknown {self.kind} {name!r}: {hint}known: {known} (see `bench ls`)"

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self.load_builtins(self)
        for module in filter(None, (m.strip() for m in os.environ.get(PLUGIN_MODULES, "").split(","))):
            self._loading_origin = f"plugin module {module}"
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise BenchError(f"{PLUGIN_MODULES}: cannot import {module!r} ({exc}); "
                                 "check the module name and PYTHONPATH") from None
            finally:
                self._loading_origin = BUILT_IN
        if os.environ.get(AUTOLOAD_SWITCH, "") not in ("", "0"):
            return
        for ep in entry_points(group=self.entry_point_group):
            origin = f"plugin {ep.dist.name if ep.dist else '?'} ({ep.value})"
            try:
                obj: Any = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others
                first = (str(exc).strip().splitlines() or [""])[0]
                self._broken[ep.name] = Broken(ep.name, origin, f"failed to load: {type(exc).__name__}: {first}")
                continue
            self.add(ep.name, obj, origin)


def _import_builtin_strategies(registry: Registry) -> None:
    package = importlib.import_module("bench.strategies")
    for module in package.BUILTINS:
        importlib.import_module(f"bench.strategies.{module}")


def _load_builtin_tasks(registry: Registry) -> None:
    from bench.data.cards import builtin_cards

    for card in builtin_cards():
        registry.add(card.name, card, BUILT_IN)


def _check_strategy(obj: Any) -> list[str]:
    from bench.contracts import contract_problems

    return contract_problems(obj)


def _check_task(obj: Any) -> list[str]:
    from bench.contracts import TaskCard

    return [] if isinstance(obj, TaskCard) else [f"is a {type(obj).__name__}, not a bench.contracts.TaskCard"]


STRATEGIES: Registry[Any] = Registry("strategy", _import_builtin_strategies, "bench.strategies", _check_strategy)
TASKS: Registry[Any] = Registry("task", _load_builtin_tasks, "bench.tasks", _check_task)
