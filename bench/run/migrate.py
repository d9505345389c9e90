"""Upgrading a results folder's records to the current schema, once: `bench migrate`.

Schema 1 records (before the typed record) are rewritten as schema 2 with the
new key (bench.run.records.upgrade_v1): nothing measured changes; training
curves and the artifact move from `extra` to their own typed fields; a record
that did not say whether its strategy is seeded gets the answer from the
registry, as the report used to look it up. Each new file is written
atomically before its old one is removed, so an interrupted migration leaves
every record readable in one schema or the other and can simply be run again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.contracts import traits
from bench.errors import BenchError
from bench.files import write_json
from bench.registry import STRATEGIES
from bench.run import store
from bench.run.records import SCHEMA, Record, upgrade_v1

_NAME = re.compile(r"-[0-9a-f]{12}(?P<suffix>.*)\.json$")  # ...seed0-<key12>[.rerun-... | .failed-...].json


def migrate(results: Path) -> tuple[int, int]:
    """(records upgraded, records already current) under `results/records`."""
    upgraded = current = 0
    for path in sorted((results / "records").rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # damaged: `bench report` names it, and its cell runs again
        if raw.get("schema") == SCHEMA:
            current += 1
            continue
        if raw.get("schema") != 1:
            raise BenchError(f"record {path} has schema {raw.get('schema')!r}; only schema 1 can be upgraded")
        strategy = raw["provenance"]["strategy"]
        if "seeded" not in strategy:
            strategy["seeded"] = _seeded(raw["cell"]["strategy"])
        record = Record.from_json(upgrade_v1(raw), where=f"record {path} (upgraded)")
        c = record.cell
        target = store.record_path(results, c.task, c.strategy, c.model, c.seed, record.key, c.budget)
        match = _NAME.search(path.name)
        target = target.with_name(target.stem + (match.group("suffix") if match else "") + ".json")
        if target.exists() and target != path:
            raise BenchError(f"record {path} upgrades to {target}, which exists already; move one of them away")
        write_json(target, record.as_json())
        if target != path:
            path.unlink()
        upgraded += 1
    return upgraded, current


def _seeded(strategy: str) -> bool:
    try:
        return traits(STRATEGIES.get(strategy)).seeded
    except BenchError:
        return True
