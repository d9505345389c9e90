"""`bench run`: a grid from flags, or the grids of a study file, run and reported."""

from __future__ import annotations

from pathlib import Path

from bench.cli.flags import results_folder
from bench.data.sampling import ALL
from bench.errors import BenchError
from bench.run.grid import DEFAULT_TASKS, GridSpec, Scenario

GRID_FLAGS = ("tasks", "strategies", "models", "seeds", "budgets", "options", "data", "tune", "train_on", "probes",
              "update")  # and select_only


def grids_from_flags(args) -> tuple[Path, list[GridSpec]]:
    """The run's results folder and grids: from a study file, or from the grid flags."""
    study_path = args.study or args.study_flag
    if args.study and args.study_flag:
        raise BenchError("give the study file once (as STUDY.toml or --study STUDY.toml)")
    if study_path is not None:
        flag = {"options": "set", "probes": "probe"}
        used = [f"--{flag.get(name, name).replace('_', '-')}" for name in GRID_FLAGS if getattr(args, name) is not None]
        used += [flag for flag, on in (("--no-baseline", args.no_baseline), ("--select-only", args.select_only)) if on]
        if used:
            flags = ", ".join(used)
            raise BenchError(f"{flags}: a study file sets its own grids; edit {study_path} instead")
        from bench.run.study import load_study

        study = load_study(study_path, device=args.device, precision=args.precision)
        return results_folder(args.results or study.results), list(study.grids)
    spec = GridSpec(tasks=tuple(args.tasks or DEFAULT_TASKS), strategies=tuple(args.strategies or ()),
                    models=tuple(args.models or ()), seeds=tuple(args.seeds or (0,)),
                    budgets=tuple(_budget(b) for b in args.budgets or [ALL]),
                    options=tuple(_pair(p, "--set", "NAME=VALUE", "head-only.C=0.5") for p in args.options or []),
                    data=tuple(_pair(p, "--data", "TASK=PATH", "imdb=~/data/aclImdb") for p in args.data or []),
                    baseline=not args.no_baseline, device=args.device, precision=args.precision,
                    tune=args.tune or 0,
                    select_only=args.select_only,
                    scenario=Scenario(args.train_on, tuple(args.probes or ()), args.update))
    return results_folder(args.results or Path("results")), [spec]


def _budget(value: str) -> int | None:
    if value.lower() == ALL:
        return None
    try:
        return int(value)
    except ValueError:
        raise BenchError(f"--budgets {value!r}: give a positive number of labels per class, or 'all'") from None


