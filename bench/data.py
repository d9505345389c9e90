"""Where task data comes from, and how it becomes a clean, fixed train/test pair.

Sources:
- `PackagedTable`: tables inside a pinned artifact (see bench.assets).
- `LocalTable`: a user's own copy: one file (CSV, TSV, JSONL, JSON, parquet),
  a folder holding `*train*` / `*test*` files of those kinds (the hub's parquet
  layout), or a folder laid out as `{train,test}/<label>/*.txt` (aclImdb).

`load_task(card)` then applies the card: picks the text and label columns, maps
label values to ids, cleans markup, drops repeated texts (and training texts that
also occur in the test split, so nothing leaks), makes a stratified split with
the card's fixed `split_seed` when the source has no test split, applies the
size caps, and checks what a run needs (two classes, no test-only labels).
The run seed never changes the test set: every strategy and seed sees the same.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bench import assets
from bench.contracts import Split, TaskCard, TaskData
from bench.errors import BenchError

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class PackagedTable:
    """Train (and optionally test) tables inside a pinned artifact."""

    artifact: str  # package name in bench.assets.ARTIFACTS
    train: str  # member path inside the archive
    test: str | None = None
    format: str = "csv"  # csv | tsv-label-text (no header: label<TAB>text) | json

    def describe(self) -> str:
        art = assets.artifact(self.artifact)
        return f"{art.spec} (sha256 {art.sha256[:12]}...): {self.train}" + (f", {self.test}" if self.test else "")

    def load(self) -> tuple["pd.DataFrame", "pd.DataFrame | None"]:
        art = assets.artifact(self.artifact)
        read = lambda member: _read_table(io.BytesIO(assets.read_member(art, member)), self.format, member)
        return read(self.train), (read(self.test) if self.test else None)


@dataclass(frozen=True)
class LocalTable:
    """A user's local copy of a data set: a file or a folder."""

    path: str
    test_path: str | None = None

    def describe(self) -> str:
        return self.path + (f", {self.test_path}" if self.test_path else "")

    def load(self) -> tuple["pd.DataFrame", "pd.DataFrame | None"]:
        path = Path(self.path).expanduser()
        if not path.exists():
            raise BenchError(f"data path {path} does not exist; point the task at an existing file or folder")
        if self.test_path:
            return _read_file(path), _read_file(Path(self.test_path).expanduser())
        if path.is_file():
            return _read_file(path), None
        if (path / "train").is_dir() and any(p.is_dir() for p in (path / "train").iterdir()):
            return _read_label_folders(path / "train"), (
                _read_label_folders(path / "test") if (path / "test").is_dir() else None
            )
        train_files = _split_files(path, "train")
        if not train_files:
            raise BenchError(
                f"no data found in folder {path}: expected train/<label>/*.txt folders "
                f"or files named *train*{{{','.join(TABLE_SUFFIXES)}}}"
            )
        test_files = _split_files(path, "test")
        concat = lambda files: _concat([_read_file(f) for f in files])
        return concat(train_files), (concat(test_files) if test_files else None)


def _split_files(folder: Path, split: str) -> list[Path]:
    return sorted(
        p for p in folder.rglob(f"*{split}*")
        if p.is_file() and p.suffix in TABLE_SUFFIXES and "unsupervised" not in p.name
    )


def _concat(frames: list["pd.DataFrame"]) -> "pd.DataFrame":
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _read_label_folders(folder: Path) -> "pd.DataFrame":
    """aclImdb layout: <folder>/<label>/*.txt, one text per file."""
    import pandas as pd

    rows = []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "unsup"):
        for f in sorted(label_dir.glob("*.txt")):
            rows.append({"text": _decode(f.read_bytes(), f), "label": label_dir.name})
    if not rows:
        raise BenchError(f"no .txt files under {folder}/<label>/; expected the aclImdb layout")
    return pd.DataFrame(rows)


def _decode(raw: bytes, where: object) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BenchError(f"{where} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8") from None


