"""Safe loading (no pickle weights), seeding, and determinism of the prompting and retrieval families."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import store
from conftest import run_bench, sentiment_rows, write_csv


def _card(tmp_path: Path) -> str:
    write_csv(tmp_path / "reviews.csv", sentiment_rows(10))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    return str(tmp_path / "reviews.toml")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["zero-shot", "knn"])
def test_same_seed_same_predictions(tmp_path, strategy):
    card, results = _card(tmp_path), tmp_path / "results"
    for _ in range(2):
        result = run_bench("run", "--tasks", card, "--strategies", strategy, "--no-baseline",
                           "--results", str(results), "--force")
        assert result.returncode == 0, result.stderr
    runs = list(store.iter_records(results))
    assert len(runs) == 2 and runs[0].ok and runs[1].ok
    assert runs[0].predictions == runs[1].predictions


SWITCHES = ("import sys, torch; from bench.run.device import seed_everything; seed_everything(3); "
            "first = torch.initial_seed(), torch.are_deterministic_algorithms_enabled(), "
            "torch.is_deterministic_algorithms_warn_only_enabled(); import torch._inductor.config as compiler; "
            "print(*first, compiler.deterministic)")


@pytest.mark.parametrize("compiler_first", [False, True])
def test_seeding_makes_torch_and_its_compiler_deterministic_whether_or_not_the_compiler_is_loaded(compiler_first):
    """A fresh worker seeds without loading torch's compiler; one that loads it later still compiles
    deterministically, as one that had it loaded already (a forked cell) does."""
    code = ("import torch._inductor.config; " if compiler_first else "") + SWITCHES
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_DETERMINISTIC"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["3", "True", "True", "True"]


class _LeavesAMark:
    """Unpickling this runs `Path(mark).touch()`: proof that a pickle was executed."""

    def __init__(self, mark: Path):
        self.mark = mark

    def __reduce__(self):
        return (Path.touch, (Path(self.mark),))


@pytest.mark.slow
def test_pickle_weights_are_never_loaded(tmp_path):
    """A model folder whose only weights are a booby-trapped pickle: the cell fails and the pickle never runs."""
    import pickle

    import torch
    from transformers import BertConfig

    from bench.models.local import local_path

    mark = tmp_path / "the-pickle-ran"
    folder = tmp_path / "pickled-model"
    folder.mkdir()
    BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=37).save_pretrained(folder)
    torch.save({"embeddings.word_embeddings.weight": _LeavesAMark(mark)}, folder / "pytorch_model.bin")
    with open(folder / "pytorch_model.bin", "rb") as f:  # the trap works: a plain torch.load would spring it
        assert b"touch" in f.read()
    trap = tmp_path / "trap.pkl"
    trap.write_bytes(pickle.dumps(_LeavesAMark(tmp_path / "control")))
    pickle.loads(trap.read_bytes())
    assert (tmp_path / "control").exists()
    minilm = Path(local_path("all-MiniLM-L6-v2"))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, folder / name)
    results = tmp_path / "results"
    for strategy in ("head-only", "full"):
        result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", strategy, "--no-baseline",
                           "--models", str(folder), "--results", str(results))
        assert result.returncode == 1, result.stderr
        failed = [r for r in store.iter_records(results) if r.cell.strategy == strategy]
        assert failed and failed[0].status == "failed"
        assert "safetensors" in failed[0].error.lower()
    assert not mark.exists()  # nothing unpickled the weights
