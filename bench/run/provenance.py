"""What a record says about where it came from: versions, commit, machine."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import bench

PACKAGES = ("torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "datasets",
            "scikit-learn", "numpy", "pandas", "accelerate", "gguf")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "bench": bench.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


@functools.cache
def git_state() -> dict:
    """The checkout's commit, and whether its code differs from it.

    `dirty` looks at tracked files outside `results/` and `leaderboard/`: a run
    writes its records and tables there, which changes no code.
    """
    root = Path(__file__).resolve().parents[2]  # the checkout: bench/run/provenance.py is two folders down
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    try:
        commit = git("rev-parse", "HEAD")
        code = ("--", ".", ":(exclude)results", ":(exclude)leaderboard")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", *code)) if commit else None
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", None
    return {"commit": commit or None, "dirty": dirty}


def cpu_model() -> str:
    from bench.run.device import cpu_fields

    fields = cpu_fields()
    return fields["model name"] if "model name" in fields else platform.processor() or platform.machine()


def machine() -> dict:
    import os

    from bench.run.device import float32_linear_backend
    from bench.run.mkl import code_path

    info = {"platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "python_executable": Path(sys.executable).name,
            "float32_linear": float32_linear_backend(),  # how frozen float32 models multiply (bench.models.linear)
            "mkl_code_path": code_path()}  # which of MKL's code this process ran (bench.run.mkl)
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info
