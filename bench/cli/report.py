"""`bench report` (rebuild a leaderboard), `bench tuning` (its tuning table), `bench migrate` (upgrade records)."""

from __future__ import annotations

from bench.cli.flags import results_folder
from bench.errors import BenchError


def cmd_report(args) -> int:
    from rich.console import Console

    from bench.report.publish import publish
    from bench.report.table import load
    from bench.report.terminal import rich_tables

    results = results_folder(args.results)
    if not (results / "records").is_dir():
        raise BenchError(f"no records in {results}/records; run `bench run` first or pass --results DIR")
    board = load(results)
    md, csv, page = publish(board, results)
    console = Console(width=max(Console().width, 120))
    for table in rich_tables(board):
        console.print(table)
    for record in board.failed:
        c = record.cell
        console.print(f"[red]failed[/red] {c.task} / {c.strategy} / {c.model or '-'} / seed {c.seed}: {record.error}")
    for damaged in board.damaged:
        console.print(f"[yellow]damaged record skipped[/yellow]: {damaged.path} ({damaged.reason})")
    console.print(f"wrote {md}, {csv} and {page} from {len(board.ok)} records")
    return 0


def cmd_migrate(args) -> int:
    from bench.run.migrate import migrate

    results = results_folder(args.results)
    if not (results / "records").is_dir():
        raise BenchError(f"no records in {results}/records; pass the results folder to upgrade with --results DIR")
    upgraded, current = migrate(results)
    print(f"bench: {upgraded} record(s) upgraded to the current schema, {current} already current, "
          f"in {results}/records")
    return 0


def cmd_tuning(args) -> int:
    from bench.data import sampling
    from bench.report import tuning
    from bench.report.table import newest

    records = {}  # key -> record: a cell recorded in two of the folders counts once
    for folder in args.results:
        results = results_folder(folder)
        if not (results / "records").is_dir():
            raise BenchError(f"no records in {results}/records; run `bench run --tune N` first or pass --results DIR")
        records.update((r.key, r) for r in newest(results).finished if not r.scenario)
    rows = tuning.table([r for r in records.values() if (args.tasks is None or r.cell.task in args.tasks)
                         and (args.budgets is None or sampling.name(r.cell.budget) in args.budgets)])
    if not rows:
        where = " and ".join(f"{f}/records" for f in args.results)
        narrowed = " for these tasks and budgets" if args.tasks or args.budgets else ""
        raise BenchError(f"no tuned records in {where}{narrowed}; run `bench run --tune N`")
    print(tuning.markdown(rows), end="")
    return 0
