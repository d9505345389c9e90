"""`bench show`: one run's record in the terminal: results, costs, curves, and the texts it got wrong.

The run is named by its id (the first characters of its key, as the page and
`bench report` show them), by a record file, or by a filter: words that must
each match the run's task, strategy or model (`spam lora`, `spam/lora`), and
`seed=N`, `budget=N|all`, `model=NAME`, `status=ok|failed`, `tuned=yes|no`. When several runs
match, they are listed and nothing is shown; when one matches, its details are
printed (bench.report.runs), the test split loaded once to name its mistakes.
"""

from __future__ import annotations

from pathlib import Path

from bench.cli.flags import results_folder
from bench.errors import BenchError

FIELDS = ("task", "strategy", "model", "seed", "budget", "status", "tuned")


def cmd_show(args) -> int:
    from rich.console import Console

    from bench.report import gold, runs

    console = Console(width=max(Console().width, 100))
    records = _candidates(args.what, results_folder(args.results))
    found = select(records, args.what)
    if not found:
        raise BenchError(f"no run matches {' '.join(args.what)!r} in {args.results}/records; "
                         "`bench report` lists the runs (the page has their ids)")
    if len(found) > 1:
        console.print(_list(found))
        raise BenchError(f"{len(found)} runs match {' '.join(args.what)!r}; narrow it with seed=, budget=, model=, "
                         "status= or give a run id from the list")
    record = found[0]
    roots = (results_folder(args.results).resolve().parent,)
    split = gold.load([record], record.data.fingerprint, roots) if record.ok and record.data else None
    for part in render(runs.detail(record, split), args.wrong):
        console.print(part)
    return 0


def _candidates(what: list[str], results: Path) -> list:
    """The records to choose from: a record file named on the command line, else the results folder's."""
    from bench.report.table import load
    from bench.run import store

    files = [Path(w) for w in what if w.endswith(".json") and Path(w).is_file()]
    if files:
        read = [store.read(f) for f in files]
        bad = [r for r in read if isinstance(r, store.Damaged)]
        if bad:
            raise BenchError(f"{bad[0].path} is not a readable record: {bad[0].reason}")
        return read
    if not (results / "records").is_dir():
        raise BenchError(f"no records in {results}/records; run `bench run` first or pass --results DIR")
    board = load(results)
    return board.ok + board.failed + board.selections + board.scenarios


def select(records: list, what: list[str]) -> list:
    """The records that every word of `what` matches (see the module's docstring)."""
    from bench.report.runs import run_id

    words = [w for w in what if not w.endswith(".json")]
    for word in words:
        if "=" in word:
            field, _, value = word.partition("=")
            if field not in FIELDS:
                raise BenchError(f"unknown filter {field}=; use one of {', '.join(f + '=' for f in FIELDS)}")
            records = [r for r in records if _value(r, field) == value.lower()]
        else:
            parts = [p.lower() for p in word.split("/") if p]
            records = [r for r in records if all(run_id(r).startswith(p) or p in _names(r) for p in parts)]
    return records


def _names(record) -> set[str]:
    c = record.cell
    return {c.task.lower(), c.strategy.lower(), (c.model or "-").lower()}


def _value(record, field: str) -> str:
    c = record.cell
    if field == "budget":
        return "all" if c.budget is None else str(c.budget)
    if field == "status":
        return record.status
    if field == "tuned":
        return "yes" if record.tuning is not None else "no"
    if field == "seed":
        return str(c.seed)
    return (getattr(c, field) or "-").lower()


def _list(found: list):
    from rich.table import Table
    from rich.text import Text

    from bench.report.runs import run_id

    table = Table(title="matching runs", title_justify="left")
    for header in ("run", "task", "strategy", "model", "budget", "seed", "tuned", "status", "acc %"):
        table.add_column(header)
    for r in sorted(found, key=lambda r: (r.cell.task, r.cell.strategy, str(r.cell.model), str(r.cell.budget),
                                          r.cell.seed)):
        c = r.cell
        accuracy = f"{100 * r.metrics.accuracy:.1f}" if r.metrics else "-"
        table.add_row(*(Text(str(v)) for v in (run_id(r), c.task, c.strategy, c.model or "-",
                                               "all" if c.budget is None else c.budget, c.seed,
                                               "yes" if r.tuning is not None else "", r.status, accuracy)))
    return table


