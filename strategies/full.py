"""`full`: fine-tune every parameter of the model together with a new classification head.

The upper bound on what training can do with a given model, and the most
expensive: every weight gets gradients and AdamW state (three extra copies of
the model in memory), and the artifact is a whole checkpoint
(`model.safetensors` plus `config.json`, loadable with
`AutoModelForSequenceClassification.from_pretrained(folder)`; the tokenizer is
the base model's). Training goes through bench.engines.training (see there for the
validation split, curves, best-epoch rule and early stopping).

Defaults (TUNING.md says how they were chosen): at most 500 training
examples (400 train + 100 validation), up to 10 epochs with early stopping
after 2 without a new best, batch 8, learning rate 5e-5, no dropout on the
attention probabilities (`attention_dropout=0`, as for lora and partial; `None`
keeps the model's own: bench.engines.classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.engines.classifier import FineTuned, FineTuneOptions
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class FullConfig(FineTuneOptions):
    learning_rate: float = 5e-5  # peak AdamW learning rate; full fine-tuning wants a small one


@STRATEGIES.register("full")
class Full(FineTuned):
    Config = FullConfig
    default_model = "all-MiniLM-L6-v2"
    search_space = {"learning_rate": (2e-5, 5e-5, 1e-4)}

    def prepare(self, model):
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def save(self, model, folder) -> None:
        model.save_pretrained(folder, safe_serialization=True)
