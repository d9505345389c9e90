"""The leaderboard in the terminal: rich tables, one per task, the crossover statement, and the scenario tables."""

from __future__ import annotations

from bench.report import analysis
from bench.report.table import Leaderboard, curve_rows, headers, rows_for


def rich_tables(board: Leaderboard, only: set[tuple[str, str, str, str]] | None = None) -> list:
    """rich renderables per task; `only` keeps the rows whose (task, strategy, model, budget) it holds."""
    from rich.markup import escape
    from rich.table import Table

    table = board.table
    if table.empty:
        return _scenario_tables(board)
    if only is not None:
        keep = [(t, s, m, b) in only for t, s, m, b in zip(table.task, table.strategy, table.model, table.budget)]
        table = table[keep]
    out: list = []
    for task in sorted(table.task.unique()):
        t = Table(title=f"{task}", title_justify="left", pad_edge=False, padding=(0, 1))
        for i, h in enumerate(headers(short=True)):
            t.add_column(h, justify="left" if i < 2 else "right")
        for cells in rows_for(table, task):
            t.add_row(*map(escape, cells), style="dim" if cells[0].endswith("(baseline)") else None)  # "[k=8]" is text
        out.append(t)
        if table[table.task == task].budget.nunique() > 1:
            head, body = curve_rows(table, task)
            curve = Table(title=f"{task}: accuracy % by labels per class", title_justify="left")
            for i, h in enumerate(head):
                curve.add_column(h, justify="left" if i < 2 else "right")
            for cells in body:
                curve.add_row(*map(escape, cells))
            out.append(curve)
        cross = analysis.crossover(table[table.task == task].to_dict("records"), task, board.compare)
        if cross is not None:
            out.append(escape(cross.sentence()))
    return out + _scenario_tables(board)


def _scenario_tables(board: Leaderboard) -> list:
    from rich.markup import escape
    from rich.table import Table

    from bench.report import scenarios

    out: list = []
    for title, _, head, rows in scenarios.sections(board):
        t = Table(title=title, title_justify="left", pad_edge=False, padding=(0, 1))
        for h in head:
            t.add_column(h, justify="right" if scenarios.numeric(h) else "left")
        for row in rows:
            t.add_row(*(escape(str(row[h])) for h in head))
        out.append(t)
    return out
