"""The GPU path: bf16 prompt scoring and training, peak GPU memory, batches sized for the device.

Marked `gpu` (`pytest -m gpu`) and skipped, with the reason, where no CUDA
GPU is visible; precision on the CPU (bf16 where it has the instructions) is
tested everywhere, in tests/test_precision.py.
"""

from __future__ import annotations

import pytest

from bench.run import store
from conftest import run_bench


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


NO_GPU = ("no CUDA GPU on this machine: the GPU path (bf16 training and prompt scoring, peak GPU memory, "
          "batches sized for the device) is tested only where one is")
without_gpu = pytest.mark.skipif(not _cuda(), reason=NO_GPU)


@pytest.mark.slow
@pytest.mark.gpu
@without_gpu
def test_prompts_are_scored_in_bf16_on_the_gpu_and_agree_with_the_cpu():
    import torch

    from bench.data.loading import resolve
    from bench.engines.scoring import LabelScorer
    from bench.registry import TASKS
    from bench.run.device import bf16_supported, inference_batch_scale, resolve_precision

    card, data = resolve(TASKS.get("spam"))
    texts = data.test.texts[:48]
    cpu = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="fp32")
    gpu = LabelScorer("SmolLM2-135M-Instruct", "cuda", precision=resolve_precision("auto", "cuda"))
    for scorer in (cpu, gpu):
        scorer.setup(card)
    assert gpu.model.dtype == (torch.bfloat16 if bf16_supported("cuda") else torch.float32)
    assert gpu.batch_tokens == cpu.batch_tokens * inference_batch_scale("cuda")
    on_cpu, on_gpu = cpu.classify(texts, calibrate=True), gpu.classify(texts, calibrate=True)
    assert (on_cpu.argmax(axis=1) == on_gpu.argmax(axis=1)).mean() >= 0.9  # bf16 moves a few close calls at most
    assert abs(on_cpu - on_gpu).max() < 0.2
    assert gpu.summary()["dtype"] == str(gpu.dtype).removeprefix("torch.")


@pytest.mark.gpu
@without_gpu
def test_training_on_the_gpu_runs_under_bf16_autocast():
    import torch
    from transformers import default_data_collator

    from bench.engines import training
    from bench.run.device import bf16_supported, resolve_precision
    from bench.strategies.head_only import linear_head

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(64, 16, generator=generator)
    labels = (features[:, 0] > 0).long()
    rows = [{"features": f, "labels": int(y)} for f, y in zip(features, labels)]
    head = linear_head(16, 2)
    seen = set()
    head.linear.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
    training.train(head, rows[:48], rows[48:], training.TrainingOptions(epochs=1, min_steps=0, batch_size=8),
                   collator=default_data_collator, n_labels=2, device="cuda", seed=0, group_by_length=False,
                   precision=resolve_precision("auto", "cuda"))
    assert next(head.parameters()).is_cuda
    assert seen == ({torch.bfloat16} if bf16_supported("cuda") else {torch.float32})


@pytest.mark.slow
@pytest.mark.gpu
@without_gpu
def test_a_cell_on_the_gpu_records_its_gpu_and_peak_gpu_memory(tmp_path):
    results = tmp_path / "results"
    result = run_bench("run", "--tasks", "spam", "--strategies", "head-only", "--no-baseline", "--device", "cuda",
                       "--set", "head-only.max_train_examples=400", "--results", str(results))
    assert result.returncode == 0, result.stderr
    [record] = list(store.iter_records(results))
    assert record.ok and record.config.device == "cuda" and record.provenance.placement.device == "cuda"
    assert record.provenance.placement.gpu and record.cost.peak_gpu_mb > 0
    assert record.metrics.accuracy > 0.9
