"""A third-party strategy: built from the README's "Write a strategy" section, installed, run.

The files and commands come out of README.md itself, so the documentation and
this test cannot drift apart.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_bench

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def files_and_commands(section: str) -> tuple[dict[str, str], list[str]]:
    """`path`: followed by a fenced block is a file; ```bash blocks are commands."""
    files = dict(re.findall(r"^`([\w./-]+)`:\n```\w*\n(.*?)```", section, flags=re.S | re.M))
    commands = [line for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
                for line in block.splitlines() if line.strip()]
    return files, commands


@pytest.mark.slow
def test_the_readme_plugin_installs_and_runs(tmp_path):
    files, commands = files_and_commands(readme_section("Write a strategy"))
    assert set(files) == {"my_bench_plugin/pyproject.toml", "my_bench_plugin/word_vote.py"}
    assert [c.split()[0] for c in commands] == ["pip", "bench"]
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    pip = shlex.split(commands[0])
    install = subprocess.run([sys.executable, "-m", *pip], cwd=tmp_path, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    try:
        listed = run_bench("ls", env={"COLUMNS": "200"})
        assert "word-vote" in listed.stdout and "plugin my-bench-plugin" in listed.stdout

        args = shlex.split(commands[1])[1:] + ["--results", str(tmp_path / "results")]
        result = run_bench(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        board = (tmp_path / "results" / "LEADERBOARD.md").read_text()
        rows = {line.split("|")[1].strip().removesuffix(" (baseline)"): line
                for line in board.splitlines() if line.startswith("| ")}
        accuracy = lambda row: float(rows[row].split("|")[4].strip(" ≈"))
        assert accuracy("word-vote") > accuracy("majority") + 5  # it learned something real

        off = run_bench(*args, env={"BENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}, cwd=tmp_path)
        assert off.returncode == 2 and "unknown strategy 'word-vote'" in off.stderr
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "my-bench-plugin"], capture_output=True)
