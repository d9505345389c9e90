"""Label-scoring throughput, MFU and peak memory of the prompting strategies, to compare later work against.

Run from the repository root:

    .venv/bin/python benchmarks/scoring.py                     # imdb, 64 test texts, zero-shot and few-shot
    .venv/bin/python benchmarks/scoring.py --task spam --examples 256
    .venv/bin/python benchmarks/scoring.py --strategies zero-shot few-shot rag --device cuda
    .venv/bin/python benchmarks/scoring.py --precisions fp32 bf16 bf16-checked   # side by side, with accuracy
    .venv/bin/python benchmarks/scoring.py --json results/benchmarks/scoring.json

Each strategy runs in its own process (so its peak memory is its own) with its
default options, on the first N texts of the task's test split, once per
precision asked for (`auto`, the default, is what `bench run` uses: where the
hardware computes bf16 natively, bf16 with the close calls scored again in
fp32, "bf16-checked"; bench.run.device). Printed per strategy and precision:
the accuracy on those N texts, how many answers differ from the same
strategy's in fp32 (when fp32 is measured too), the share of texts scored
twice and the largest change of a label's probability among them (to see
what a numeric format costs), scored texts per second (N / the
time of `predict_proba`, which covers tokenising, the shared-prefix pass,
batched scoring, calibration and the fp32 re-scoring), prompt tokens per
second, mean prompt length, the fit's wall time, the process's peak resident
memory and, on a GPU, peak allocated GPU memory; and the achieved FLOP/s over
this machine's best matrix rate (MFU), which the command measures itself at
the start (benchmarks/peak.py). FLOPs counted:
2 x the non-embedding parameters per token run through the model (the shared
prefix once, padding left out), 4 x layers x width per token and position of
attention, and the output layer for the positions whose logits are kept.
Not a test: numbers move with other load on the machine (and with
OMP_NUM_THREADS); compare runs taken alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

STRATEGIES = ("zero-shot", "few-shot")


def measure(task: str, strategy: str, model: str | None, examples: int, device: str, seed: int,
            precision: str = "auto") -> dict:
    """Fit one strategy and score N test texts in this process; return the figures."""
    import resource

    import numpy as np

    from bench.contracts import RunContext
    from bench.data.loading import resolve
    from bench.models.local import use_offline_hub
    from bench.contracts import traits
    from bench.registry import STRATEGIES
    from bench.run.device import cell_precision, resolve_device, seed_everything
    from bench.run.grid import build_strategy
    from bench.run.plan import resolve_card

    use_offline_hub()
    device = resolve_device(device)
    if precision != "bf16-checked":  # what bench run would compute this strategy in
        precision = cell_precision(precision, device, traits(STRATEGIES.get(strategy)).bf16)
    card, data = resolve(resolve_card(task))
    texts = data.test.texts[:examples]
    seed_everything(seed)
    strategy = build_strategy(strategy, {}, model, RunContext(device=device, precision=precision, seed=seed))
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    strategy.fit(data.train, card)
    t1 = time.perf_counter()
    proba = strategy.predict_proba(texts)
    t2 = time.perf_counter()
    answers = np.asarray(proba).argmax(axis=1)
    accuracy = float((answers == np.asarray(data.test.labels[:examples])).mean())
    prompt = strategy.extra_info().get("prompt", {})
    gpu_mb = None
    if device.startswith("cuda"):
        import torch

        gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    tokens = prompt.get("prompt_tokens_mean", 0) * len(texts)
    flops = scoring_flops(strategy.scorer)
    return {"task": task, "strategy": strategy_name(strategy), "device": device, "precision": precision,
            "examples": len(texts), "accuracy": round(accuracy, 4),
            "gflop_per_second": round(flops / (t2 - t1) / 1e9, 1),
            "examples_per_second": round(len(texts) / (t2 - t1), 2),
            "prompt_tokens_per_second": round(tokens / (t2 - t1), 1),
            "prompt_tokens_mean": prompt.get("prompt_tokens_mean"), "predict_seconds": round(t2 - t1, 2),
            "fit_seconds": round(t1 - t0, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_mb": gpu_mb, "threads": _threads(), "answers": answers.tolist(),
            "rescored": prompt.get("check", {}).get("rescored_texts"),
            "largest_shift": prompt.get("check", {}).get("largest_shift")}


def scoring_flops(scorer) -> float:
    """FLOPs of the forward passes the scorer ran (see the module docstring)."""
    config, stats = scorer.model.config, scorer.stats
    embedding = scorer.model.get_input_embeddings().weight
    params = sum(p.numel() for p in scorer.model.parameters()) - embedding.numel()  # tied output layer aside
    width, layers = config.hidden_size, config.num_hidden_layers
    return (2 * params * stats.forward_tokens + 4 * layers * width * stats.attention_positions
            + 2 * embedding.numel() * stats.output_rows)


def strategy_name(strategy) -> str:
    from bench.registry import STRATEGIES

    return next(e.name for e in STRATEGIES.entries() if e.obj is type(strategy))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    from bench.run.mkl import reexec

    reexec()  # on an AMD processor with AVX-512: MKL's Intel code, as every cell runs it (bench.run.mkl)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="imdb")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--models", default=None, help="causal LM for every strategy (default: each one's own)")
    parser.add_argument("--examples", type=int, default=64, help="test texts scored per strategy (default: 64)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16", "bf16-checked"],
                        help="measure each strategy in each of these (default: auto, what bench run uses)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: measure one, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.task, args.strategies[0], args.models, args.examples, args.device, args.seed,
                                 args.precisions[0])))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peak import blas_note, peak

    machine = peak(args.device if args.device != "auto" else "cpu")
    rows = []
    for strategy in args.strategies:
        for precision in args.precisions:
            cmd = [sys.executable, __file__, "--one", "--task", args.task, "--strategies", strategy,
                   "--examples", str(args.examples), "--device", args.device, "--seed", str(args.seed),
                   "--precisions", precision]
            if args.models:
                cmd += ["--models", args.models]
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env={**os.environ, "PYTHONPATH": os.getcwd()})
            if done.returncode != 0:
                print(f"{strategy} ({precision}): failed (exit {done.returncode}); rerun with --one to see why",
                      file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"task {args.task}: {args.examples} test texts per strategy, device {rows[0]['device'] if rows else '?'}, "
          f"{rows[0]['threads'] if rows else '?'} threads; peak matmul {machine['fp32']} GFLOP/s fp32"
          f"{blas_note(machine)}, bf16 {machine['bf16'] or 'not available on this processor'}")
    print(f"{'strategy':<12}{'precision':>13}{'accuracy':>9}{'vs fp32':>8}{'rescored':>9}{'shift':>7}{'texts/s':>9}"
          f"{'tokens/s':>10}{'prompt tok':>11}{'predict s':>10}{'fit s':>7}{'GFLOP/s':>9}{'MFU':>6}"
          f"{'peak RSS MB':>12}{'peak GPU MB':>12}")
    fp32 = {r["strategy"]: r["answers"] for r in rows if r["precision"] == "fp32"}
    for r in rows:
        r["mfu"] = round(r["gflop_per_second"] / machine["best"], 3)
        # answers that differ from the same strategy's in fp32 (when measured), texts scored twice (bf16-checked)
        differ = sum(a != b for a, b in zip(r["answers"], fp32[r["strategy"]])) if r["strategy"] in fp32 else "-"
        rescored = "-" if r["rescored"] is None else f"{r['rescored'] / r['examples']:.0%}"
        shift = "-" if r["largest_shift"] is None else f"{r['largest_shift']:.3f}"
        print(f"{r['strategy']:<12}{r['precision']:>13}{r['accuracy']:>9.1%}{differ:>8}{rescored:>9}{shift:>7}"
              f"{r['examples_per_second']:>9}{r['prompt_tokens_per_second']:>10}"
              f"{r['prompt_tokens_mean']:>11}{r['predict_seconds']:>10}{r['fit_seconds']:>7}"
              f"{r['gflop_per_second']:>9}{r['mfu']:>6.0%}{r['peak_rss_mb']:>12}{str(r['peak_gpu_mb']):>12}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"peak": machine, "rows": rows}, f, indent=1)
    return 0 if len(rows) == len(args.strategies) * len(args.precisions) else 1


if __name__ == "__main__":
    raise SystemExit(main())
