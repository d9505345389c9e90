"""Runs a planned grid: skips what is recorded, runs the rest, records every outcome.

A cell is skipped when an ok record with its key exists (unless forced);
otherwise it is claimed (so a second `bench run` on the same folder leaves it
alone), handed to the executor, and its record written atomically as soon as
it ends, so an interruption loses at most the cells in flight. The executor
never writes records: the runner does, for every engine alike, taking where
the cell ran (`placement`, `machine`) from the machine that ran it.
"""

from __future__ import annotations

import dataclasses
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from bench.run import store
from bench.run.executors import Executor, Job
from bench.run.plan import Planned
from bench.run.records import CellId, Placement, Record, RecordError, build

OUTPUTS = ("metrics", "data", "training", "artifact", "tuning", "shift", "forgetting", "update", "predictions", "gold",
           "traceback")  # from the worker, as they are


@dataclass
class Outcome:
    done: list[Path] = field(default_factory=list)  # written this run
    skipped: list[Path] = field(default_factory=list)  # recorded before
    failed: list[tuple[str, str]] = field(default_factory=list)  # (cell label, error)
    busy: list[str] = field(default_factory=list)  # claimed by another process
    interrupted: bool = False


def run(planned: list[Planned], results: Path, executor: Executor, force: bool = False,
        on_event: Callable[[str, Planned, Record | None], None] = lambda *a: None) -> Outcome:
    outcome = Outcome()
    todo = []
    for p in planned:
        if not force and store.is_done(p.path):
            outcome.skipped.append(p.path)
            on_event("skip", p, None)
        else:
            todo.append(p)
    by_key = {p.key: p for p in todo}
    claims: dict[str, store.Claim] = {}
    started: dict[str, str] = {}

    def jobs() -> Iterator[Job]:
        for p in todo:
            if not force and store.is_done(p.path):  # finished by a concurrent run meanwhile
                outcome.skipped.append(p.path)
                on_event("skip", p, None)
                continue
            claim = store.Claim(p.path)
            if not claim.acquire():
                outcome.busy.append(p.label)
                on_event("busy", p, None)
                continue
            claims[p.key] = claim
            on_event("start", p, None)
            started[p.key] = _now()
            folder = p.path.relative_to(results / "records").with_suffix("")
            yield Job(p.key, p.job, p.label, results / "logs" / folder.with_suffix(".log"))

    results_in = executor.map(jobs())
    try:
        for job, result in results_in:
            p = by_key[job.key]
            try:
                record = make_record(p, result, started.get(p.key))
                if record.ok:
                    outcome.done.append(store.write_new(p.path, record))
                else:
                    store.write_new(store.failed_path(p.path), record)
                    outcome.failed.append((p.label, record.error or "unknown error"))
                on_event(record.status, p, record)
            finally:
                claims.pop(p.key).release()
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        getattr(results_in, "close", lambda: None)()  # an engine stops what it still runs
        for claim in claims.values():
            claim.release()
    return outcome


def make_record(p: Planned, result: dict, started_at: str | None) -> Record:
    """The record of a planned cell from its worker's result; a malformed result makes a failed record."""
    c = p.cell
    provenance = dataclasses.replace(p.provenance, started_at=started_at, finished_at=_now())
    base = dict(key=p.key, cell=CellId(p.config.task["name"], c.strategy, c.model, c.seed, c.budget), config=p.config)
    hints = typing.get_type_hints(Record)
    raw = {"status": result.get("status", "failed"), "error": result.get("error"), "cost": result.get("cost") or {},
           "extra": result.get("extra") or {}, **{k: result.get(k) for k in OUTPUTS}}
    raw["forgetting"] = raw["forgetting"] or []  # a plain cell, or a failed one, probed nothing
    try:
        where = dataclasses.replace(provenance, machine=build(dict, result.get("machine") or provenance.machine,
                                                              "worker result machine"),
                                    placement=build(Placement | None, result.get("placement"),
                                                    "worker result placement"))
        return Record(**base, provenance=where, **{k: build(hints[k], v, f"worker result {k}") for k, v in raw.items()})
    except RecordError as exc:
        return Record(**base, provenance=provenance, status="failed", error=f"the worker's result is malformed: {exc}")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
