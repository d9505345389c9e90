"""The files bench reads and writes for a user: TOML it reads, and files never seen half-written.

`read_toml` reads a card or study file, refusing a missing or malformed one in
one line. Every file bench writes for a user goes through `replace_atomically`: the new
content is written to a temporary file of its own beside the target, flushed
and fsynced, then renamed over it. A reader (or a killed writer) sees the old
file or the new one, never a mix; two processes writing the same file never
rename each other's temporary.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Callable

from bench.errors import BenchError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def read_toml(path: Path, what: str) -> dict:
    """The TOML file `path` as a dict; `what` names it in the error ("task card", "study")."""
    if not path.is_file():
        raise BenchError(f"{what} {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"{what} {path} is not valid TOML: {exc}") from None


def replace_atomically(path: Path, write: Callable[[str], None]) -> None:
    """Have `write(tmp)` fill a temporary file beside `path`, then rename it over `path`.

    A failed write leaves no temporary file behind and the old file untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # as an ordinary new file (mkstemp makes it private)
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_json(path: Path, data: Any) -> None:
    """`data` as indented JSON at `path`, atomically and durably."""
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())

    replace_atomically(path, dump)


def write_text(path: Path, text: str) -> None:
    """`text` (UTF-8) at `path`, atomically."""
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
