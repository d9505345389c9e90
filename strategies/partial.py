"""`partial`: fine-tune the top N transformer blocks and the head; everything below stays frozen.

The middle ground between head-only and full fine-tuning. The blocks are the
model's longest `nn.ModuleList` (BERT `bert.encoder.layer`, Llama
`model.layers`); "the head" is every parameter registered after the last block
(BERT: pooler and classifier; Llama: final norm and `score`), as found by
bench.engines.classifier.top_blocks_and_head. The embeddings and the lower blocks are
frozen, so no gradient flows below block L-N.

The artifact holds only the trained tensors (`trained.safetensors`, named as in
the model) and `config.json`; to reuse it, load the base model with
`AutoModelForSequenceClassification.from_pretrained(base, num_labels=K)` and
then `model.load_state_dict(safetensors.torch.load_file(path), strict=False)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.engines.classifier import FineTuned, FineTuneOptions, top_blocks_and_head
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class PartialConfig(FineTuneOptions):
    layers: int = 2  # top transformer blocks trained along with the head (0 = the head alone)
    learning_rate: float = 2e-4  # peak AdamW learning rate

    def __post_init__(self):
        super().__post_init__()
        if self.layers < 0:
            raise ValueError("layers must be >= 0")


@STRATEGIES.register("partial")
class Partial(FineTuned):
    Config = PartialConfig
    default_model = "all-MiniLM-L6-v2"
    search_space = {"learning_rate": (1e-4, 2e-4, 5e-4)}

    def prepare(self, model):
        keep = top_blocks_and_head(model, self.config.layers)
        for name, p in model.named_parameters():
            p.requires_grad_(name in keep)
        return model

    def save(self, model, folder) -> None:
        from safetensors.torch import save_file

        trained = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
        save_file(trained, str(folder / "trained.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(folder)
