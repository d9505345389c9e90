"""`bench ls`: the tasks, strategies and packaged models, where each comes from, and broken plugins."""

from __future__ import annotations

import dataclasses
import sys


def cmd_ls(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from bench.data.assets import artifact
    from bench.models.catalogue import KNOWN
    from bench.registry import STRATEGIES, TASKS

    console = Console(width=max(Console().width, 120))
    tasks = Table(title="tasks", title_justify="left")
    for col in ("name", "labels", "description", "origin"):
        tasks.add_column(col)
    for e in TASKS.entries():
        tasks.add_row(e.name, ", ".join(e.obj.labels) or "(from the data)", e.obj.description, e.origin)
    console.print(tasks)
    strategies = Table(title="strategies", title_justify="left")
    for col in ("name", "default model", "what it does", "origin"):
        strategies.add_column(col)
    for e in STRATEGIES.entries():
        doc = (sys.modules[e.obj.__module__].__doc__ or e.obj.__doc__ or "").strip().splitlines()
        summary = doc[0].split(":", 1)[-1].strip() if doc else ""
        strategies.add_row(e.name, getattr(e.obj, "default_model", None) or "-", summary, e.origin)
    console.print(strategies)
    broken = [("task", b) for b in TASKS.broken()] + [("strategy", b) for b in STRATEGIES.broken()]
    if broken:
        table = Table(title="broken plugins (not loaded)", title_justify="left")
        for col in ("kind", "name", "origin", "what is wrong"):
            table.add_column(col)
        for kind, b in broken:
            table.add_row(kind, b.name, b.origin, b.reason, style="red")
        console.print(table)
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
