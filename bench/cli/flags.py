"""Flag values shared by several commands, checked where they enter."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError


def results_folder(path: Path) -> Path:
    """A --results value, refused in one line when it names something that is not a folder."""
    if path.exists() and not path.is_dir():
        raise BenchError(f"--results {path} is a file, not a folder; give the folder that holds (or will hold) "
                         "records/ and LEADERBOARD.md")
    return path
