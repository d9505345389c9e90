"""Intel's MKL on AMD processors: which code it runs, and the switch that gives it the code it runs on Intel's.

torch's CPU build carries Intel's MKL, which computes torch's float32 matrix
products, and the small products inside torch's fused attention kernel, in
float32 and bf16 alike (every block of every prompt scored, every attention
backward of a fine-tune). MKL picks its code by the processor's vendor: on an
AMD processor it runs code that leaves AVX-512 unused, whatever the processor
has. It asks its own function `mkl_serv_intel_cpu_true` whether the processor
is Intel's. A shared library of one line that defines that function to
answer yes, loaded into a process before torch (`LD_PRELOAD`), makes MKL take
the code it takes on an Intel processor with the same instruction sets.

Measured on an AMD EPYC Zen 5 (2 cores, AVX-512 with BF16, no AMX), with the
switch against without: a float32 2048 x 2048 product 468 against 203 GFLOP/s;
torch's fused attention on few-shot's shapes (4 prompts x 9 heads, 300
queries over 1,230 keys) 14.4 against 22.2 ms in float32 and 9.0 against 22.8
ms in bf16; `make run` 9 min 37 s against 11 min 26 s, one run right after
the other, with the same answer to every test text but 2 of the fine-tunes'
3,696, moved by rounding (leaderboard/NOTES.md).

Where: `wanted()` says yes on an AMD processor with AVX-512 (on an Intel
processor MKL takes that code already; on an AMD one without AVX-512 both
paths have AVX2 alone); `BENCH_MKL_CODE_PATH=intel` or `vendor` (MKL's own
choice) overrides it. The library is compiled once from `SOURCE` with the
machine's C compiler into bench's cache (`switch_library`); without a
compiler MKL keeps its own choice. `worker_environment(env)` adds it to the
environment a cell's process starts with (bench.run.executors: the fork
server and every fresh worker, on any engine); `reexec()` restarts a
benchmark command with it. Each record's machine provenance says which code
the cell's process ran (`code_path`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"  # MKL's "is this an Intel processor?"
CODE_PATHS = ("intel", "vendor")
VARIABLE = "BENCH_MKL_CODE_PATH"


def wanted(cpuinfo: str | None = None) -> bool:
    """Whether cells on this machine should run MKL's Intel code: on an AMD processor with AVX-512, unless
    `$BENCH_MKL_CODE_PATH` says otherwise. `cpuinfo`: as for bench.run.device.cpu_fields."""
    from bench.run.device import amd_with_avx512

    asked = os.environ.get(VARIABLE, "").strip().lower()
    if asked in CODE_PATHS:
        return asked == "intel"
    if asked:
        from bench.errors import BenchError

        raise BenchError(f"{VARIABLE}={asked!r}: use intel or vendor, or unset it to choose by processor")
    return amd_with_avx512(cpuinfo)


def switch_library() -> Path | None:
    """The compiled switch (built on first use into bench's cache, atomically), or None where it cannot be built
    (no C compiler, a cache folder that cannot be written): MKL then keeps its own choice."""
    from bench.data.assets import cache_dir

    target = cache_dir() / "native" / f"mkl-intel-code-{hashlib.sha256(SOURCE.encode()).hexdigest()[:12]}.so"
    if target.exists():
        return target
    compiler = next(filter(None, map(shutil.which, (os.environ.get("CC", ""), "cc", "gcc", "clang"))), None)
    if compiler is None:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            source, built = Path(scratch) / "switch.c", Path(scratch) / "switch.so"
            source.write_text(SOURCE)
            done = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(built), str(source)],
                                  capture_output=True, timeout=60)
            if done.returncode != 0 or not built.exists():
                return None
            built.replace(target)
    except (OSError, subprocess.SubprocessError):
        return None
    return target


def worker_environment(env: dict) -> dict:
    """`env` with the switch preloaded (ahead of any `LD_PRELOAD` it has) where `wanted()` and it can be built."""
    if not wanted():
        return env
    library = switch_library()
    if library is None:
        return env
    preloaded = env.get("LD_PRELOAD", "").split()
    if str(library) in preloaded:
        return env
    return {**env, "LD_PRELOAD": " ".join([str(library), *preloaded])}


def code_path() -> str:
    """Which MKL code this process runs on its processor: "intel" when the switch is loaded into it, else
    "vendor" (MKL's own choice: on an Intel processor that is the Intel code anyway)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "vendor"
    return "intel" if "mkl-intel-code-" in maps else "vendor"


def reexec() -> None:
    """Restart this Python command with the switch loaded, where it is wanted and not loaded yet (a benchmark
    command calls it first, so that it and the processes it starts run the code a cell runs)."""
    if code_path() == "intel":
        return
    env = worker_environment(dict(os.environ))
    if env.get("LD_PRELOAD") != os.environ.get("LD_PRELOAD"):  # (once: the switch is then in LD_PRELOAD)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