def _read_file(path: Path) -> "pd.DataFrame":
    if not path.is_file():
        raise BenchError(f"data file {path} does not exist")
    fmt = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}.get(path.suffix)
    if fmt is None:
        raise BenchError(f"data file {path}: unsupported type {path.suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    return _read_table(path, fmt, str(path))


def _read_table(source, fmt: str, where: str) -> "pd.DataFrame":
    """One table from a path or file-like object, as strings."""
    import pandas as pd

    try:
        if fmt == "parquet":
            frame = pd.read_parquet(source)
        else:
            raw = source.read() if hasattr(source, "read") else Path(source).read_bytes()
            text = _decode(raw, where)
            if not text.strip():
                raise BenchError(f"data file {where} is empty; give it a header and at least one row per class")
            if fmt == "csv":
                frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            elif fmt == "tsv":
                frame = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
            elif fmt == "tsv-label-text":
                pairs = [line.split("\t", 1) for line in text.splitlines() if line.strip()]
                frame = pd.DataFrame([p for p in pairs if len(p) == 2], columns=["label", "text"])
            elif fmt == "jsonl":
                frame = pd.DataFrame([json.loads(line) for line in text.splitlines() if line.strip()])
            elif fmt == "json":
                frame = pd.DataFrame(json.loads(text))
            else:
                raise BenchError(f"{where}: unknown table format {fmt!r}")
    except BenchError:
        raise
    except (ValueError, TypeError, pd.errors.ParserError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"could not read {where} as {fmt}: {first}") from None
    if frame.empty:
        raise BenchError(f"data file {where} has no rows; add at least one row per class")
    return frame


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
    stratify = split.labels if min(counts.values()) >= 2 and n >= len(counts) and len(split) - n >= len(counts) else None
    take, rest = train_test_split(idx, train_size=n, random_state=seed, stratify=stratify)
    pick = lambda ids: Split([split.texts[i] for i in sorted(ids)], [split.labels[i] for i in sorted(ids)])
    return pick(take), pick(rest)


def infer_labels(card: TaskCard) -> TaskCard:
    """A card without labels gets the sorted distinct label values of its training data."""
    if card.labels:
        return card
    train, _ = card.source.load()
    where = f"task {card.name} ({card.source.describe()})"
    _column(train, card.text_field, "text", where)
    values = sorted({str(v).strip() for v in _column(train, card.label_field, "label", where) if _present(v)})
    if len(values) < 2:
        raise BenchError(f"task {card.name}: the training data has {len(values)} label value(s); need at least two")
    return replace(card, labels=tuple(values), label_words=card.label_words or tuple(values))


def load_task(card: TaskCard) -> TaskData:
    card = infer_labels(card)
    where = f"task {card.name} ({card.source.describe()})"
    train_frame, test_frame = card.source.load()
    train = _to_split(train_frame, card, where + " train")
    notes: list[str] = []
    if test_frame is None:
        if card.dedupe:
            train, dropped = _dedupe(train)
            if dropped:
                notes.append(f"dropped {dropped} repeated texts before splitting")
        n_test = round(len(train) * card.test_fraction)
        if n_test < len(set(train.labels)):
            raise BenchError(f"{where}: too few rows ({len(train)}) to hold out a test split; add data or give a test file")
        test, train = _stratified_take(train, n_test, card.split_seed)
        notes.append(f"test split: stratified {card.test_fraction:.0%} of the data, split_seed {card.split_seed}")
    else:
        test = _to_split(test_frame, card, where + " test")
        if card.dedupe:
            test, dropped_test = _dedupe(test)
            train, dropped = _dedupe(train, exclude=set(test.texts))
            if dropped or dropped_test:
                notes.append(f"dropped {dropped} repeated or test-overlapping training texts, {dropped_test} repeated test texts")
    if card.n_test is not None and len(test) > card.n_test:
        test, _ = _stratified_take(test, card.n_test, card.split_seed)
        notes.append(f"test capped at {card.n_test} (stratified, split_seed {card.split_seed})")
    if card.n_train is not None and len(train) > card.n_train:
        train, _ = _stratified_take(train, card.n_train, card.split_seed)
        notes.append(f"training pool capped at {card.n_train} (stratified, split_seed {card.split_seed})")
    _check(train, test, card, where)
    return TaskData(train=train, test=test, label_names=card.labels,
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