def render(detail, wrong_limit: int | None) -> list:
    """The details of one run as rich renderables, top to bottom."""
    from rich.table import Table
    from rich.text import Text

    from bench.report import runs

    r = detail.record
    out: list = [Text(f"{runs.title(r)}  (run {detail.id})", style="bold")]
    if r.error:
        out += [Text(f"failed: {r.error}", style="red")]
        if r.traceback:
            out += [Text("\n".join(r.traceback.strip().splitlines()[-12:]), style="dim")]
    out.append(_pairs("results and costs", runs.summary(r)))
    options = ", ".join(f"{k}={v}" for k, v in r.config.strategy.items()) or "none"
    out.append(_pairs("configuration", [("options", options), ("device", r.config.device),
                                         ("task", r.config.task_ref), ("model source",
                                                                       str(r.provenance.model.get("source", "-")))]))
    if r.training and r.training.curves:
        curves = Table(title="training curves", title_justify="left")
        for header in ("epoch", "train loss", "train acc %", "val loss", "val acc %", "s"):
            curves.add_column(header, justify="right")
        for row in r.training.curves:
            val_loss = "-" if row.val_loss is None else f"{row.val_loss:.4f}"  # None: no validation split
            val_acc = "-" if row.val_accuracy is None else f"{100 * row.val_accuracy:.1f}"
            curves.add_row(str(row.epoch), f"{row.train_loss:.4f}", f"{100 * row.train_accuracy:.1f}",
                           val_loss, val_acc, f"{row.seconds:.1f}",
                           style="bold" if row.epoch == r.training.best_epoch else None)
        out += [curves, Text(f"kept epoch {r.training.best_epoch} (bold): {r.training.best_rule}", style="dim")]
    if detail.tuning:
        out.append(_pairs("tuning", detail.tuning))
    if detail.trials:
        trials = Table(title="tuning trials (validation on training labels), best first", title_justify="left")
        keys = list(dict.fromkeys(k for t in detail.trials for k in t))
        for key in keys:
            trials.add_column(Text(key))
        for trial in detail.trials:
            trials.add_row(*(Text(str(trial.get(k, "-"))) for k in keys))
        out.append(trials)
    if detail.calibration:
        out.append(_pairs("calibration", detail.calibration))
    if detail.confusion:
        matrix = Table(title="confusion matrix (rows gold, columns predicted)", title_justify="left")
        matrix.add_column("")
        for name in detail.labels:
            matrix.add_column(Text(name), justify="right")
        for name, counts in zip(detail.labels, detail.confusion):
            matrix.add_row(Text(name), *(str(n) for n in counts))
        out.append(matrix)
        shown = detail.wrong if wrong_limit is None else detail.wrong[:wrong_limit]
        out.append(Text(f"wrong predictions: {len(detail.wrong)} of {len(r.predictions)}", style="bold"))
        for w in shown:
            text = " ".join(w.text.split()) if w.text is not None else "(the text could not be loaded)"
            line = Text(f"#{w.index} {detail.label(w.gold)} -> {detail.label(w.predicted)}: ", style="cyan")
            out.append(line.append(Text(text if len(text) <= 240 else text[:237] + "...", style="default")))
        if len(shown) < len(detail.wrong):
            out.append(Text(f"... and {len(detail.wrong) - len(shown)} more (--wrong all)", style="dim"))
    if detail.note:
        out.append(Text(f"missing: {detail.note}", style="yellow"))
    return out


def _pairs(title: str, rows: list[tuple[str, str]]):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="dim")
    table.add_column()
    for key, value in rows:
        table.add_row(Text(key), Text(str(value)))
    return table
