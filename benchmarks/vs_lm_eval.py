"""Zero-shot scoring side by side with lm-evaluation-harness: same model, prompt, truncation and texts.

Run from the repository root, after `.venv/bin/pip install -c constraints.txt -e '.[test,compare]'`
(editable, as the Makefile installs bench: without `-e` pip would replace the
working tree's bench with a copy of it):

    .venv/bin/python benchmarks/vs_lm_eval.py                  # imdb: the 200 test reviews
    .venv/bin/python benchmarks/vs_lm_eval.py --task spam --limit 300

Both score the same texts with SmolLM2-135M-Instruct through its chat
template: the user turn is the task card's instruction and answer format and
the text, cut to the card's token budget exactly as bench cuts it, and each
label word is scored as the start of the assistant's answer (lm-eval's
`multiple_choice` with an empty target delimiter). lm-eval runs its `hf`
backend (`HFLM`) on the already loaded fp32 model, on the same device and
threads; bench runs its label scorer in the precision `bench run` gives
zero-shot (`--precision auto`: where the processor computes bf16, bf16 with
the close calls scored again in fp32, so fp32's answers; `--precision fp32`
for fp32 alone). Both clocks exclude loading the model.
Printed: texts per second of each and their ratio, and accuracy: lm-eval's,
bench's uncalibrated (the same quantity, computed bench's way: the two should
agree) and bench's calibrated (its default). Not a test: numbers move with
other load on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bench.run.mkl import reexec

    reexec()  # on an AMD processor with AVX-512: MKL's Intel code, as every cell runs it (bench.run.mkl)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="imdb")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--limit", type=int, default=0, help="first N test texts (default: all)")
    parser.add_argument("--batch-size", type=int, default=16, help="lm-eval's batch size (default: 16)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "bf16-checked"],
                        help="bench's precision (default: auto, what bench run uses for zero-shot)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        print("lm-eval is not installed: .venv/bin/pip install -c constraints.txt -e '.[test,compare]'",
              file=sys.stderr)
        return 2
    import numpy as np
    import torch

    from bench.contracts import traits
    from bench.data.loading import resolve
    from bench.engines.scoring import LabelScorer
    from bench.models.local import use_offline_hub
    from bench.registry import STRATEGIES
    from bench.run.device import cell_precision
    from bench.run.plan import resolve_card

    use_offline_hub()
    card, data = resolve(resolve_card(args.task))
    texts, gold = data.test.texts, np.asarray(data.test.labels)
    if args.limit:
        texts, gold = texts[:args.limit], gold[:args.limit]
    precision = args.precision if args.precision == "bf16-checked" else cell_precision(
        args.precision, "cpu", traits(STRATEGIES.get("zero-shot")).bf16)
    scorer = LabelScorer(args.model, "cpu", precision=precision)
    scorer.setup(card)
    fp32 = scorer if precision == "fp32" else scorer.referee or LabelScorer(args.model, "cpu")  # lm-eval's model
    started = time.perf_counter()
    calibrated = scorer.classify(texts, calibrate=True)
    bench_seconds = time.perf_counter() - started
    raw = scorer.uncalibrated

    builder = scorer.builder
    prompts = [builder.head() + builder.show(scorer.truncate(t, scorer.text_budget)[0]) for t in texts]
    lm_eval_seconds, lm_eval_accuracy, lm_eval_probs = run_lm_eval(fp32, prompts, gold, builder.words,
                                                                    args.batch_size)
    figures = {
        "task": args.task, "model": args.model, "texts": len(texts), "threads": torch.get_num_threads(),
        "bench_precision": precision,
        "bench_seconds": round(bench_seconds, 2), "lm_eval_seconds": round(lm_eval_seconds, 2),
        "bench_texts_per_second": round(len(texts) / bench_seconds, 2),
        "lm_eval_texts_per_second": round(len(texts) / lm_eval_seconds, 2),
        "speedup": round(lm_eval_seconds / bench_seconds, 2),
        "lm_eval_accuracy": round(lm_eval_accuracy, 4),
        "bench_uncalibrated_accuracy": round(float((raw.argmax(1) == gold).mean()), 4),
        "bench_calibrated_accuracy": round(float((calibrated.argmax(1) == gold).mean()), 4),
        "same_answer_share": round(float((raw.argmax(1) == lm_eval_probs.argmax(1)).mean()), 4),
    }
    print(f"{args.task}, {len(texts)} test texts, {args.model}, {figures['threads']} threads, "
          f"bench in {precision}, lm-eval in fp32")
    print(f"lm-eval (hf): {figures['lm_eval_seconds']} s, {figures['lm_eval_texts_per_second']} texts/s, "
          f"accuracy {100 * lm_eval_accuracy:.1f} %")
    print(f"bench:        {figures['bench_seconds']} s, {figures['bench_texts_per_second']} texts/s, accuracy "
          f"{100 * figures['bench_uncalibrated_accuracy']:.1f} % uncalibrated (same answer as lm-eval on "
          f"{100 * figures['same_answer_share']:.1f} % of texts), {100 * figures['bench_calibrated_accuracy']:.1f} % "
          "calibrated (its default)")
    print(f"bench scores {figures['speedup']}x as many texts per second")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


def run_lm_eval(scorer, prompts: list[str], gold, words: tuple[str, ...], batch_size: int):
    """(seconds, accuracy, per-text label probabilities) of lm-eval's hf backend on the same prompts."""
    import numpy as np
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory(prefix="bench-lm-eval-") as tmp:
        docs = Path(tmp) / "docs.jsonl"
        docs.write_text("".join(json.dumps({"prompt": p, "label": int(y)}) + "\n" for p, y in zip(prompts, gold)))
        (Path(tmp) / "task.yaml").write_text("\n".join([
            "task: bench_side_by_side", "dataset_path: json", "dataset_kwargs:", "  data_files:",
            f"    test: {json.dumps(str(docs))}", "test_split: test", "output_type: multiple_choice",
            'doc_to_text: "{{prompt}}"', "doc_to_target: label", f"doc_to_choice: {json.dumps(list(words))}",
            'target_delimiter: ""', "metric_list:", "  - metric: acc", ""]))
        model = HFLM(pretrained=scorer.model, tokenizer=scorer.tokenizer, device="cpu", batch_size=batch_size,
                     dtype="float32")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        started = time.perf_counter()
        out = simple_evaluate(model=model, tasks=["bench_side_by_side"], apply_chat_template=True,
                              task_manager=TaskManager(include_path=tmp), bootstrap_iters=0, log_samples=True)
        seconds = time.perf_counter() - started
    accuracy = out["results"]["bench_side_by_side"]["acc,none"]
    samples = sorted(out["samples"]["bench_side_by_side"], key=lambda s: s["doc_id"])
    logp = np.array([[r[0] for r in s["filtered_resps"]] for s in samples], dtype=float)
    probs = np.exp(logp - logp.max(1, keepdims=True))
    return seconds, accuracy, probs / probs.sum(1, keepdims=True)


if __name__ == "__main__":
    raise SystemExit(main())
