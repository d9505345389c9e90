"""`partial`: fine-tune the top N transformer blocks and the head; everything below stays frozen.

The middle ground between head-only and full fine-tuning. The blocks are the
model's longest `nn.ModuleList` (BERT `bert.encoder.layer`, Llama
`model.layers`); "the head" is every parameter registered after the last block
(BERT: pooler and classifier; Llama: final norm and `score`). The embeddings
and the lower blocks are frozen, so no gradient flows below block L-N.

The artifact holds only the trained tensors (`trained.safetensors`, named as in
the model) and `config.json`; to reuse it, load the base model with
`AutoModelForSequenceClassification.from_pretrained(base, num_labels=K)` and
then `model.load_state_dict(safetensors.torch.load_file(path), strict=False)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError
from bench.finetuning import FineTuned
from bench.registry import STRATEGIES
from bench.training import TrainingOptions


@dataclass(frozen=True)
class PartialConfig(TrainingOptions):
    layers: int = 2  # top transformer blocks trained along with the head (0 = the head alone)
    learning_rate: float = 2e-4  # peak AdamW learning rate

    def __post_init__(self):
        super().__post_init__()
        if self.layers < 0:
            raise ValueError("layers must be >= 0")


def trainable_names(model, top: int) -> set[str]:
    """Parameter names in the top `top` blocks and after the last block."""
    import torch

    lists = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        raise BenchError(f"partial: found no stack of transformer blocks in {type(model).__name__}; use full or lora")
    prefix, blocks = max(lists, key=lambda item: len(item[1]))
    if top > len(blocks):
        raise BenchError(f"partial: layers={top} but the model has {len(blocks)} blocks; "
                         f"use --set partial.layers={len(blocks)} or the full strategy")
    names = [n for n, _ in model.named_parameters()]
    in_blocks = [i for i, n in enumerate(names) if n.startswith(prefix + ".")]
    top_prefixes = tuple(f"{prefix}.{i}." for i in range(len(blocks) - top, len(blocks)))
    return {n for i, n in enumerate(names) if i > in_blocks[-1] or n.startswith(top_prefixes)}


@STRATEGIES.register("partial")
class Partial(FineTuned):
    Config = PartialConfig
    default_model = "all-MiniLM-L6-v2"

    def prepare(self, model):
        keep = trainable_names(model, self.config.layers)
        for name, p in model.named_parameters():
            p.requires_grad_(name in keep)
        return model

    def save(self, model, folder) -> None:
        from safetensors.torch import save_file

        trained = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
        save_file(trained, str(folder / "trained.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(folder)
