"""Where records live: one JSON file per grid cell under `<results>/records/`, and claims.

A record's path is derived from its cell and key:
`records/<task>/<strategy>/<model>/[<scenario>-][b<budget>-]seed<seed>-<key12>.json`, where a
scenario cell (bench.scenarios) says what it asked: `from-<task>`, `probe`, `update<percent>`. It is
written atomically (bench.files), so a reader or a killed writer never sees
half a file. A finished record is never overwritten; `--force` writes a new
one beside it (suffix `.rerun-<time>`), and reports use the newest. Failed
attempts are kept too, as `.failed-<time>.json`.

A cell in progress holds a claim file (`<record>.claim`, made with O_EXCL and
holding the owner's pid) so two `bench run` processes on one results folder
never run the same cell twice; a claim whose process is gone is taken over.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from bench.files import write_json
from bench.run.records import Record, RecordError


def slug(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text or "none").strip("_")[:80] or "none"


def record_path(results: Path, task: str, strategy: str, model: str | None, seed: int, key: str,
                budget: int | None = None, scenario: str = "") -> Path:
    budget_part = "" if budget is None else f"b{budget}-"
    scenario_part = f"{slug(scenario)}-" if scenario else ""
    return (results / "records" / slug(task) / slug(strategy) / slug(model)
            / f"{scenario_part}{budget_part}seed{seed}-{key[:12]}.json")


def write_new(path: Path, record: Record) -> Path:
    """Write a record at `path`, or beside it if a record is already there."""
    if path.exists():
        path = path.with_name(f"{path.stem}.rerun-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json")
    write_json(path, record.as_json())
    return path


def failed_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.failed-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json")


@dataclass(frozen=True)
class Damaged:
    """A record file that could not be read as a record, and why."""

    path: Path
    reason: str


def read(path: Path) -> Record | Damaged:
    """The record in a file, or what is wrong with the file. A record of another schema raises (BenchError)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Damaged(path, f"not readable JSON ({type(exc).__name__})")
    try:
        return Record.from_json(raw, where=f"record {path}")
    except RecordError as exc:
        return Damaged(path, str(exc))


def done(path: Path) -> Record | None:
    """The ok record at `path`, or None (no file, a damaged one, or a failed cell)."""
    record = read(path) if path.exists() else None
    return record if isinstance(record, Record) and record.ok else None


def is_done(path: Path) -> bool:
    return done(path) is not None


def iter_records(results: Path) -> Iterator[Record | Damaged]:
    """Every record file under `results`, read (in path order)."""
    root = results / "records"
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        if not path.name.startswith("."):
            yield read(path)


class Claim:
    """An exclusive claim on a cell, held while it runs."""

    def __init__(self, record: Path):
        self.path = record.with_name(record.name + ".claim")
        self.held = False

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._owner_alive():
                    return False
                try:
                    self.path.unlink()  # stale: its owner died without letting go
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return True
        return False

    def _owner_alive(self) -> bool:
        try:
            pid = int(self.path.read_text().strip() or "0")
            age = time.time() - self.path.stat().st_mtime
        except (OSError, ValueError):
            return False
        if pid <= 0:
            return age < 30  # just created, pid not written yet: its owner is alive
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def release(self) -> None:
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False
