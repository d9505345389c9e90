"""Runs a grid: skips what is recorded, runs the rest, records every outcome.

For each cell the runner works out its key (see bench.records), skips it when
an ok record with that key exists (unless forced), claims it, hands it to the
executor, and writes the record atomically as soon as the cell ends, so an
interruption loses at most the cell in flight.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from bench import records
from bench.executors import Executor, Job
from bench.grid import Cell, resolve_task, seeded, strategy_config, uses_labels
from bench.registry import STRATEGIES


@dataclass
class Planned:
    cell: Cell
    key: str
    path: Path
    identity: dict
    provenance: dict


@dataclass
class Outcome:
    done: list[Path] = field(default_factory=list)  # written this run
    skipped: list[Path] = field(default_factory=list)  # recorded before
    failed: list[tuple[str, str]] = field(default_factory=list)  # (cell label, error)
    busy: list[str] = field(default_factory=list)  # claimed by another process
    interrupted: bool = False


def label(cell: Cell) -> str:
    task = Path(cell.task).stem if cell.task.endswith(".toml") else cell.task
    budget = [] if cell.budget is None else [f"{cell.budget}/class"]
    return " / ".join([task, cell.strategy, cell.model or "-", *budget, f"seed {cell.seed}"])


def plan(cells: list[Cell], results: Path) -> list[Planned]:
    """Resolve and key every cell; loads each task's data once (and checks it)."""
    from bench import assets, models, provenance
    from bench.data import load_task
    from bench.worker import resolve_device

    loaded: dict[tuple, tuple] = {}
    planned = []
    for cell in cells:
        if (cell.task, cell.data) not in loaded:
            card = resolve_task(cell.task, cell.data)
            loaded[(cell.task, cell.data)] = (card, load_task(card))
        card, data = loaded[(cell.task, cell.data)]
        config = dataclasses.asdict(strategy_config(cell.strategy, cell.options))
        model = models.canonical_name(cell.model) if cell.model else None
        card_fields = {k: v for k, v in dataclasses.asdict(card).items() if k != "source"}
        identity = {
            "task": card.name, "data_fingerprint": data.fingerprint, "card": card_fields,
            "strategy": cell.strategy, "config": config, "model": model, "seed": cell.seed, "budget": cell.budget,
            "device": resolve_device(cell.device),
        }
        key = records.cell_key(identity)
        art = getattr(card.source, "artifact", None)
        cls = STRATEGIES.get(cell.strategy)
        prov = {"strategy": {"family": getattr(cls, "family", "other"), "uses_labels": uses_labels(cell.strategy),
                             "seeded": seeded(cell.strategy),
                             "class": f"{cls.__module__}.{cls.__qualname__}", "origin": STRATEGIES.origin(cell.strategy)},
                "model": models.provenance(model),
                "data_source": card.source.describe(),
                "data_artifact": dataclasses.asdict(assets.artifact(art)) if art else None,
                "packages": provenance.package_versions(), "git": provenance.git_state(),
                "machine": provenance.machine()}
        path = records.record_path(results, card.name, cell.strategy, model, cell.seed, key, cell.budget)
        planned.append(Planned(dataclasses.replace(cell, model=model), key, path, identity, prov))
    return planned


def run(planned: list[Planned], results: Path, executor: Executor, force: bool = False,
        on_event: Callable[[str, Planned, dict | None], None] = lambda *a: None) -> Outcome:
    outcome = Outcome()
    todo = []
    for p in planned:
        if not force and records.is_done(p.path):
            outcome.skipped.append(p.path)
            on_event("skip", p, None)
        else:
            todo.append(p)
    by_key = {p.key: p for p in todo}
    claims: dict[str, records.Claim] = {}
    started: dict[str, str] = {}

    def jobs() -> Iterator[Job]:
        for p in todo:
            if not force and records.is_done(p.path):  # finished by a concurrent run meanwhile
                outcome.skipped.append(p.path)
                on_event("skip", p, None)
                continue
            claim = records.Claim(p.path)
            if not claim.acquire():
                outcome.busy.append(label(p.cell))
                on_event("busy", p, None)
                continue
            claims[p.key] = claim
            on_event("start", p, None)
            started[p.key] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            folder = p.path.relative_to(results / "records").with_suffix("")
            yield Job({**p.cell.as_json(), "key": p.key, "artifact_dir": str(results / "artifacts" / folder)},
                      label(p.cell), results / "logs" / folder.with_suffix(".log"))

    try:
        for job, result in executor.map(jobs()):
            p = by_key[job.cell["key"]]
            try:
                record = _record(p, result, started.get(p.key))
                if result.get("status") == "ok":
                    outcome.done.append(records.write_new(p.path, record))
                else:
                    records.write_atomic(records.failed_path(p.path), record)
                    outcome.failed.append((label(p.cell), result.get("error") or "unknown error"))
                on_event(result.get("status", "failed"), p, record)
            finally:
                claims.pop(p.key).release()
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        for claim in claims.values():
            claim.release()
    return outcome


def _record(p: Planned, result: dict, started_at: str | None) -> dict:
    c = p.cell
    return {
        "schema": records.SCHEMA,
        "key": p.key,
        "status": result.get("status", "failed"),
        "error": result.get("error"),
        "cell": {"task": p.identity["task"], "strategy": c.strategy, "model": c.model, "seed": c.seed,
                 "budget": c.budget},
        "config": {"strategy": p.identity["config"], "task": p.identity["card"], "device": p.identity["device"],
                   "task_ref": c.task, "data_override": c.data},
        "metrics": result.get("metrics"),
        "data": result.get("data"),
        "cost": result.get("cost"),
        "extra": result.get("extra", {}),
        "predictions": result.get("predictions"),
        "traceback": result.get("traceback"),
        "provenance": {**p.provenance, "started_at": started_at,
                       "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "data_fingerprint": p.identity["data_fingerprint"]},
    }
