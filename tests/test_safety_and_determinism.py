"""Safe loading (no pickle weights) and determinism of the prompting and retrieval families."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import records
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
    runs = [r for _, r in records.iter_records(results)]
    assert len(runs) == 2 and runs[0]["status"] == runs[1]["status"] == "ok"
    assert runs[0]["predictions"] == runs[1]["predictions"]


@pytest.mark.slow
def test_pickle_weights_are_never_loaded(tmp_path):
    """A model folder whose weights are a pickle (pytorch_model.bin) is refused, not executed."""
    import torch
    from transformers import BertConfig, BertModel

    from bench.models import local_path

    folder = tmp_path / "pickled-model"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37)
    folder.mkdir()
    config.save_pretrained(folder)
    torch.save(BertModel(config).state_dict(), folder / "pytorch_model.bin")  # a pickle, as old checkpoints are
    assert (folder / "pytorch_model.bin").exists() and not (folder / "model.safetensors").exists()
    minilm = Path(local_path("all-MiniLM-L6-v2"))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, folder / name)
    results = tmp_path / "results"
    for strategy in ("head-only", "full"):
        result = run_bench("run", "--tasks", _card(tmp_path), "--strategies", strategy, "--no-baseline",
                           "--models", str(folder), "--results", str(results))
        assert result.returncode == 1, result.stderr
        failed = [r for _, r in records.iter_records(results) if r["cell"]["strategy"] == strategy]
        assert failed and failed[0]["status"] == "failed"
        assert "safetensors" in failed[0]["error"].lower()
