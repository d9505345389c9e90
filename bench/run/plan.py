"""Planning a grid: every cell resolved once, keyed, and packed for a worker.

`plan(cells, results)` resolves each task once (its card and its data, which
it checks), each strategy's Config once, the device and its precision once, and the provenance
that is the same for every cell once. Per cell it works out the key (bench.run
records), the record's path, and the *job*: everything the worker needs (the
resolved card, the Config's values, the task's data, where to keep what it
trains), so the worker derives nothing again. A label budget that is the
whole training pool, or more, is refused here, before anything runs.

A scenario cell (bench.scenarios) also gets the other tasks it names,
resolved the same way: the task it trains on (with the label map, matched by
name) or the tasks its tuned encoder is probed on.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from bench.contracts import TaskCard, TaskData, traits
from bench.data import cards
from bench.registry import STRATEGIES, TASKS
from bench.run import records, store
from bench.run.grid import Cell, strategy_config


@dataclass(frozen=True)
class Planned:
    cell: Cell  # with the model's canonical name
    key: str
    path: Path  # where its record goes
    job: dict  # what the worker gets (JSON)
    config: records.RunConfig
    provenance: records.Provenance  # without start and finish times

    @property
    def label(self) -> str:
        return label(self.cell, self.config.task["name"])


def label(cell: Cell, task: str | None = None) -> str:
    """"imdb / head-only / all-MiniLM-L6-v2 / 8/class / seed 0", for progress and summaries."""
    budget = [] if cell.budget is None else [f"{cell.budget}/class"]
    scenario = [scenario_tag(cell)] if cell.scenario else []
    return " / ".join([task or Path(cell.task).stem, cell.strategy, cell.model or "-", *budget, f"seed {cell.seed}",
                       *scenario])


def resolve_card(task: str, data: str | None = None) -> TaskCard:
    """A task name or a .toml card's path, with a local copy of its data if one is given."""
    card = cards.load_card(task) if task.endswith(".toml") else TASKS.get(task)
    if data:
        from bench.data.sources.tables import LocalTable

        # a local copy uses the common column names (the aclImdb and hub layouts give them)
        card = replace(card, source=LocalTable(data), text_field="text", label_field="label")
    return card


def plan(cells: list[Cell], results: Path, note: Callable[[str], None] = lambda text: None,
         device: Callable[[str], str] | None = None) -> list[Planned]:
    """Resolve and key every cell; loads each task's data once (and checks it). `note` hears about short classes;
    `device` turns "auto" into the device the cells will run on (default: this machine's; an engine asks its nodes)."""
    from bench.models import catalogue
    from bench.run import provenance
    from bench.run.device import cell_precision, resolve_device

    devices: dict[str, str] = {}  # as asked -> as resolved, once
    tasks: dict[tuple, tuple[TaskCard, TaskData, dict, dict]] = {}  # card, data, and both as JSON
    configs: dict[tuple, dict] = {}
    named = {(c.task, c.data): resolve_card(c.task, c.data) for c in cells}  # every card checked before any data loads
    for c in cells:
        for other in filter(None, (c.scenario.train_on, *c.scenario.probes)):
            named.setdefault((other, None), resolve_card(other))

    def task(where: tuple) -> tuple[TaskCard, TaskData, dict, dict]:
        if where not in tasks:
            from bench.data.loading import resolve

            card, data = resolve(named[where])
            tasks[where] = (card, data, cards.as_json(card), data.as_json())
        return tasks[where]
    shared = {"packages": provenance.package_versions(), "git": provenance.git_state(),
              "machine": provenance.machine()}
    planned = []
    for cell in cells:
        card, data, card_json, data_json = task((cell.task, cell.data))
        scenario_job, scenario_key = _scenario(cell, card, task)
        if cell.scenario.train_on:  # the budget is drawn from the task it trains on
            source_card, source_data, *_ = task((cell.scenario.train_on, None))
            _check_budget(source_card, source_data, cell.budget, note)
        else:
            _check_budget(card, data, cell.budget, note)
        option_key = (cell.strategy, tuple(sorted(cell.options.items())))
        if option_key not in configs:
            configs[option_key] = dataclasses.asdict(strategy_config(cell.strategy, cell.options))
        config = configs[option_key]
        model = catalogue.canonical_name(cell.model) if cell.model else None
        if cell.device not in devices:
            devices[cell.device] = (device or resolve_device)(cell.device)
        on = devices[cell.device]
        cls = STRATEGIES.get(cell.strategy)
        found = traits(cls)
        precision = cell_precision(cell.precision, on, found.bf16)
        tune = cell.tune if cell.tune and found.search_space and found.uses_labels else 0
        tuning = {"trials": tune, "protocol": tuning_protocol(cls),
                  "space": {k: list(v) for k, v in sorted(found.search_space.items())}} if tune else None
        if tuning and cell.select_only:
            tuning["select_only"] = True
        keyed = keyed_config(cls, config)

        def where(tuning: dict | None) -> tuple[str, Path]:  # the cell's key and record path under these rules
            key = records.cell_key(records.cell_identity(card.name, card.prompt_fields(), data.fingerprint,
                                                         cell.strategy, keyed, model, cell.seed, cell.budget, on,
                                                         tuning, scenario_key, precision))
            return key, store.record_path(results, card.name, cell.strategy, model, cell.seed, key, cell.budget,
                                          scenario_tag(cell))
        key, path = where(tuning)
        folder = path.relative_to(results / "records").with_suffix("")
        art = getattr(card.source, "artifact", None)
        prov = records.Provenance(
            strategy=records.StrategyInfo(found.family, found.uses_labels, found.seeded,
                                          f"{cls.__module__}.{cls.__qualname__}", STRATEGIES.origin(cell.strategy)),
            model=catalogue.provenance(model), data_source=card.source.describe(),
            data_artifact=dataclasses.asdict(_artifact(art)) if art else None, data_fingerprint=data.fingerprint,
            **shared)
        job = {"cell": {"task": card.name, "strategy": cell.strategy, "model": model, "seed": cell.seed,
                        "budget": cell.budget},
               "key": key, "card": card_json, "config": config, "device": on, "precision": precision,
               "data": data_json, "tune": tune,
               "select_only": bool(tune and cell.select_only), "scenario": scenario_job,
               "prior_trials": _prior_trials(tuning, where, results),
               "artifact_dir": str(results / "artifacts" / folder)}
        run_config = records.RunConfig(strategy=config, task=card_json, device=on, task_ref=cell.task,
                                       data_override=cell.data, precision=precision)
        planned.append(Planned(replace(cell, model=model, tune=tune), key, path, job, run_config, prov))
    return planned


