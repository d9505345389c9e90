"""Writes a results folder's leaderboard files: LEADERBOARD.md, leaderboard.csv, index.html and plots/.

Every file is replaced atomically (bench.files), so two runs rebuilding the
same leaderboard never leave a half-written one.
"""

from __future__ import annotations

from pathlib import Path

from bench.files import write_text
from bench.report import html, plots
from bench.report.markdown import markdown
from bench.report.table import Leaderboard


def publish(board: Leaderboard, results: Path) -> tuple[Path, Path, Path]:
    """Write the leaderboard's files into `results`; returns the markdown, CSV and HTML paths."""
    md_path, csv_path = results / "LEADERBOARD.md", results / "leaderboard.csv"
    if not board.table.empty or board.scenarios:
        plots.write_all(board, results / "plots")
    write_text(md_path, markdown(board, results))
    write_text(csv_path, board.table.to_csv(index=False) if not board.table.empty else "")
    return md_path, csv_path, html.write(board, results)
