"""Run records: one immutable JSON file per grid cell.

A record is written atomically (a temporary file in the same folder, flushed,
fsynced, then renamed over), so a reader or a killed writer never sees half a
file. Its path is derived from the cell and a hash of everything that
determines the result (the *key*): task data fingerprint, strategy, full
resolved config, model and seed. A finished record is never overwritten;
`--force` writes a new one beside it (suffix `.rerun-<time>`), and reports use
the newest. Failed attempts are kept too, as `.failed-<time>.json`.

A cell in progress holds a claim file (`<record>.claim`, made with O_EXCL and
holding the owner's pid) so two `bench run` processes on one results folder
never run the same cell twice; a claim whose process is gone is taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

SCHEMA = 1


def cell_key(identity: dict) -> str:
    """sha256 of the canonical JSON of what determines a result."""
    blob = json.dumps({"schema": SCHEMA, **identity}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def slug(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text or "none").strip("_")[:80] or "none"


def record_path(results: Path, task: str, strategy: str, model: str | None, seed: int, key: str,
                budget: int | None = None) -> Path:
    budget_part = "" if budget is None else f"b{budget}-"
    return results / "records" / slug(task) / slug(strategy) / slug(model) / f"{budget_part}seed{seed}-{key[:12]}.json"


def replace_atomically(path: Path, write: Callable[[str], None]) -> None:
    """Have `write(tmp)` fill a temporary file of its own beside `path`, then rename it over `path`.

    The temporary name is unique per call, so two processes writing the same file
    (two runs rebuilding one leaderboard) never rename each other's half-written
    file; readers see the old file or the new one, never a mix. A failed write
    leaves no temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_atomic(path: Path, data: dict) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())

    replace_atomically(path, dump)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: dict) -> Path:
    """Write a record at `path`, or beside it if a record is already there."""
    if path.exists():
        path = path.with_name(f"{path.stem}.rerun-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json")
    write_atomic(path, data)
    return path


def failed_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.failed-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json")


def read(path: Path) -> dict | None:
    """A record, or None when the file is damaged (reported by the caller)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and "status" in data and "cell" in data else None


def is_done(path: Path) -> bool:
    record = read(path)
    return record is not None and record.get("status") == "ok"


def iter_records(results: Path) -> Iterator[tuple[Path, dict | None]]:
    """Every record file under `results`, with its content (None when damaged)."""
    root = results / "records"
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        if not path.name.startswith("."):
            yield path, read(path)


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
