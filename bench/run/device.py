"""The machine a cell runs on: which device, and seeding every random generator."""

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
