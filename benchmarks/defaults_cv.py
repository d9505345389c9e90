"""Which default should a strategy train with: option variants compared by cross-validation on training labels.

A run without `--tune` trains each strategy at its defaults, so a default is
a choice and must be made without the test split (TUNING.md, "Defaults").
The tuner's held-out split (40 imdb reviews) is too small to see a difference
of a few points: one review is 2.5 of them. This command scores every
training label once instead: the cell's training labels are cut into k
stratified folds, each variant of a strategy's options is trained on k-1
folds (with its own early-stopping split inside them, as an untuned run has)
and answers the remaining fold; the variants see the same folds and seeds,
so their answers pair up text by text.

Printed: a JSON line per (strategy, seed, fold, variant) with its held-out
accuracy and fit seconds, then per strategy each variant's held-out accuracy
over every training label and the paired difference against the first
variant (McNemar's exact test on the texts one variant gets right and the
other wrong). The test split is never loaded into a strategy.

Run from the repository root (writes nothing unless --json):

    .venv/bin/python benchmarks/defaults_cv.py --task imdb --strategies lora partial \\
        --variant attention_dropout=None --variant attention_dropout=0 --folds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def folds(train, k: int, seed: int):
    """k stratified (fit, held-out) pairs of splits of `train` that hold out every text once, seeded."""
    from sklearn.model_selection import StratifiedKFold

    cut = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train.subset(a), train.subset(b)) for a, b in cut.split(train.labels, train.labels)]


def variants(specs: list[str]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """`["attention_dropout=0 learning_rate=1e-4", ...]` into (label, ((name, value), ...)) pairs."""
    out = []
    for spec in specs:
        pairs = []
        for item in spec.split():
            name, sep, value = item.partition("=")
            if not sep or not name:
                sys.exit(f"error: --variant {spec!r}: expected NAME=VALUE pairs separated by spaces, "
                         "e.g. --variant 'attention_dropout=0'")
            pairs.append((name, value))
        out.append((spec, tuple(pairs)))
    return out


def run(args) -> dict:
    from bench.contracts import RunContext
    from bench.data.loading import resolve
    from bench.data.sampling import budget_sample
    from bench.errors import BenchError
    from bench.models.local import use_offline_hub
    from bench.registry import STRATEGIES
    from bench.report.paired import mcnemar_exact
    from bench.run.device import resolve_device, resolve_precision, seed_everything
    from bench.run.grid import build_strategy, parse_options
    from bench.run.plan import resolve_card
    from bench.run.provenance import git_state, machine, package_versions
    from bench.run.tuning import _predict

    git = git_state()  # the code as it starts: a commit made while it runs is not the one that ran
    use_offline_hub()
    device = resolve_device(args.device)
    precision = resolve_precision("auto", device)
    card, data = resolve(resolve_card(args.task))
    chosen = variants(args.variant)
    try:
        options = {label: parse_options(pairs, args.strategies) for label, pairs in chosen}
    except BenchError as exc:
        sys.exit(f"error: {exc}")
    rows, summary = [], []
    for strategy in args.strategies:
        cls = STRATEGIES.get(strategy)
        correct = {label: [] for label, _ in chosen}
        seconds = {label: [] for label, _ in chosen}
        for seed in args.seeds:
            train = budget_sample(data.train, args.budget, seed)
            for j, (fit, held) in enumerate(folds(train, args.folds, seed)):
                for label, _ in chosen:
                    seed_everything(seed)
                    fitted = build_strategy(strategy, options[label][strategy], None,
                                            RunContext(device=device, precision=precision, seed=seed))
                    t0 = time.perf_counter()
                    fitted.fit(fit, card)
                    spent = time.perf_counter() - t0
                    right = [p == y for p, y in zip(_predict(fitted, cls, held.texts), held.labels)]
                    correct[label] += right
                    seconds[label].append(spent)
                    row = {"strategy": strategy, "seed": seed, "fold": j, "variant": label,
                           "held_out": round(sum(right) / len(right), 4), "fit_s": round(spent, 1)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    del fitted
        first = chosen[0][0]
        for label, _ in chosen:
            line = {"strategy": strategy, "variant": label, "items": len(correct[label]),
                    "held_out_pct": round(100 * statistics.mean(correct[label]), 2),
                    "fit_s_mean": round(statistics.mean(seconds[label]), 1)}
            if label != first:
                b, c, p = mcnemar_exact(correct[first], correct[label])
                line.update(difference_pts=round(line["held_out_pct"] - 100 * statistics.mean(correct[first]), 2),
                            only_first=b, only_this=c, mcnemar_p=round(p, 4))
            summary.append(line)
    return {"task": args.task, "budget": args.budget, "folds": args.folds, "seeds": args.seeds,
            "command": " ".join(["benchmarks/defaults_cv.py", *sys.argv[1:]]), "precision": precision,
            "provenance": {"git": git, "machine": machine(), "versions": package_versions()},
            "rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="imdb")
    parser.add_argument("--strategies", nargs="+", default=["lora"])
    parser.add_argument("--variant", action="append", required=True,
                        help="option values of one variant, 'NAME=VALUE ...' (bare or strategy.NAME); "
                             "repeat; the first is the reference the others are paired against")
    parser.add_argument("--budget", type=int, default=None, help="labels per class; default: every label")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the rows and summary to this file")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    out = run(args)
    for line in out["summary"]:
        extra = (f"; {line['difference_pts']:+.2f} points against the first variant, right only under it "
                 f"{line['only_first']}, only under this {line['only_this']}, McNemar p = {line['mcnemar_p']}"
                 if "difference_pts" in line else "")
        print(f"{line['strategy']} [{line['variant']}]: {line['held_out_pct']} % of {line['items']} held-out "
              f"texts, {line['fit_s_mean']} s a fit{extra}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