def _scenario(cell: Cell, card: TaskCard, task: Callable) -> tuple[dict | None, dict | None]:
    """A scenario cell's part of the job (the other tasks, resolved) and of its key; (None, None) for a plain cell."""
    if not cell.scenario:
        return None, None
    from bench.scenarios import forgetting, shift

    job: dict = {"update": cell.scenario.update}
    key: dict = {"update": cell.scenario.update} if cell.scenario.update else {}
    if cell.scenario.train_on:
        source_card, source_data, source_card_json, source_data_json = task((cell.scenario.train_on, None))
        mapping = shift.label_map(source_card, card)
        job["train_on"] = {"card": source_card_json, "data": source_data_json, "label_map": list(mapping)}
        key["train_on"] = {"task": source_card.name, "data_fingerprint": source_data.fingerprint,
                           "task_inputs": source_card.prompt_fields()}
    if cell.scenario.probes:
        probed = [task((name, None)) for name in cell.scenario.probes]
        job["probes"] = [{"card": card_json, "data": data_json} for _, _, card_json, data_json in probed]
        key["probes"] = {"version": forgetting.PROBE_VERSION,
                         "tasks": [{"task": c.name, "data_fingerprint": d.fingerprint, "max_tokens": c.max_tokens}
                                   for c, d, _, _ in probed]}
    return job, key


def scenario_tag(cell: Cell) -> str:
    """What a scenario cell's record file name starts with: from-<task>, probe, update<percent>."""
    parts = [f"from-{Path(cell.scenario.train_on).stem}"] if cell.scenario.train_on else []
    parts += ["probe"] if cell.scenario.probes else []
    parts += [f"update{round(cell.scenario.update * 100)}"] if cell.scenario.update else []
    return "-".join(parts)


def tuning_protocol(cls: type) -> int:
    from bench.run.tuning import protocol_version

    return protocol_version(cls)


def keyed_config(cls: type, config: dict) -> dict:
    """The options that go into a cell's key: all of them, except that an option added after records existed
    (its field's metadata says `keyed_when_set`) counts only when it is set, so adding it changed no key."""
    quiet = {f.name: f.default for f in dataclasses.fields(cls.Config) if f.metadata.get("keyed_when_set")}
    return {k: v for k, v in config.items() if k not in quiet or v != quiet[k]}


def _prior_trials(tuning: dict | None, where: Callable, results: Path) -> dict | None:
    """Trials this cell's tuner may reuse instead of running them again, with the record they come from: the
    same cell's `--select-only` record (its choice, made under the same rules or older ones that ran the same
    trials, bench.run.tuning.TRIALS_AS_IN), or its record under such an older protocol; None if none exists."""
    from bench.run.tuning import TRIALS_AS_IN

    if not tuning:
        return None
    older = [{**tuning, "protocol": version} for version in TRIALS_AS_IN.get(tuning["protocol"], ())]
    if tuning.get("select_only"):  # a choice borrows from choices only
        lenders = older
    else:  # the same cell's choices first (under today's rules or older ones), then its older tuned records
        lenders = [{**lender, "select_only": True} for lender in [tuning, *older]] + older
    for lender in lenders:
        _, path = where(lender)
        record = store.done(path)
        if record is not None and record.tuning is not None:
            return {"record": str(path.relative_to(results)), "tuning": dataclasses.asdict(record.tuning)}
    return None


def _artifact(package: str):
    from bench.data import assets

    return assets.artifact(package)


def _check_budget(card: TaskCard, data: TaskData, budget: int | None, note: Callable[[str], None]) -> None:
    """A budget as large as every class is the whole pool (refused: use 'all'); one larger than some is noted."""
    if budget is None:
        return
    from bench.errors import BenchError

    counts = Counter(data.train.labels)
    sizes = ", ".join(f"{card.labels[k]} {n}" for k, n in sorted(counts.items()))
    if budget >= max(counts.values()):
        raise BenchError(f"--budgets {budget}: task {card.name}'s training pool has at most {max(counts.values())} "
                         f"examples per class ({sizes}), so {budget} per class is all of it; use 'all' or a smaller "
                         "budget")
    short = [card.labels[k] for k, n in sorted(counts.items()) if n < budget]
    if short:
        note(f"task {card.name}, {budget} labels per class: {', '.join(short)} has fewer ({sizes}); "
             "all of those are used")
