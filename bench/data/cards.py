"""Task cards as TOML files: the built-in tasks, and a user's own data without writing Python.

    # reviews.toml
    name = "my-reviews"
    path = "reviews.csv"          # CSV, TSV, JSONL, JSON or parquet; relative to this file
    test_path = "reviews-test.csv" # optional; without it a stratified test split is held out
    text_field = "review"          # default "text"
    label_field = "stars"          # default "label"
    labels = ["bad", "good"]       # optional; default: the sorted distinct values
    label_words = ["bad", "good"]  # optional; what a language model answers
    instruction = "Is this review good or bad?"

`bench run --tasks reviews.toml` then runs it like a built-in task. `path` is
shorthand for a `local-table` source; a card may instead give any kind of
source as a table (`[source]`, `kind = "packaged-table"`, ...; see
bench.data.sources), as the built-in cards in `tasks/` do. Every field of
`bench.contracts.TaskCard` may be set, the prompt template included
(`instruction`, `answer_format`, `text_format`); the card checks its values.

A card also travels as JSON (`as_json` / `from_json`): to a cell's worker and
into its record.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import ClassVar

from bench.contracts import TaskCard
from bench.data import sources
from bench.errors import BenchError
from bench.files import read_toml

_SHORTHAND = {"path", "test_path"}
_FIELDS = {f.name for f in fields(TaskCard)}
_ALLOWED = _FIELDS | _SHORTHAND
_TUPLES = {"labels", "raw_labels", "label_words"}
DEFAULT_INSTRUCTION = "Which category does this text belong to?"


def load_card(path: str | Path) -> TaskCard:
    """A task card from a TOML file; anything wrong with it is one line naming the file."""
    path = Path(path).expanduser()
    raw = read_toml(path, "task card")
    try:
        return card_from_toml(raw, path.parent, default_name=path.stem, where=f"task card {path}")
    except BenchError as exc:
        message = str(exc)
        raise BenchError(message if str(path) in message else f"task card {path}: {message}") from None


def card_from_toml(raw: dict, folder: Path, default_name: str, where: str) -> TaskCard:
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise BenchError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED))}")
    raw = dict(raw)
    if "source" in raw and "path" in raw:
        raise BenchError(f"{where}: give either path (a local file) or a [source] table, not both")
    if "path" in raw:
        raw["source"] = {"kind": "local-table", "path": raw.pop("path"), "test_path": raw.pop("test_path", None)}
    elif "test_path" in raw:
        raise BenchError(f"{where}: test_path needs path (the training data file or folder)")
    if not isinstance(raw.get("source"), dict):
        raise BenchError(f"{where}: missing field 'path' (the data file or folder) or a [source] table")
    source = sources.from_fields(_relative_to(raw.pop("source"), folder), where)
    for key in _TUPLES & set(raw):
        if not isinstance(raw[key], list) or not all(isinstance(v, (str, int)) for v in raw[key]):
            raise BenchError(f"{where}: {key} must be a list of strings")
        raw[key] = tuple(str(v) for v in raw[key])
    raw.setdefault("name", default_name)
    raw.setdefault("description", f"user task from {default_name}")
    raw.setdefault("labels", ())
    raw.setdefault("instruction", DEFAULT_INSTRUCTION)
    if not raw.get("label_words"):
        raw["label_words"] = raw["labels"]
    return TaskCard(source=source, **raw)


def _relative_to(source: dict, folder: Path) -> dict:
    """A local source's relative paths are relative to the card."""
    if source.get("kind") != "local-table":
        return source
    resolve = lambda p: p if p is None or Path(p).expanduser().is_absolute() else str(folder / p)  # noqa: E731
    return {**source, "path": resolve(source.get("path")), "test_path": resolve(source.get("test_path"))}


def builtin_cards() -> list[TaskCard]:
    """The cards shipped in bench.tasks (the repository's tasks/ folder), by file name."""
    folder = resources.files("bench.tasks")
    cards = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text(encoding="utf-8"))
            cards.append(card_from_toml(raw, Path("."), entry.name[:-5], f"built-in task card {entry.name}"))
    return cards


def as_json(card: TaskCard) -> dict:
    """The card as plain JSON, its source as a source table (or its description)."""
    out = {f.name: getattr(card, f.name) for f in fields(card) if f.name != "source"}
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in out.items()},
            "source": sources.as_json(card.source)}


def from_json(raw: dict) -> TaskCard:
    """The card back from `as_json`; a source of an unlisted kind becomes its description."""
    raw = dict(raw)
    source = raw.pop("source")
    kept = {k: tuple(v) if k in _TUPLES else v for k, v in raw.items() if k in _FIELDS}
    if source.get("kind") in sources.KINDS:
        return TaskCard(source=sources.from_fields(source, f"task {raw.get('name')}"), **kept)
    return TaskCard(source=Described(source.get("describe", "?")), **kept)


@dataclass(frozen=True)
class Described:
    """A source known only by its description (a plugin's own kind, seen in a record or a worker)."""

    kind: ClassVar[str] = "described"
    text: str

    def describe(self) -> str:
        return self.text

    def load(self):
        raise BenchError(f"the source {self.text!r} is known here only by its description; "
                         "load the task where its plugin is installed")


__all__ = ["DEFAULT_INSTRUCTION", "Described", "as_json", "builtin_cards", "card_from_toml", "from_json", "load_card"]
