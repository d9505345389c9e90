"""This machine's best matrix-multiply rate, measured now: the denominator of MFU.

`peak()` times square matmuls of a few sizes on the threads torch will use,
in fp32 and, where the processor has bf16 instructions (AVX512-BF16 or AMX
on a CPU, or a GPU that supports bf16), in bf16, and returns the best rate
of each. It is measured in the same process and minute as the work it
divides, so a busy machine lowers both alike. On a CPU without bf16
instructions bf16 is emulated and slower than fp32, so it is skipped there.
On a CPU fp32 is timed twice: through torch's BLAS (`a @ b`) and through
oneDNN's linear layer, which bench uses for frozen float32 models on AMD
processors (bench.models.linear: MKL keeps to AVX2 there unless told
otherwise); fp32 is the better. Run as a command, it restarts itself with the
switch that gives MKL its Intel code on an AMD processor with AVX-512, as
every cell of `bench run` has it (bench.run.mkl), and says which code ran.
"""

from __future__ import annotations

import time

from bench.run.device import cpu_has_bf16


def matmul_rate(n: int, dtype, device: str = "cpu", repeats: int = 5, onednn: bool = False) -> float:
    """GFLOP/s of an n x n matmul, best of `repeats` (`onednn`: as a float32 CPU linear layer through oneDNN)."""
    import torch

    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        if onednn:
            torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")
        else:
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def peak(device: str = "cpu") -> dict:
    """{"fp32": GFLOP/s, "bf16": GFLOP/s or None, "best": the higher, "precision": which; on a CPU also
    "fp32_blas" and "fp32_onednn", the two ways fp32 was timed}."""
    import torch

    sizes = (1024, 2048, 3072) if device == "cpu" else (4096, 8192)
    fp32 = max(matmul_rate(n, torch.float32, device) for n in sizes)
    ways = {}
    if device == "cpu" and torch.backends.mkldnn.is_available():
        onednn = max(matmul_rate(n, torch.float32, device, onednn=True) for n in sizes)
        ways = {"fp32_blas": round(fp32, 1), "fp32_onednn": round(onednn, 1)}
        fp32 = max(fp32, onednn)
    bf16_ok = cpu_has_bf16() if device == "cpu" else torch.cuda.is_bf16_supported()
    bf16 = max(matmul_rate(n, torch.bfloat16, device) for n in sizes) if bf16_ok else None
    best = max(fp32, bf16 or 0)
    if device == "cpu":
        from bench.run.mkl import code_path

        ways["mkl_code_path"] = code_path()
    return {"fp32": round(fp32, 1), "bf16": round(bf16, 1) if bf16 else None, "best": round(best, 1),
            "precision": "bf16" if bf16 and bf16 > fp32 else "fp32", "threads": torch.get_num_threads(), **ways}


def blas_note(machine: dict) -> str:
    """For the benchmarks' first line: " (torch's BLAS: N)" when oneDNN's float32 rate was the better one, and
    which of MKL's code ran (bench.run.mkl)."""
    notes = [f"torch's BLAS: {machine['fp32_blas']}"] if machine.get("fp32_onednn", 0) > machine.get("fp32_blas", 0) \
        else []
    notes += [f"MKL's {machine['mkl_code_path']} code"] if "mkl_code_path" in machine else []
    return f" ({', '.join(notes)})" if notes else ""


if __name__ == "__main__":
    from bench.run.mkl import reexec

    reexec()
    print(peak())
