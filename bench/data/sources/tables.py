"""Table sources: a table inside a pinned artifact, or a user's own file or folder.

- `PackagedTable` (kind "packaged-table"): train (and optionally test) tables
  inside a pinned artifact, as CSV, label<TAB>text lines, or JSON.
- `LocalTable` (kind "local-table"): a user's local copy: one file (CSV, TSV,
  JSONL, JSON, parquet), a folder holding `*train*` / `*test*` files of those
  kinds (the hub's parquet layout), or a folder laid out as
  `{train,test}/<label>/*.txt` (aclImdb).

Every reader returns string columns and refuses, in one line, a file that is
empty, not UTF-8, of an unknown type, or unreadable.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bench.data import assets
from bench.errors import BenchError

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class PackagedTable:
    """Train (and optionally test) tables inside a pinned artifact."""

    kind: ClassVar[str] = "packaged-table"
    artifact: str  # package name in bench.data.assets.ARTIFACTS
    train: str  # member path inside the archive
    test: str | None = None
    format: str = "csv"  # csv | tsv-label-text (no header: label<TAB>text) | json

    def describe(self) -> str:
        art = assets.artifact(self.artifact)
        return f"{art.spec} (sha256 {art.sha256[:12]}...): {self.train}" + (f", {self.test}" if self.test else "")

    def load(self) -> tuple["pd.DataFrame", "pd.DataFrame | None"]:
        art = assets.artifact(self.artifact)
        read = lambda member: read_table(io.BytesIO(assets.read_member(art, member)), self.format, member)
        return read(self.train), (read(self.test) if self.test else None)


@dataclass(frozen=True)
class LocalTable:
    """A user's local copy of a data set: a file or a folder."""

    kind: ClassVar[str] = "local-table"
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
            rows.append({"text": decode_utf8(f.read_bytes(), f), "label": label_dir.name})
    if not rows:
        raise BenchError(f"no .txt files under {folder}/<label>/; expected the aclImdb layout")
    return pd.DataFrame(rows)


def decode_utf8(raw: bytes, where: object) -> str:
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
    return read_table(path, fmt, str(path))


def read_table(source, fmt: str, where: str) -> "pd.DataFrame":
    """One table from a path or file-like object, as strings."""
    import pandas as pd

    try:
        if fmt == "parquet":
            frame = pd.read_parquet(source)
        else:
            raw = source.read() if hasattr(source, "read") else Path(source).read_bytes()
            text = decode_utf8(raw, where)
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
