"""The machine a cell runs on: which device, its precision and batch sizes, and seeding every random generator.

On a GPU that supports bfloat16 (`bf16_supported`), trained strategies train
under bf16 autocast (bench.engines.training, `mixed_precision`) and language
models score prompts in bf16 (bench.engines.scoring); on the CPU everything
stays float32, as the published figures were measured. Inference batches are
sized for the CPU by the strategies' options; `inference_batch_scale` is how
many times that a GPU takes, from its memory. Training batches never change
with the device: they are part of the recipe.
"""

from __future__ import annotations


def resolve_device(requested: str) -> str:
    """"auto" becomes "cuda" when a GPU is visible, else "cpu"; anything else stays as asked."""
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def bf16_supported(device: str) -> bool:
    """Whether `device` is a GPU that computes in bfloat16 (Ampere and later)."""
    if not device.startswith("cuda"):
        return False
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


GIB_PER_BATCH_STEP = 5  # a GPU takes the CPU-sized inference batch once more per this many GiB of its memory
MAX_BATCH_SCALE = 16


def inference_batch_scale(device: str) -> int:
    """How many times the CPU-sized inference batches `device` takes: 1 on the CPU; on a GPU, one per 5 GiB of
    its memory, at most 16 (an 80 GB GPU scores 16 x 2,048 prompt tokens per forward pass)."""
    if not device.startswith("cuda"):
        return 1
    import torch

    memory_gib = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30
    return max(1, min(MAX_BATCH_SCALE, int(memory_gib // GIB_PER_BATCH_STEP)))


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators, and ask torch for deterministic kernels."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    except ImportError:
        pass
