"""Training throughput, MFU and peak memory of the trained strategies, to compare later work against.

Run from the repository root:

    .venv/bin/python benchmarks/training.py                       # spam, 256 examples, 1 epoch, all four
    .venv/bin/python benchmarks/training.py --task imdb --examples 128
    .venv/bin/python benchmarks/training.py --strategies lora full --models SmolLM2-135M-Instruct
    .venv/bin/python benchmarks/training.py --json results/benchmarks/training.json
    .venv/bin/python benchmarks/training.py --precisions fp32 bf16    # the two side by side
    .venv/bin/python benchmarks/training.py --attention-dropouts model 0   # with the model's own and without

Each strategy is trained in its own process (so its peak memory is its own) on
the same stratified sample of the task's training pool, for a fixed number of
epochs, with the strategy's other options at their defaults, once per
precision asked for (`auto`, the default, is what `bench run` uses: bf16
autocast where the hardware computes it natively). Printed per strategy and
precision: training examples per second (examples x epochs / time inside the
training loop, validation passes included), the whole fit's wall time (model
load, tokenisation or encoding, training, saving), trainable parameters, the
process's peak resident memory and, on a GPU, peak allocated GPU memory; and,
for the strategies that train a transformer (full, partial, lora), the
achieved FLOP/s inside the training loop over this machine's best matrix rate
(MFU), which the command measures itself at the start (benchmarks/peak.py).
FLOPs counted per training token (texts as truncated, padding left out):
2N forward over the N non-embedding parameters, 2N' backward through the N'
parameters from the lowest trainable one up, and 2T for the weight gradients
of the T trainable non-embedding parameters (full: 6N; lora about 4N;
partial 2N + 4T), plus 2N per validation token; and attention: 4 x width x
L^2 per text of L tokens and per block forward, twice that backward in the
blocks from the lowest trainable one up (as the scoring benchmark counts it).
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


def measure(task: str, strategy: str, model: str | None, examples: int, epochs: int, device: str, seed: int,
            precision: str = "auto", attention_dropout: float | None | str = "default") -> dict:
    """Train one strategy in this process and return its figures."""
    import resource

    from bench.contracts import RunContext
    from bench.data.loading import resolve
    from bench.models.local import use_offline_hub
    from bench.run.device import resolve_device, resolve_precision, seed_everything
    from bench.run.grid import build_strategy
    from bench.run.plan import resolve_card

    use_offline_hub()
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    card, data = resolve(resolve_card(task))
    seed_everything(seed)
    # max_train_examples includes the validation tenth: train on `examples`, validate on a tenth more
    options = {"max_train_examples": examples + max(2, examples // 9), "val_fraction": 0.1, "epochs": epochs}
    if attention_dropout != "default":  # None: the model's own; "default": bench's default
        options["attention_dropout"] = attention_dropout
    strategy = build_strategy(strategy, options, model, RunContext(device=device, precision=precision, seed=seed))
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    strategy.fit(data.train, card)
    fit_seconds = time.perf_counter() - started
    training = strategy.extra_info()["training"]  # a bench.contracts.TrainingInfo
    gflops = training_gflop_per_second(strategy, data.train, card, seed, training)
    gpu_mb = None
    if device.startswith("cuda"):
        import torch

        gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {"task": task, "strategy": strategy.__class__.__name__, "model": model or strategy.default_model,
            "device": device, "precision": precision, "attention_dropout": attention_dropout,
            "n_train": training.n_train, "epochs": training.epochs_run,
            "examples_per_second": training.train_examples_per_second, "fit_seconds": round(fit_seconds, 1),
            "trainable_params": strategy.parameter_counts().trainable, "gflop_per_second": gflops,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_mb": gpu_mb}


def training_gflop_per_second(strategy, pool, card, seed: int, training) -> float | None:
    """Achieved GFLOP/s inside the training loop (see the module docstring); None for head-only."""
    from bench.engines import training as engine

    model, tokenizer = getattr(strategy, "model", None), getattr(strategy, "tokenizer", None)
    if model is None or tokenizer is None:
        return None
    import torch

    fit, val = engine.carve(pool, strategy.config, seed)
    lengths = lambda split: [min(len(ids), card.max_tokens) for ids in tokenizer(list(split.texts)).input_ids]  # noqa
    names = [(n, p) for n, p in model.named_parameters() if "embeddings" not in n and "embed_tokens" not in n]
    first = next((i for i, (_, p) in enumerate(names) if p.requires_grad), len(names))
    total = sum(p.numel() for _, p in names)
    above = sum(p.numel() for _, p in names[first:])
    trained = sum(p.numel() for _, p in names if p.requires_grad)
    blocks = max((m for m in model.modules() if isinstance(m, torch.nn.ModuleList)), key=len)
    learning = [any(p.requires_grad for p in block.parameters()) for block in blocks]
    blocks_above = len(blocks) - learning.index(True) if True in learning else 0
    width = model.config.hidden_size
    fit_lengths, val_lengths = lengths(fit), lengths(val)
    flops = (2 * total + 2 * above + 2 * trained) * sum(fit_lengths) * training.epochs_run
    flops += 4 * width * (len(blocks) + 2 * blocks_above) * sum(n * n for n in fit_lengths) * training.epochs_run
    flops += (2 * total * sum(val_lengths) + 4 * width * len(blocks) * sum(n * n for n in val_lengths)) * \
        training.epochs_run
    seconds = training.n_train * training.epochs_run / training.train_examples_per_second
    return round(flops / seconds / 1e9, 1)


def dropout_value(text: str) -> float | None | str:
    """An --attention-dropouts value: 'default' (the strategies' default), 'model' (None: the model's own) or a
    probability."""
    if text == "model":
        return None
    return text if text == "default" else float(text)


def dropout_name(value: float | None | str) -> str:
    """The --attention-dropouts text of a value (dropout_value's inverse)."""
    return "model" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    from bench.run.mkl import reexec

    reexec()  # on an AMD processor with AVX-512: MKL's Intel code, as every cell runs it (bench.run.mkl)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="spam")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--models", nargs="+", default=[None], help="default: each strategy's own model")
    parser.add_argument("--examples", type=int, default=256, help="training examples (default 256)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16"],
                        help="measure each strategy in each of these (default: auto, what bench run uses)")
    parser.add_argument("--attention-dropouts", nargs="+", default=["default"], type=dropout_value,
                        help="measure with each of these attention dropouts ('default': the strategies' "
                        "default, 0; 'model': the model's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one strategy, print JSON
    args = parser.parse_args(argv)
    if args.one:
        model = None if args.models == [None] else args.models[0]
        print(json.dumps(measure(args.task, args.one, model, args.examples, args.epochs, args.device, args.seed,
                                 args.precisions[0], args.attention_dropouts[0])))
        return 0

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peak import blas_note, peak

    machine = peak(args.device if args.device != "auto" else "cpu")
    print(f"peak matmul {machine['fp32']} GFLOP/s fp32{blas_note(machine)}, "
          f"bf16 {machine['bf16'] or 'not available on this processor'} ({machine['threads']} threads)")
    rows = []
    print(f"{'strategy':<10} {'model':<24} {'precision':>9} {'attn drop':>9} {'ex/s':>8} {'fit s':>8} "
          f"{'trainable':>12} {'GFLOP/s':>8} {'MFU':>5} {'peak RSS MB':>12} {'peak GPU MB':>12}")
    runs = [(m, s, p, d) for m in args.models for s in args.strategies for p in args.precisions
            for d in args.attention_dropouts]
    for model, strategy, precision, dropout in runs:
        cmd = [sys.executable, os.path.abspath(__file__), "--one", strategy, "--task", args.task,
               "--examples", str(args.examples), "--epochs", str(args.epochs), "--device", args.device,
               "--seed", str(args.seed), "--precisions", precision,
               "--attention-dropouts", dropout_name(dropout)] + \
            (["--models", model] if model else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{strategy:<10} failed: {tail}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["strategy"] = strategy
        row["mfu"] = round(row["gflop_per_second"] / machine["best"], 3) if row["gflop_per_second"] else None
        rows.append(row)
        mfu = f"{row['mfu']:.0%}" if row["mfu"] is not None else "-"
        print(f"{strategy:<10} {row['model']:<24} {row['precision']:>9} {dropout_name(dropout):>9} "
              f"{row['examples_per_second']:>8} "
              f"{row['fit_seconds']:>8} "
              f"{row['trainable_params']:>12,} {str(row['gflop_per_second'] or '-'):>8} {mfu:>5} "
              f"{row['peak_rss_mb']:>12} {str(row['peak_gpu_mb'] or '-'):>12}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"task": args.task, "examples": args.examples, "epochs": args.epochs,
                       "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "peak": machine, "rows": rows}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
