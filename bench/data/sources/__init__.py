"""Where a task's rows come from: one frozen dataclass per kind of source.

A source has a `kind` (its name in a TOML card), `describe()` (where the rows
come from, for records and reports) and `load()` -> `(train, test or None)`
pandas frames. The kinds:

| kind | class | reads |
|---|---|---|
| packaged-table | tables.PackagedTable | a CSV / label<TAB>text / JSON table inside a pinned artifact |
| local-table | tables.LocalTable | a user's file or folder (CSV, TSV, JSONL, JSON, parquet, aclImdb folders) |
| json-records | archives.JsonRecords | a JSON list of objects inside an artifact |
| bz2-csv | archives.Bz2Csv | a bzip2-compressed CSV inside an artifact |
| label-folders | archives.LabelFolders | `<prefix>/<label>/*.txt` inside an artifact |
| orange-tab | archives.OrangeTab | Orange's `.tab` train and test tables inside an artifact |
| mail-folders | mail.MailFolders | raw RFC 822 e-mails, one folder per label |
| newsgroups-cache | newsgroups.NewsgroupsCache | scikit-learn's 20 Newsgroups cache, unpickled safely |

`from_fields` builds a source from a TOML table (`{kind = ..., ...}`), and
`as_json` turns one back into such a table for the record.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from bench.data.sources.archives import Bz2Csv, JsonRecords, LabelFolders, OrangeTab
from bench.data.sources.mail import MailFolders
from bench.data.sources.newsgroups import NewsgroupsCache
from bench.data.sources.tables import LocalTable, PackagedTable
from bench.errors import BenchError

KINDS: dict[str, type] = {cls.kind: cls for cls in (PackagedTable, LocalTable, JsonRecords, Bz2Csv, LabelFolders,
                                                     OrangeTab, MailFolders, NewsgroupsCache)}


def from_fields(raw: dict, where: str) -> Any:
    """A source from its TOML table; a missing or unknown kind or field is one clear error."""
    fields = dict(raw)
    kind = fields.pop("kind", None)
    if kind not in KINDS:
        raise BenchError(f"{where}: source kind {kind!r} is not one of {', '.join(KINDS)}")
    cls = KINDS[kind]
    hints = typing.get_type_hints(cls)
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - allowed)
    missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in fields
                     and f.default is dataclasses.MISSING)
    if unknown or missing:
        what = f"unknown field(s) {', '.join(unknown)}" if unknown else f"missing field(s) {', '.join(missing)}"
        raise BenchError(f"{where}: {kind} source has {what}; its fields: {', '.join(sorted(allowed))}")
    try:
        return cls(**{name: _as(hints[name], value) for name, value in fields.items()})
    except (TypeError, ValueError) as exc:
        raise BenchError(f"{where}: {kind} source: {exc}") from None


def as_json(source: Any) -> dict:
    """A source as its TOML table; a source of a kind not listed here is described in words."""
    kind = getattr(type(source), "kind", None)
    if kind in KINDS and dataclasses.is_dataclass(source):
        return {"kind": kind, **dataclasses.asdict(source)}
    return {"kind": None, "describe": source.describe()}


def _as(hint: Any, value: Any) -> Any:
    """A TOML value as the field's type: lists become tuples, nested too; anything else must match."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return None if value is None else _as(args[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        item = args[0] if args else str
        return tuple(_as(item, v) for v in value)
    if hint is str and not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
