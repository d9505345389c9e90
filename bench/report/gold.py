"""The test split behind a leaderboard's records: its texts and gold labels, loaded once per data set.

A record keeps every test prediction but not the test texts. To show a run's
confusion matrix and the texts it got wrong, the report loads each data set
once: the card rebuilt from a record (`bench.data.cards.from_json`) and read
with `bench.data.loading.resolve`, as a run reads it. A card whose source is
known only by its description (a plugin's own kind of source, or a record
upgraded from schema 1) falls back to the registered task of the same name; a
user's local data file, recorded relative to where `bench run` ran, is also
looked for beside the results folder.
In every case the loaded data's fingerprint must be the one the records hold;
otherwise the split is `Unavailable`, with the reason, and the report shows
what it can without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.run.records import Record


@dataclass(frozen=True)
class Gold:
    """A task's fixed test split, as the records' predictions index it."""

    texts: list[str]
    labels: list[int]
    label_names: tuple[str, ...]


@dataclass(frozen=True)
class Unavailable:
    """Why the test split could not be had (the records still give metrics, costs and curves)."""

    reason: str


def load_all(records: list[Record], roots: tuple[Path, ...] = ()) -> dict[str, Gold | Unavailable]:
    """The test split of every data fingerprint among `records`, each loaded once (`roots`: see `load`)."""
    by_fingerprint: dict[str, list[Record]] = {}
    for record in records:
        if record.data is not None:
            by_fingerprint.setdefault(record.data.fingerprint, []).append(record)
    return {fingerprint: load(group, fingerprint, roots) for fingerprint, group in by_fingerprint.items()}


def load(records: list[Record], fingerprint: str, roots: tuple[Path, ...] = ()) -> Gold | Unavailable:
    """The test split of data whose fingerprint is `fingerprint`, from the first card among `records` that gives it.

    A user's card keeps its data paths as `bench run` was given them, relative to where it ran; they are
    tried as they are (from here), then under each of `roots` (the folder that holds the results folder).
    """
    from bench.data.loading import resolve

    reasons = []
    for card in _rebased(_candidates(records), roots):
        try:
            card, data = resolve(card)
        except Exception as exc:  # noqa: BLE001: any failure to load is a reason shown on the page, not a crash
            reasons.append(str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}")
            continue
        if data.fingerprint == fingerprint:
            return Gold(list(data.test.texts), list(data.test.labels), tuple(card.labels))
        reasons.append(f"the data of task {card.name} as loaded here has fingerprint {data.fingerprint[:12]}, "
                       f"not the records' {fingerprint[:12]} (the data changed since they ran)")
    if not reasons:
        name = records[0].cell.task
        reasons.append(f"the records describe the data of task {name} but not how to load it, and no task of that "
                       "name is registered")
    return Unavailable("; ".join(dict.fromkeys(reasons)))


def _rebased(cards, roots: tuple[Path, ...]):
    """Each card, then for a local source with relative paths, the same card with its paths under each root."""
    from dataclasses import replace

    from bench.data.sources.tables import LocalTable

    for card in cards:
        yield card
        source = card.source
        if not isinstance(source, LocalTable) or Path(source.path).expanduser().is_absolute():
            continue
        for root in roots:
            if (root / source.path).exists():
                test = None if source.test_path is None else str(root / source.test_path)
                yield replace(card, source=LocalTable(str(root / source.path), test))


def _candidates(records: list[Record]):
    """The cards to try: each distinct card the records ran with, then the registered task of that name."""
    import json

    from bench.data.cards import Described, from_json

    seen, described = set(), []
    for record in records:
        blob = json.dumps(record.config.task, sort_keys=True)
        if blob in seen:
            continue
        seen.add(blob)
        try:
            card = from_json(record.config.task)
        except Exception:  # noqa: BLE001: a card this bench cannot rebuild; the registered task may still do
            described.append(record.cell.task)
            continue
        if isinstance(card.source, Described):
            described.append(card.name)
        else:
            yield card
    for name in dict.fromkeys(described):
        registered = _registered(name)
        if registered is not None:
            yield registered


def _registered(name: str):
    from bench.registry import TASKS

    try:
        return TASKS.get(name)
    except BenchError:
        return None
