"""One generic registry for strategies and tasks.

Built-ins register themselves with a decorator when their module is imported.
Third-party packages advertise theirs as entry points (group `bench.strategies`
or `bench.tasks`); they are loaded lazily, the first time a name is looked up or
listed, under their advertised name. `BENCH_DISABLE_PLUGIN_AUTOLOAD=1` turns the
entry-point loading off. `BENCH_PLUGINS=module[,module]` imports modules that
register with the decorator themselves: a strategy in a local file, no package. A name registered twice is an error, and an unknown
name gets a "did you mean" suggestion.
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


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    origin: str  # "built-in" or "plugin <distribution> (<module>)"


class Registry(Generic[T]):
    """Names to objects, filled by decorators (built-ins) and entry points (plugins)."""

    def __init__(self, kind: str, builtin_package: str, entry_point_group: str):
        self.kind = kind  # "strategy" or "task", for messages
        self.builtin_package = builtin_package
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False
        self._loading_origin = "built-in"

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@STRATEGIES.register("majority")`."""

        def decorate(obj: T) -> T:
            self.add(name, obj, self._loading_origin)
            return obj

        return decorate

    def add(self, name: str, obj: T, origin: str) -> None:
        if name in self._entries and self._entries[name].obj is not obj:
            raise BenchError(
                f"{self.kind} {name!r} is registered twice "
                f"({self._entries[name].origin} and {origin}); rename one of them"
            )
        self._entries[name] = Entry(name, obj, origin)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            raise BenchError(self._unknown(name))
        return self._entries[name].obj

    def entries(self) -> list[Entry[T]]:
        self._load()
        return sorted(self._entries.values(), key=lambda e: e.name)

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
        self._import_builtins()
        for module in filter(None, os.environ.get(PLUGIN_MODULES, "").split(",")):
            self._loading_origin = f"plugin module {module.strip()}"
            try:
                importlib.import_module(module.strip())
            except ImportError as exc:
                raise BenchError(f"{PLUGIN_MODULES}: cannot import {module.strip()!r} ({exc}); "
                                 "check the module name and PYTHONPATH") from None
            finally:
                self._loading_origin = "built-in"
        if os.environ.get(AUTOLOAD_SWITCH, "") not in ("", "0"):
            return
        for ep in entry_points(group=self.entry_point_group):
            dist = ep.dist.name if ep.dist else "?"
            origin = f"plugin {dist} ({ep.value})"
            try:
                obj: Any = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others
                raise BenchError(
                    f"{self.kind} plugin {ep.name!r} from {dist} failed to load: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall it, or set {AUTOLOAD_SWITCH}=1"
                ) from exc
            self.add(ep.name, obj, origin)

    def _import_builtins(self) -> None:
        package = importlib.import_module(self.builtin_package)
        for module in getattr(package, "BUILTINS", ()):
            importlib.import_module(f"{self.builtin_package}.{module}")


STRATEGIES: Registry[Any] = Registry("strategy", "bench.strategies", "bench.strategies")
TASKS: Registry[Any] = Registry("task", "bench.tasks", "bench.tasks")
