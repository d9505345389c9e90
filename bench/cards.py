"""Task cards from TOML files: a user's own data without writing Python.

    # reviews.toml
    name = "my-reviews"
    path = "reviews.csv"          # CSV, TSV, JSONL, JSON or parquet; relative to this file
    test_path = "reviews-test.csv" # optional; without it a stratified test split is held out
    text_field = "review"          # default "text"
    label_field = "stars"          # default "label"
    labels = ["bad", "good"]       # optional; default: the sorted distinct values
    label_words = ["bad", "good"]  # optional; what a language model answers
    instruction = "Is this review good or bad?"

`bench run --tasks reviews.toml` then runs it like a built-in task.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from bench.contracts import TaskCard
from bench.data import LocalTable
from bench.errors import BenchError

_CARD_ONLY = {"path", "test_path"}
_ALLOWED = {f.name for f in fields(TaskCard)} - {"source"} | _CARD_ONLY
_TUPLES = {"labels", "raw_labels", "label_words"}


def load_card(path: str | Path) -> TaskCard:
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchError(f"task card {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"task card {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise BenchError(f"task card {path}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED))}")
    if "path" not in raw:
        raise BenchError(f"task card {path}: missing field 'path' (the data file or folder)")
    resolve = lambda p: str(p if Path(p).is_absolute() else (path.parent / p))
    source = LocalTable(resolve(raw.pop("path")),
                        resolve(raw.pop("test_path")) if "test_path" in raw else None)
    for key in _TUPLES & set(raw):
        if not isinstance(raw[key], list) or not all(isinstance(v, (str, int)) for v in raw[key]):
            raise BenchError(f"task card {path}: {key} must be a list of strings")
        raw[key] = tuple(str(v) for v in raw[key])
    raw.setdefault("name", path.stem)
    raw.setdefault("labels", ())
    raw.setdefault("description", f"user task from {path.name}")
    if "labels" in raw and raw.get("label_words") and len(raw["label_words"]) != len(raw["labels"]):
        raise BenchError(f"task card {path}: label_words needs one entry per label ({len(raw['labels'])})")
    try:
        card = TaskCard(source=source, **raw)
    except TypeError as exc:
        raise BenchError(f"task card {path}: {exc}") from None
    if not card.label_words and card.labels:
        card = TaskCard(**{**card.__dict__, "label_words": card.labels})
    if not card.instruction:
        card = TaskCard(**{**card.__dict__, "instruction": "Which category does this text belong to?"})
    return card
