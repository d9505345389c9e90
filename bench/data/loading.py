"""A task card's rows become a clean, fixed train/test pair: `load_task(card)`.

It reads the card's source, picks the text and label columns, maps label
values to ids, cleans markup, drops repeated texts (and training texts that
also occur in the test split, so nothing leaks), makes a stratified split
with the card's fixed `split_seed` when the source has no test split, applies
the size caps, and checks what a run needs (two classes, no test-only labels).
The run seed never changes the test set: every strategy and seed sees the same.
A card without labels gets the sorted distinct label values of its training
data (`infer_labels`).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bench.contracts import Split, TaskCard, TaskData
from bench.errors import BenchError

if TYPE_CHECKING:
    import pandas as pd


def clean_text(text: str, how: str) -> str:
    if how == "html":
        text = re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text).strip()


def _column(frame: "pd.DataFrame", name: str, role: str, where: str) -> list:
    if name not in frame.columns:
        have = ", ".join(map(str, frame.columns))
        raise BenchError(f"{where}: no {role} column {name!r} (columns: {have}); set {role}_field in the task card")
    return frame[name].tolist()


def _label_ids(values: list, card: TaskCard, where: str) -> list[int]:
    raw = [str(v).strip() for v in values]
    lookup = {r: i for i, r in enumerate(card.raw_labels or card.labels)}
    lookup.update({name: i for i, name in enumerate(card.labels)})
    if all(r not in lookup for r in raw) and all(r.isdigit() and int(r) < len(card.labels) for r in raw):
        return [int(r) for r in raw]  # integer-coded labels, e.g. the hub's parquet files
    unknown = sorted({r for r in raw if r not in lookup})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise BenchError(
            f"{where}: label value(s) {shown} are not among the task's labels "
            f"({', '.join(card.raw_labels or card.labels)}); fix the data or the card's labels"
        )
    return [lookup[r] for r in raw]


def _to_split(frame: "pd.DataFrame", card: TaskCard, where: str) -> Split:
    texts = _column(frame, card.text_field, "text", where)
    labels = _column(frame, card.label_field, "label", where)
    keep = [i for i, (t, y) in enumerate(zip(texts, labels)) if _present(t) and _present(y)]
    texts = [clean_text(str(texts[i]), card.clean) for i in keep]
    ids = _label_ids([labels[i] for i in keep], card, where)
    pairs = [(t, y) for t, y in zip(texts, ids) if t]
    if not pairs:
        raise BenchError(f"{where}: no rows with both a text and a label")
    return Split([t for t, _ in pairs], [y for _, y in pairs])


def _present(value: object) -> bool:
    return value is not None and value == value and str(value).strip() != ""  # value == value: not NaN


def _dedupe(split: Split, exclude: set[str] = frozenset()) -> tuple[Split, int]:
    seen: set[str] = set(exclude)
    texts, labels = [], []
    for t, y in zip(split.texts, split.labels):
        if t not in seen:
            seen.add(t)
            texts.append(t)
            labels.append(y)
    return Split(texts, labels), len(split) - len(texts)


def _stratified_take(split: Split, n: int, seed: int) -> tuple[Split, Split]:
    """(sample of n, rest), stratified by label, deterministic for a seed."""
    from sklearn.model_selection import train_test_split

    if n >= len(split):
        return split, Split([], [])
    idx = list(range(len(split)))
    counts = {y: split.labels.count(y) for y in set(split.labels)}
    can_stratify = min(counts.values()) >= 2 and n >= len(counts) and len(split) - n >= len(counts)
    stratify = split.labels if can_stratify else None
    take, rest = train_test_split(idx, train_size=n, random_state=seed, stratify=stratify)
    return split.subset(sorted(take)), split.subset(sorted(rest))


def with_labels(card: TaskCard, train: "pd.DataFrame") -> TaskCard:
    """The card itself if it names its labels, else with the sorted distinct label values of `train`."""
    if card.labels:
        return card
    where = f"task {card.name} ({card.source.describe()})"
    _column(train, card.text_field, "text", where)
    values = sorted({str(v).strip() for v in _column(train, card.label_field, "label", where) if _present(v)})
    if len(values) < 2:
        raise BenchError(f"task {card.name}: the training data has {len(values)} label value(s); need at least two")
    return replace(card, labels=tuple(values), label_words=card.label_words or tuple(values))


def load_task(card: TaskCard) -> TaskData:
    """The task's clean, fixed train/test pair."""
    return resolve(card)[1]


def resolve(card: TaskCard) -> tuple[TaskCard, TaskData]:
    """The card (labels filled in when it lets the data name them) and its data, read once."""
    train_frame, test_frame = card.source.load()
    card = with_labels(card, train_frame)
    where = f"task {card.name} ({card.source.describe()})"
    train = _to_split(train_frame, card, where + " train")
    notes: list[str] = []
    if test_frame is None:
        if card.dedupe:
            train, dropped = _dedupe(train)
            if dropped:
                notes.append(f"dropped {dropped} repeated texts before splitting")
        n_test = round(len(train) * card.test_fraction)
        if n_test < len(set(train.labels)):
            raise BenchError(f"{where}: too few rows ({len(train)}) to hold out a test split; "
                             "add data or give a test file")
        test, train = _stratified_take(train, n_test, card.split_seed)
        notes.append(f"test split: stratified {card.test_fraction:.0%} of the data, split_seed {card.split_seed}")
    else:
        test = _to_split(test_frame, card, where + " test")
        if card.dedupe:
            test, dropped_test = _dedupe(test)
            train, dropped = _dedupe(train, exclude=set(test.texts))
            if dropped or dropped_test:
                notes.append(f"dropped {dropped} repeated or test-overlapping training texts, "
                             f"{dropped_test} repeated test texts")
    if card.n_test is not None and len(test) > card.n_test:
        test, _ = _stratified_take(test, card.n_test, card.split_seed)
        notes.append(f"test capped at {card.n_test} (stratified, split_seed {card.split_seed})")
    if card.n_train is not None and len(train) > card.n_train:
        train, _ = _stratified_take(train, card.n_train, card.split_seed)
        notes.append(f"training pool capped at {card.n_train} (stratified, split_seed {card.split_seed})")
    _check(train, test, card, where)
    return card, TaskData(train=train, test=test, label_names=card.labels,
                          fingerprint=fingerprint(train, test), notes=tuple(notes))


def _check(train: Split, test: Split, card: TaskCard, where: str) -> None:
    in_train = set(train.labels)
    if len(in_train) < 2:
        raise BenchError(f"{where}: the training data has only one class ({card.labels[train.labels[0]]}); "
                         "a classifier needs at least two")
    only_test = sorted(set(test.labels) - in_train)
    if only_test:
        names = ", ".join(card.labels[i] for i in only_test)
        raise BenchError(f"{where}: label(s) {names} occur in the test split but never in training; "
                         "add training examples for them or drop them from the test data")
    if not test.texts:
        raise BenchError(f"{where}: the test split is empty")


def fingerprint(train: Split, test: Split) -> str:
    digest = hashlib.sha256()
    for name, split in (("train", train), ("test", test)):
        digest.update(name.encode())
        for t, y in zip(split.texts, split.labels):
            digest.update(f"{y}\t{t}\n".encode())
    return digest.hexdigest()
