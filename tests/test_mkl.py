"""MKL's Intel code on AMD processors (bench.run.mkl): where it is wanted, that every cell's process gets it, and
that it computes what MKL's own choice computes, to rounding."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.errors import BenchError
from bench.run import mkl, store
from conftest import run_bench, sentiment_rows, write_csv

ZEN5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
FIXTURES = {"BENCH_PLUGINS": "misbehaving", "PYTHONPATH": os.path.join(os.path.dirname(__file__), "fixtures")}

# float32 and bf16 products MKL computes for torch: a linear layer's shapes, and fused attention over a padded batch
# (its blocks' products are MKL's), written as JSON by a fresh interpreter
PROBE = """
import json, sys, torch
from bench.run.mkl import code_path
torch.manual_seed(0)
x, w = torch.randn(300, 384), torch.randn(1536, 384)
q, k, v = (torch.randn(3, 4, n, 64) for n in (40, 90, 90))
mask = torch.ones(3, 1, 40, 90, dtype=torch.bool)
mask[0, :, :, :30] = False  # a padded prompt
sdpa = torch.nn.functional.scaled_dot_product_attention
out = {"code_path": code_path(), "mm": (x @ w.T).tolist(), "sdpa": sdpa(q, k, v, attn_mask=mask).tolist(),
       "sdpa_bf16": sdpa(q.bfloat16(), k.bfloat16(), v.bfloat16(), attn_mask=mask).float().tolist()}
json.dump(out, open(sys.argv[1], "w"))
"""


def test_mkl_intel_code_is_wanted_on_amd_processors_with_avx512_only(monkeypatch):
    monkeypatch.delenv(mkl.VARIABLE, raising=False)
    assert mkl.wanted(ZEN5)
    assert not mkl.wanted(ZEN5.replace("AuthenticAMD", "GenuineIntel"))  # MKL's own choice is its Intel code there
    assert not mkl.wanted(ZEN5.replace(" avx512f avx512_bf16", ""))  # a Zen 3: AVX2 either way
    assert not mkl.wanted("")
    monkeypatch.setenv(mkl.VARIABLE, "vendor")
    assert not mkl.wanted(ZEN5)
    monkeypatch.setenv(mkl.VARIABLE, "intel")
    assert mkl.wanted("")
    monkeypatch.setenv(mkl.VARIABLE, "amd")
    with pytest.raises(BenchError, match="BENCH_MKL_CODE_PATH='amd': use intel or vendor"):
        mkl.wanted(ZEN5)


def test_the_switch_keeps_what_else_is_preloaded_and_is_added_once(monkeypatch):
    monkeypatch.setenv(mkl.VARIABLE, "intel")
    library = mkl.switch_library()
    if library is None:  # no C compiler on this machine: MKL keeps its own choice
        assert mkl.worker_environment({"LD_PRELOAD": "other.so"}) == {"LD_PRELOAD": "other.so"}
        return
    env = mkl.worker_environment({"LD_PRELOAD": "other.so", "A": "1"})
    assert env == {"LD_PRELOAD": f"{library} other.so", "A": "1"}
    assert mkl.worker_environment(env) == env
    monkeypatch.setenv(mkl.VARIABLE, "vendor")
    assert mkl.worker_environment({"A": "1"}) == {"A": "1"}


def test_with_the_switch_mkl_computes_what_its_own_choice_computes_to_rounding(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv(mkl.VARIABLE, "intel")  # on any processor: on an Intel one both are MKL's Intel code
    if mkl.switch_library() is None:
        pytest.fail("no C compiler (cc, gcc or clang) to build bench.run.mkl's switch; install one (build-essential)")
    runs = {}
    for name, env in (("vendor", dict(os.environ)), ("intel", mkl.worker_environment(dict(os.environ)))):
        out = tmp_path / f"{name}.json"
        subprocess.run([sys.executable, "-c", PROBE, str(out)], env=env, check=True, timeout=300)
        runs[name] = json.loads(out.read_text())
    assert runs["vendor"]["code_path"] == "vendor" and runs["intel"]["code_path"] == "intel"
    for name, tolerance in (("mm", 1e-4), ("sdpa", 1e-5), ("sdpa_bf16", 2e-2)):
        a, b = np.array(runs["vendor"][name]), np.array(runs["intel"][name])
        assert np.abs(a - b).max() <= tolerance * max(1.0, np.abs(a).max()), name


def test_every_cell_process_runs_mkl_intel_code_where_wanted_and_its_record_says_so(tmp_path):
    write_csv(tmp_path / "reviews.csv", sentiment_rows(6))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    built = mkl.switch_library() is not None
    for asked, expected in (("intel", "intel" if built else "vendor"), ("vendor", "vendor")):
        results = tmp_path / asked
        result = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "sleepy-model",
                           "sleepy", "--set", "seconds=0", "--no-baseline", "--results", str(results),
                           env={**FIXTURES, mkl.VARIABLE: asked})
        assert result.returncode == 0, result.stderr
        records = list(store.iter_records(results))
        workers = sorted(r.provenance.placement.worker for r in records)
        assert workers == ["forked", "fresh"]  # the fork server's children and a fresh worker alike
        assert [r.provenance.machine["mkl_code_path"] for r in records] == [expected, expected], asked
    bad = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "sleepy-model",
                    "--no-baseline", "--results", str(tmp_path / "bad"), env={**FIXTURES, mkl.VARIABLE: "fast"})
    assert bad.returncode != 0 and "BENCH_MKL_CODE_PATH='fast': use intel or vendor" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_where_the_switch_cannot_be_built_mkl_keeps_its_own_choice(tmp_path, monkeypatch):
    """No C compiler, or a cache folder that cannot be written: the cells run as before, nothing fails."""
    monkeypatch.setenv(mkl.VARIABLE, "intel")
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-compilers"))
    monkeypatch.delenv("CC", raising=False)
    assert mkl.switch_library() is None and mkl.worker_environment({"A": "1"}) == {"A": "1"}
    monkeypatch.undo()
    monkeypatch.setenv(mkl.VARIABLE, "intel")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "file"))  # a file where the cache folder should be
    assert mkl.switch_library() is None and mkl.worker_environment({"A": "1"}) == {"A": "1"}
