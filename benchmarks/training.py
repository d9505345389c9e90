"""Training throughput and peak memory of the trained strategies, to compare later work against.

Run from the repository root:

    .venv/bin/python benchmarks/training.py                       # spam, 256 examples, 1 epoch, all four
    .venv/bin/python benchmarks/training.py --task imdb --examples 128
    .venv/bin/python benchmarks/training.py --strategies lora full --models SmolLM2-135M-Instruct
    .venv/bin/python benchmarks/training.py --json results/benchmarks/training.json

Each strategy is trained in its own process (so its peak memory is its own) on
the same stratified sample of the task's training pool, for a fixed number of
epochs, with the strategy's other options at their defaults. Printed per
strategy: training examples per second (examples x epochs / time inside the
training loop, validation passes included), the whole fit's wall time (model
load, tokenisation or encoding, training, saving), trainable parameters, the
process's peak resident memory and, on a GPU, peak allocated GPU memory.
Numbers move with other load on the machine: compare runs taken alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

STRATEGIES = ("head-only", "lora", "full", "partial")


def measure(task: str, strategy: str, model: str | None, examples: int, epochs: int, device: str, seed: int) -> dict:
    """Train one strategy in this process and return its figures."""
    import resource

    from bench.contracts import RunContext
    from bench.data.loading import resolve
    from bench.models.local import use_offline_hub
    from bench.run.device import resolve_device, seed_everything
    from bench.run.grid import build_strategy
    from bench.run.plan import resolve_card

    use_offline_hub()
    device = resolve_device(device)
    card, data = resolve(resolve_card(task))
    seed_everything(seed)
    # max_train_examples includes the validation tenth: train on `examples`, validate on a tenth more
    options = {"max_train_examples": examples + max(2, examples // 9), "val_fraction": 0.1, "epochs": epochs}
    strategy = build_strategy(strategy, options, model, RunContext(device=device, seed=seed))
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    strategy.fit(data.train, card)
    fit_seconds = time.perf_counter() - started
    training = strategy.extra_info()["training"]  # a bench.contracts.TrainingInfo
    gpu_mb = None
    if device.startswith("cuda"):
        import torch

        gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {"task": task, "strategy": strategy.__class__.__name__, "model": model or strategy.default_model,
            "device": device, "n_train": training.n_train, "epochs": training.epochs_run,
            "examples_per_second": training.train_examples_per_second, "fit_seconds": round(fit_seconds, 1),
            "trainable_params": strategy.parameter_counts().trainable,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_mb": gpu_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="spam")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--models", nargs="+", default=[None], help="default: each strategy's own model")
    parser.add_argument("--examples", type=int, default=256, help="training examples (default 256)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one strategy, print JSON
    args = parser.parse_args(argv)
    if args.one:
        model = None if args.models == [None] else args.models[0]
        print(json.dumps(measure(args.task, args.one, model, args.examples, args.epochs, args.device, args.seed)))
        return 0

    rows = []
    print(f"{'strategy':<10} {'model':<24} {'ex/s':>8} {'fit s':>8} {'trainable':>12} {'peak RSS MB':>12} {'peak GPU MB':>12}")
    for model in args.models:
        for strategy in args.strategies:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", strategy, "--task", args.task,
                   "--examples", str(args.examples), "--epochs", str(args.epochs), "--device", args.device,
                   "--seed", str(args.seed)] + (["--models", model] if model else [])
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"{strategy:<10} failed: {tail}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["strategy"] = strategy
            rows.append(row)
            print(f"{strategy:<10} {row['model']:<24} {row['examples_per_second']:>8} {row['fit_seconds']:>8} "
                  f"{row['trainable_params']:>12,} {row['peak_rss_mb']:>12} {str(row['peak_gpu_mb'] or '-'):>12}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"task": args.task, "examples": args.examples, "epochs": args.epochs,
                       "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