def _pair(value: str, flag: str, shape: str, example: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise BenchError(f"{flag} {value!r}: expected {shape}, e.g. {flag} {example}")
    return name, rest


def executor_from_flags(args):
    """The engine that runs the cells, its flags checked: worker processes here (--jobs) or Ray tasks."""
    if args.jobs is not None and args.jobs < 1:
        raise BenchError(f"--jobs {args.jobs}: give how many cells run at once, 1 or more")
    if args.executor == "ray":
        if args.jobs is not None:
            raise BenchError("--jobs is for --executor local; on Ray each cell asks the cluster for its own CPUs")
        from bench.run.ray_executor import RayExecutor

        return RayExecutor(args.ray_address, args.max_memory)
    if args.ray_address:
        raise BenchError(f"--ray-address {args.ray_address}: give it with --executor ray")
    from bench.run.executors import LocalProcessExecutor, default_jobs

    return LocalProcessExecutor(args.jobs or default_jobs(), max_memory_mb=args.max_memory)


def cmd_run(args, console) -> int:
    from bench.run.grid import build_cells

    results, grids = grids_from_flags(args)
    if args.max_memory is not None and args.max_memory <= 0:
        raise BenchError(f"--max-memory {args.max_memory:g}: give a positive number of MB, e.g. --max-memory 4000")
    executor = executor_from_flags(args)
    cells = [cell for spec in grids for cell in build_cells(spec)]  # every name and option checked first
    from bench.run.plan import plan

    notes: set[str] = set()
    with console.status(f"starting the {executor.name} executor..."):
        executor.start()
        if not args.dry_run:
            executor.prepare(loads_models=any(cell.model for cell in cells))
    try:
        for device in sorted({cell.device for cell in cells}):
            executor.device(device)  # a device no machine has is refused before any data loads
        with console.status("checking tasks and data..."):
            planned = plan(cells, results, note=notes.add, device=executor.device)
        for text in sorted(notes):
            console.print(f"[yellow]note[/yellow] {text}")
        if args.dry_run:
            return _dry_run(planned, results, args.force)
        _convert_models(planned, args.force, console)
        outcome = _run(planned, results, args, console, executor)
    finally:
        executor.close()

    from bench.report.publish import publish
    from bench.report.table import load
    from bench.report.terminal import rich_tables
    from rich.console import Console

    board = load(results)
    from bench.data.sampling import name as budget_name

    ran = {(p.config.task["name"], p.cell.strategy, p.cell.model or "-", budget_name(p.cell.budget)) for p in planned}
    out = Console(width=max(Console().width, 120))
    for table in rich_tables(board, only=ran):
        out.print(table)
    publish(board, results)
    console.print(f"{len(outcome.done)} cell(s) run, {len(outcome.skipped)} already recorded (skipped; "
                  f"--force re-runs them), {len(outcome.failed)} failed. Records and LEADERBOARD.md in {results}/")
    for name in outcome.busy:
        console.print(f"[yellow]busy[/yellow] {name}: another bench run is running this cell")
    for name, error in outcome.failed:
        console.print(f"[red]failed[/red] {name}: {error}")
    if outcome.interrupted:
        console.print(f"[yellow]interrupted[/yellow]: {len(outcome.done)} cell(s) finished and recorded; "
                      "run the same command again to finish the rest")
        return 130
    return 1 if outcome.failed else 0


def _dry_run(planned, results: Path, force: bool) -> int:
    from bench.run import store

    todo = [p for p in planned if force or not store.is_done(p.path)]
    for p in todo:
        print(f"would run  {p.label}  -> {p.path}")
    print(f"{len(todo)} cell(s) would run, {len(planned) - len(todo)} already recorded in {results}/records")
    return 0


def _convert_models(planned, force: bool, console) -> None:
    """Convert the packaged GGUF models the cells to run will load, before the first cell starts, in a process
    of their own: a cell that converted one would count the conversion in its time and peak memory (a first
    zero-shot cell on SmolLM2: 1,970 against 1,255 MB; leaderboard/NOTES.md). A conversion that fails is left
    to the cells, which then say why."""
    import subprocess
    import sys

    from bench.models.local import unconverted
    from bench.run import store

    pending = unconverted({p.cell.model for p in planned if force or not store.is_done(p.path)})
    if not pending:
        return
    code = "import sys; from bench.models.local import local_path; [local_path(name) for name in sys.argv[1:]]"
    with console.status(f"converting {', '.join(pending)} to safetensors (once; cached)..."):
        done = subprocess.run([sys.executable, "-c", code, *pending], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        console.print(f"[yellow]note[/yellow] converting {', '.join(pending)} failed ({last[:200]}); "
                      "the cells that load it will try again and say why")


def _run(planned, results: Path, args, console, executor):
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bench.run.runner import run

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        bar = progress.add_task("running", total=len(planned))

        def on_event(kind: str, p, record) -> None:
            if kind == "start":
                progress.update(bar, description=p.label)
            elif kind in ("skip", "busy", "ok", "failed"):
                progress.advance(bar)
            if kind == "failed":
                progress.console.print(f"[red]failed[/red] {p.label}: {record.error}")
            elif kind == "ok" and record.metrics is None:
                progress.console.print(f"[green]done[/green]   {p.label}: chose {record.tuning.chosen}")
            elif kind == "ok":
                progress.console.print(f"[green]done[/green]   {p.label}: accuracy {record.metrics.accuracy:.3f}")

        return run(planned, results, executor, force=args.force, on_event=on_event)

