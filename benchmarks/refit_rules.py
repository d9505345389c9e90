"""Which refit rule keeps what a tuned trial validated: a study on training labels only.

A tuned trained strategy chooses its options and its epoch in a trial (trained
on part of the cell's training labels, each epoch validated on the rest) and is
then refit on all of them. Two ways to refit the kept epoch k of a trial whose
learning-rate schedule was planned for E epochs:

- `replay` (protocol versions 3 and 4): the same schedule, planned for E
  epochs, stopped after epoch k. The weights are the trial's epoch-k weights,
  taken while the learning rate is still high (at k = 4 of 10, about 70 % of
  its peak).
- `anneal` (version 2's rule): a schedule planned for k epochs (warmup, then a
  linear decay to 0 at epoch k), as a plain training script runs; more than one
  optimiser step's worth of noise is averaged out by the decay.

This command compares them without the test split: for each tuned record it
takes the chosen options and kept epoch, draws fresh stratified held-out splits
of the cell's training labels (seeded apart from the tuner's, the tuner's
held-out size), trains each rule on the rest and scores the held-out part.
Both rules use the same choice, made on another split, so neither is favoured
by it. Printed: per record and split, each rule's held-out and training
accuracy and seconds; then the paired difference over all held-out items
(McNemar's exact test) and the mean.

Run from the repository root (reads records, writes nothing):

    .venv/bin/python benchmarks/refit_rules.py --results leaderboard --task imdb --strategies full
    .venv/bin/python benchmarks/refit_rules.py --results leaderboard --task imdb --strategies lora --splits 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

RULES = ("replay", "anneal")
SPLIT_SEED = 10_000  # fresh held-out splits: seeds far from the tuner's (the run seed)


def refit_config(cls, refit: dict, rule: str):
    """The Config of a refit under `rule`, from a record's `tuning.refit` (a replay: stop_after = k)."""
    config = cls.Config(**refit)
    if rule == "replay" or not config.stop_after:
        return config
    return dataclasses.replace(config, epochs=config.stop_after, stop_after=0)


def tuned_records(results: Path, task: str, strategy: str, budget: int | None) -> list:
    """The newest tuned records of the current protocol for this cell, one per seed, at the strategy's default
    options (the options tuned aside): the cells the published study runs."""
    from bench.report.table import changed_options, newest
    from bench.run.tuning import PROTOCOL_VERSION

    found = {}
    for record in newest(results).finished:
        cell, tuning = record.cell, record.tuning
        if (cell.task, cell.strategy, cell.budget) != (task, strategy, budget) or tuning is None:
            continue
        if tuning.version != PROTOCOL_VERSION or not tuning.refit.get("stop_after"):
            continue
        if changed_options(strategy, record.config.strategy):
            continue  # a run with options set by hand (--set), a row of its own in the leaderboard
        found[cell.seed] = record
    return [found[s] for s in sorted(found)]


def held_out(train, seed: int, size: int):
    """A stratified (fit, held-out) pair of splits of `train`, seeded."""
    from sklearn.model_selection import StratifiedShuffleSplit

    [(a, b)] = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed).split(train.labels,
                                                                                           train.labels)
    return train.subset(a), train.subset(b)


def run(args) -> dict:
    from bench.contracts import RunContext
    from bench.data.loading import resolve
    from bench.data.sampling import budget_sample
    from bench.models.local import use_offline_hub
    from bench.registry import STRATEGIES
    from bench.report.paired import mcnemar_exact
    from bench.run.device import resolve_device, resolve_precision, seed_everything
    from bench.run.plan import resolve_card
    from bench.run.tuning import HOLDOUT, HOLDOUT_MAX, _accuracy, _predict

    use_offline_hub()
    device = resolve_device(args.device)
    precision = resolve_precision("auto", device)
    card, data = resolve(resolve_card(args.task))
    rows, correct = [], {rule: [] for rule in RULES}
    for strategy in args.strategies:
        cls = STRATEGIES.get(strategy)
        records = [r for r in tuned_records(Path(args.results), args.task, strategy, args.budget)
                   if r.cell.seed in args.seeds]
        if not records:
            sys.exit(f"error: no tuned {strategy} record of {args.task} at the current protocol in "
                     f"{args.results}; run the tuned study first (bench run --tune 3)")
        for record in records:
            seed = record.cell.seed
            train = budget_sample(data.train, args.budget, seed)
            size = min(HOLDOUT_MAX, round(HOLDOUT * len(train)))
            for j in range(args.splits):
                fit, val = held_out(train, SPLIT_SEED + 100 * seed + j, size)
                row = {"strategy": strategy, "seed": seed, "split": j, "chosen": record.tuning.chosen,
                       "kept_epoch": record.tuning.refit["stop_after"],
                       "planned": record.training.epochs_planned if record.training else None}
                for rule in RULES:
                    seed_everything(seed)
                    config = refit_config(cls, record.tuning.refit, rule)
                    fitted = cls(config, record.cell.model, RunContext(device=device, precision=precision,
                                                                         seed=seed))
                    t0 = time.perf_counter()
                    fitted.fit(fit, card)
                    seconds = time.perf_counter() - t0
                    right = [p == y for p, y in zip(_predict(fitted, cls, val.texts), val.labels)]  # for McNemar
                    correct[rule] += right
                    row[rule] = {"held_out": round(sum(right) / len(right), 4),
                                 "train": round(_accuracy(fitted, cls, fit), 4), "seconds": round(seconds, 1)}
                    del fitted
                rows.append(row)
                print(json.dumps(row), flush=True)
    b, c, p = mcnemar_exact(correct["anneal"], correct["replay"])
    summary = {rule: round(100 * statistics.mean(correct[rule]), 2) for rule in RULES}
    summary.update(items=len(correct["replay"]), anneal_only=b, replay_only=c, mcnemar_p=round(p, 4))
    return {"rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="leaderboard", help="the folder holding the tuned records")
    parser.add_argument("--task", default="imdb")
    parser.add_argument("--strategies", nargs="+", default=["full"])
    parser.add_argument("--budget", type=int, default=None, help="labels per class; default: every label")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--splits", type=int, default=2, help="fresh held-out splits per record")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the rows and summary to this file")
    args = parser.parse_args(argv)
    out = run(args)
    s = out["summary"]
    print(f"held-out accuracy over {s['items']} items: anneal {s['anneal']} %, replay {s['replay']} %; "
          f"right only under anneal {s['anneal_only']}, only under replay {s['replay_only']}, "
          f"McNemar p = {s['mcnemar_p']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
