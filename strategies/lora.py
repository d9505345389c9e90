"""`lora`: low-rank adapters (PEFT LoRA) on a frozen model, trained with a new classification head.

Each targeted linear layer W gets a trainable update (alpha / r) * B @ A with
A (r x in) and B (out x r); B starts at zero, so training starts from the
pretrained model. Only A, B and the head learn. Target names may be the
model's own module names or the roles `query`, `key` and `value`, which map to
each architecture's naming (BERT `query`, Llama `q_proj`, DistilBERT `q_lin`).

The head is, as in partial, everything above the last block (BERT: pooler and
classifier; Llama: final norm and `score`), trained in full by default: MiniLM's
pooler reads the [CLS] token, which its sentence-embedding training never
used, so with the classifier alone (`full_head=False`, PEFT's default) a
frozen pooler holds LoRA back (see leaderboard/NOTES.md).

`preset="tutorial"` is the recipe of the well-known DistilBERT/IMDb LoRA
tutorial: r=4, alpha=32, dropout 0.01 on the query projections, learning rate
1e-3, batch 4, 10 epochs, weight decay 0.01, no warmup, the classifier alone
as the head, the model's own attention dropout. A preset fills the options
left at their defaults; options you set yourself win.

Parameter counts: PEFT trains a copy of the head (`modules_to_save`) and keeps
the original, frozen and unused; trainable counts the copy once, and total
leaves the unused originals out (base model + adapters, the head once). The
artifact is PEFT's own folder (`adapter_model.safetensors` holding A, B and
the head, plus `adapter_config.json`), loadable with
`PeftModel.from_pretrained(base_model, folder)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench.engines.classifier import FineTuned, FineTuneOptions, top_blocks_and_head
from bench.errors import BenchError
from bench.registry import STRATEGIES

PRESETS = {
    "tutorial": dict(r=4, alpha=32.0, dropout=0.01, target_modules=("query",), learning_rate=1e-3,
                     batch_size=4, epochs=10, weight_decay=0.01, warmup_ratio=0.0, full_head=False,
                     attention_dropout=None),  # the tutorial keeps the model's own attention dropout
}
ROLES = {  # role -> the module names architectures use for it
    "query": ("query", "q_proj", "q_lin"),
    "key": ("key", "k_proj", "k_lin"),
    "value": ("value", "v_proj", "v_lin"),
}


@dataclass(frozen=True)
class LoraOptions(FineTuneOptions):
    preset: str = ""  # a named recipe ("tutorial") filling the options left at their defaults
    r: int = 8  # rank of each adapter
    alpha: float = 16.0  # scaling numerator: the update is (alpha / r) * B @ A
    dropout: float = 0.05  # dropout on the adapter's input
    target_modules: tuple[str, ...] = ("query", "value")  # module names or roles (query, key, value) to adapt
    full_head: bool = True  # train all above the last block (BERT pooler + classifier); False = classifier only
    learning_rate: float = 1e-3  # peak AdamW learning rate; adapters want a larger one than full fine-tuning

    def __post_init__(self):
        if self.preset:
            if self.preset not in PRESETS:
                raise ValueError(f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}")
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            for name, value in PRESETS[self.preset].items():
                if getattr(self, name) == defaults[name]:
                    object.__setattr__(self, name, value)
        super().__post_init__()
        if self.r < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1 or not self.target_modules:
            raise ValueError("r must be >= 1, alpha > 0, dropout in [0, 1) and target_modules non-empty")


def resolve_targets(model, wanted: tuple[str, ...]) -> list[str]:
    """The model's module names for the wanted names or roles; an unknown one is an error."""
    import torch

    linear = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    resolved = []
    for name in wanted:
        found = [n for n in (name, *ROLES.get(name, ())) if n in linear]
        if not found:
            raise BenchError(f"lora: {type(model).__name__} has no linear module {name!r}; "
                             f"set lora.target_modules to some of: {', '.join(sorted(linear))}")
        resolved.append(found[0])
    return sorted(set(resolved))


@STRATEGIES.register("lora")
class Lora(FineTuned):
    Config = LoraOptions
    default_model = "all-MiniLM-L6-v2"
    search_space = {"learning_rate": (5e-4, 1e-3, 3e-3), "r": (8, 16)}

    def prepare(self, model):
        from peft import LoraConfig, TaskType, get_peft_model

        c = self.config
        head = sorted({name.rsplit(".", 1)[0] for name in top_blocks_and_head(model, 0)}) if c.full_head else None
        adapters = LoraConfig(task_type=TaskType.SEQ_CLS, r=c.r, lora_alpha=c.alpha, lora_dropout=c.dropout,
                              target_modules=resolve_targets(model, c.target_modules), bias="none",
                              modules_to_save=head)
        return get_peft_model(model, adapters)  # SEQ_CLS adds the classifier (classifier / score) to the head

    def unused_parameters(self, model) -> int:
        return sum(p.numel() for n, p in model.named_parameters() if ".original_module." in n)

    def save(self, model, folder) -> None:
        model.save_pretrained(folder, safe_serialization=True)
