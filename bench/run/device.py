"""The machine a cell runs on: which device, its precision and batch sizes, and seeding every random generator.

Precision (`cell_precision`): "auto", the default, computes in bfloat16
wherever the hardware does so natively (a GPU that supports it, Ampere and
later, or a CPU with AVX512-BF16 or AMX instructions). What that means
depends on the strategy's `bf16` trait:
- "auto", the fine-tunes: they train and predict under bf16 autocast
  (bench.engines.training and bench.engines.classifier; weights and optimiser
  stay float32), where a format's rounding is small beside the spread over
  seeds;
- "checked", the prompting strategies: they compare label probabilities that
  often differ in the second decimal, and bf16 alone moves those close calls
  (4.5 % of the calibrated imdb answers of SmolLM2, 1.5 points;
  leaderboard/NOTES.md). So they score every text in bf16 and score again in
  float32 each text whose two likeliest labels lie within a margin that bf16's
  rounding could cross ("bf16-checked", bench.engines.scoring): float32's
  answers at close to bf16's speed. `--precision bf16` scores in bf16 alone;
- "never", everything else: float32.
Every cell under `--precision fp32` computes in float32. A cell's precision is
part of its key when it is bf16 (bf16-checked answers as fp32 does, so it is
fp32's cell: bench.run.records.cell_identity), and its record says which it
ran in.

Inference batches are sized for the CPU by the strategies' options;
`inference_batch_scale` is how many times that a GPU takes, from its memory.
Training batches never change with the device: they are part of the recipe.
`float32_linear_backend` says which library computes a frozen model's
float32 products on this CPU (bench.models.linear): a matter of speed only.
"""

from __future__ import annotations

import functools
import os

PRECISIONS = ("auto", "fp32", "bf16")
FLOAT32_LINEAR = ("onednn", "blas")  # bench.models.linear


def resolve_device(requested: str) -> str:
    """"auto" becomes "cuda" when a GPU is visible, else "cpu"; anything else stays as asked."""
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def cpu_fields(cpuinfo: str | None = None) -> dict[str, str]:
    """The fields of /proc/cpuinfo ("vendor_id", "model name", "flags", ...), or of the text `cpuinfo`, each
    as it first appears (the first processor's); empty where there is no such file."""
    fields: dict[str, str] = {}
    for line in (_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.strip(), value.strip())
    return fields


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return info.read()
    except OSError:
        return ""


def cpu_has_bf16() -> bool:
    """Whether this processor computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere torch emulates it, slowly."""
    flags = cpu_fields().get("flags", "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def float32_linear_backend(cpuinfo: str | None = None) -> str:
    """How frozen models' float32 linear layers are computed on this CPU (bench.models.linear): "onednn" on an
    AMD processor with AVX-512, where torch's MKL keeps to AVX2, else "blas"; or as `$BENCH_FLOAT32_LINEAR` says.
    `cpuinfo`: as for `cpu_fields`."""
    asked = os.environ.get("BENCH_FLOAT32_LINEAR", "").strip().lower()
    if asked in FLOAT32_LINEAR:
        return asked
    if asked:
        from bench.errors import BenchError

        raise BenchError(f"BENCH_FLOAT32_LINEAR={asked!r}: use onednn or blas, or unset it to choose by processor")
    return "onednn" if amd_with_avx512(cpuinfo) else "blas"


def amd_with_avx512(cpuinfo: str | None = None) -> bool:
    """Whether this processor (or the one `cpuinfo` describes) is AMD's with AVX-512: where torch's MKL leaves
    AVX-512 unused by its own choice (bench.models.linear, bench.run.mkl)."""
    fields = cpu_fields(cpuinfo)
    return fields.get("vendor_id") == "AuthenticAMD" and "avx512f" in fields.get("flags", "").split()


def bf16_supported(device: str) -> bool:
    """Whether `device` computes in bfloat16 natively: a GPU that supports it, or a CPU with bf16 instructions."""
    if not device.startswith("cuda"):
        return cpu_has_bf16()
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def cell_precision(requested: str, device: str, strategy_bf16: str) -> str:
    """What a strategy computes in, from the precision asked for and its `bf16` trait ("auto", "checked",
    "requested" or "never"): "bf16" when asked for and the strategy can; under "auto", where the hardware has
    bf16, "bf16" for the trait "auto" and "bf16-checked" for "checked"; otherwise "fp32"."""
    resolved = resolve_precision(requested, device)
    if resolved == "fp32" or strategy_bf16 == "never" or (strategy_bf16 == "requested" and requested != "bf16"):
        return "fp32"
    if strategy_bf16 == "checked" and requested == "auto":
        return "bf16-checked"
    return resolved


def resolve_precision(requested: str, device: str) -> str:
    """"auto" becomes "bf16" where `device` computes it natively, else "fp32"; "fp32" and "bf16" stay as asked."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {requested!r})")
    if requested != "auto":
        return requested
    return "bf16" if bf16_supported(device) else "fp32"


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
    """Seed Python's, numpy's and torch's generators, and ask torch for deterministic kernels.

    `torch.use_deterministic_algorithms` sets two switches: torch's own, and its compiler's (inductor), whose
    configuration it imports to do so: 1 s of a fresh worker's start, for cells that never compile. Where that
    configuration is not loaded yet, torch's switch is set alone and the compiler's is left in the environment
    variable its configuration reads when it loads, so a cell that compiles later is deterministic all the same.
    """
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)
    set_torch_switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if "torch._inductor.config" in sys.modules or set_torch_switch is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
        set_torch_switch(True, warn_only=True)
