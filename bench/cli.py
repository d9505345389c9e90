"""The `bench` command: run a grid, list what is available, rebuild the reports.

Heavy libraries (torch, transformers, faiss) are imported only inside the
commands that need them, so `bench --help` and `bench ls` start instantly.
Exit codes: 0 all cells ok, 1 some cells failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import BenchError

DEFAULT_TASKS = ("imdb", "spam")

RUN_EXAMPLES = """examples:
  bench run --tasks imdb spam                     # the default grid
  bench run --tasks spam --strategies head-only --seeds 0 1 2
  bench run --tasks imdb spam --budgets 8 32 all --seeds 0 1 2   # learning curves
  bench run --tasks imdb --data imdb=~/data/aclImdb      # the full IMDb set, local copy
  bench run --tasks my-card.toml --strategies head-only  # your own CSV/JSONL/parquet data
  bench run --tasks spam --set head-only.C=0.5 --force   # change an option, re-measure
"""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bench", description="Prompt, retrieve or fine-tune? Runs text-classification "
                    "tasks through pluggable strategies and writes leaderboards.",
                    epilog="examples:\n  bench ls\n  bench run --tasks imdb spam\n  bench report",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run a grid of task x strategy x model x seed cells",
                         description="Run every cell of the grid that is not recorded yet, each in its own "
                         "process, and print the leaderboard.", epilog=RUN_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--tasks", nargs="+", metavar="TASK", default=list(DEFAULT_TASKS),
                     help=f"task names or .toml cards (default: {' '.join(DEFAULT_TASKS)}; `bench ls` lists all)")
    run.add_argument("--strategies", nargs="+", metavar="NAME", help="strategy names (default: all built-in ones)")
    run.add_argument("--models", nargs="+", metavar="MODEL",
                     help="models for the strategies that take one (default: each strategy's own)")
    run.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="N", help="seeds (default: 0)")
    run.add_argument("--budgets", nargs="+", default=["all"], metavar="N",
                     help="labelled examples per class, nested per seed; 'all' = the whole training split "
                          "(default: all)")
    run.add_argument("--set", nargs="+", action="extend", default=[], metavar="NAME=VALUE", dest="options",
                     help="strategy options: OPTION=V for every strategy that has it, or STRATEGY.OPTION=V")
    run.add_argument("--data", nargs="+", action="extend", default=[], metavar="TASK=PATH",
                     help="read a task from a local copy (file or folder) instead of its embedded data")
    run.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                     help="where records and tables go (default: results)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help="auto uses a GPU when there is one (default: auto)")
    run.add_argument("--max-memory", type=float, metavar="MB",
                     help="fail a cell whose process goes over this resident memory (the grid goes on)")
    run.add_argument("--force", action="store_true", help="re-run cells that are already recorded (keeps the old records)")
    run.add_argument("--no-baseline", action="store_true", help="do not add the majority baseline to the grid")

    ls = sub.add_parser("ls", help="list tasks and strategies, and where each comes from",
                        epilog="examples:\n  bench ls\n  bench ls --options", formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--options", action="store_true", help="also list each strategy's options and defaults")

    report = sub.add_parser("report", help="rebuild LEADERBOARD.md and leaderboard.csv from the records",
                            epilog="examples:\n  bench report\n  bench report --results runs/gpu",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="the results folder to read and write (default: results)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rich.console import Console

    console = Console(stderr=True)
    try:
        if args.command == "ls":
            return cmd_ls(args)
        if args.command == "report":
            return cmd_report(args)
        return cmd_run(args, console)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise BenchError(f"{flag} {value!r}: expected TASK=PATH, e.g. {flag} imdb=~/data/aclImdb")
        out[name] = path
    return out


def cmd_run(args, console) -> int:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bench import grid, report, runner
    from bench.executors import LocalProcessExecutor
    from bench.registry import STRATEGIES

    tasks = args.tasks
    strategies = list(dict.fromkeys(args.strategies or _builtin_strategies()))
    for name in strategies:
        STRATEGIES.get(name)  # unknown names fail here, with a suggestion
    if not args.no_baseline and "majority" not in strategies:
        strategies.insert(0, "majority")
    data = _pairs(args.data, "--data")
    for task in data:
        if task not in tasks:
            raise BenchError(f"--data {task}=...: task {task!r} is not in this run ({', '.join(tasks)})")
    if args.max_memory is not None and args.max_memory <= 0:
        raise BenchError(f"--max-memory {args.max_memory:g}: give a positive number of MB, e.g. --max-memory 4000")
    if len(set(args.seeds)) != len(args.seeds):
        raise BenchError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is repeated; give each once")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise BenchError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    options = grid.parse_options(args.options, strategies)
    from bench.budgets import parse as parse_budgets

    cells = grid.build_cells(tasks, strategies, args.models, args.seeds, options, data, args.device,
                             parse_budgets(args.budgets))
    with console.status("checking tasks and data..."):
        planned = runner.plan(cells, args.results)

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        bar = progress.add_task("running", total=len(planned))

        def on_event(kind: str, p, record) -> None:
            if kind == "start":
                progress.update(bar, description=runner.label(p.cell))
            elif kind in ("skip", "busy", "ok", "failed"):
                progress.advance(bar)
            if kind == "failed":
                progress.console.print(f"[red]failed[/red] {runner.label(p.cell)}: {record.get('error')}")
            elif kind == "ok":
                acc = (record.get("metrics") or {}).get("accuracy")
                progress.console.print(f"[green]done[/green]   {runner.label(p.cell)}: accuracy {acc:.3f}")

        outcome = runner.run(planned, args.results, LocalProcessExecutor(max_memory_mb=args.max_memory), force=args.force, on_event=on_event)

    loaded = report.load(args.results)
    task_names = sorted({p.identity["task"] for p in planned})
    keys = {p.key for p in planned}
    from rich.console import Console

    out = Console(width=max(Console().width, 120))
    for table in report.rich_tables([r for r in loaded.ok if r["key"] in keys], task_names):
        out.print(table)
    report.write(args.results)
    console.print(f"{len(outcome.done)} cell(s) run, {len(outcome.skipped)} already recorded (skipped; "
                  f"--force re-runs them), {len(outcome.failed)} failed. Records and LEADERBOARD.md in {args.results}/")
    for name in outcome.busy:
        console.print(f"[yellow]busy[/yellow] {name}: another bench run is running this cell")
    for name, error in outcome.failed:
        console.print(f"[red]failed[/red] {name}: {error}")
    if outcome.interrupted:
        console.print(f"[yellow]interrupted[/yellow]: {len(outcome.done)} cell(s) finished and recorded; "
                      "run the same command again to finish the rest")
        return 130
    return 1 if outcome.failed else 0


def _builtin_strategies() -> list[str]:
    from bench.registry import STRATEGIES

    return [e.name for e in STRATEGIES.entries() if e.origin == "built-in"]


def cmd_ls(args) -> int:
    import dataclasses

    from rich.console import Console
    from rich.table import Table

    from bench.assets import artifact
    from bench.models import KNOWN
    from bench.registry import STRATEGIES, TASKS

    console = Console(width=max(Console().width, 120))
    tasks = Table(title="tasks", title_justify="left")
    for col in ("name", "labels", "description", "origin"):
        tasks.add_column(col)
    for e in TASKS.entries():
        tasks.add_row(e.name, ", ".join(e.obj.labels), e.obj.description, e.origin)
    console.print(tasks)
    strategies = Table(title="strategies", title_justify="left")
    for col in ("name", "default model", "what it does", "origin"):
        strategies.add_column(col)
    for e in STRATEGIES.entries():
        doc = (sys.modules[e.obj.__module__].__doc__ or e.obj.__doc__ or "").strip().splitlines()
        summary = doc[0].split(":", 1)[-1].strip() if doc else ""
        strategies.add_row(e.name, getattr(e.obj, "default_model", None) or "-", summary, e.origin)
    console.print(strategies)
    models = Table(title="packaged models (any local folder or, with a hub, hub id works too)", title_justify="left")
    for col in ("name", "kind", "from", "licence"):
        models.add_column(col)
    for m in KNOWN.values():
        extra = f" + {len(m.chunks)} chunk packages" if m.chunks else ""
        models.add_row(m.name, m.kind, artifact(m.artifact).spec + extra, m.licence)
    console.print(models)
    if args.options:
        for e in STRATEGIES.entries():
            fields = dataclasses.fields(e.obj.Config)
            if fields:
                console.print(f"[bold]{e.name}[/bold]: " + ", ".join(f"{f.name}={f.default!r}" for f in fields))
    return 0


def cmd_report(args) -> int:
    from rich.console import Console

    from bench import report

    if not (args.results / "records").is_dir():
        raise BenchError(f"no records in {args.results}/records; run `bench run` first or pass --results DIR")
    md, csv, loaded = report.write(args.results)
    console = Console(width=max(Console().width, 120))
    for table in report.rich_tables(loaded.ok):
        console.print(table)
    for record in loaded.failed:
        c = record["cell"]
        console.print(f"[red]failed[/red] {c['task']} / {c['strategy']} / {c.get('model') or '-'} / seed {c['seed']}: {record.get('error')}")
    for path in loaded.damaged:
        console.print(f"[yellow]damaged record skipped[/yellow]: {path}")
    console.print(f"wrote {md} and {csv} from {len(loaded.ok)} records")
    return 0
