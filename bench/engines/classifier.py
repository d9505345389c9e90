"""A transformers sequence classifier, fine-tuned: the shared body of lora, full and partial.

`FineTuned` loads a transformers sequence classifier from a local safetensors
folder, lets the strategy choose what is trained (`prepare`), tokenises the
texts (truncated to the task card's `max_tokens`, padded per batch), trains
through bench.engines.training, saves what was trained (`save`) and predicts class
probabilities in batches. A strategy module only says which parameters learn
and how its weights are written. For the scenarios (bench.scenarios) it can
go on training on new examples (`update`) and hand back its tuned encoder
(`tuned_encoder`).

Models: an encoder such as all-MiniLM-L6-v2 (BERT; only `classifier.*` is new)
or a decoder such as SmolLM2-135M-Instruct (Llama: `score.*` is new and the
classifier reads the last non-padding token, so `config.pad_token_id` is set).
Weights load only from safetensors and never with remote code. The model is
loaded in `fit`, after seeding, so the new head's initial weights depend on
the run seed only; loading counts in the fit time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from bench.contracts import ParameterCounts, RunContext, Split, Strategy, TaskCard, count_parameters
from bench.engines import training
from bench.errors import BenchError


@dataclass(frozen=True)
class FineTuneOptions(training.TrainingOptions):
    # Dropout on the attention probabilities: None keeps the model's own (all-MiniLM-L6-v2: 0.1), a number
    # replaces it. 0, the default, trains 2.6-4x faster on a CPU at 512 tokens (with dropout the fused attention
    # kernel cannot run, so every head's L x L probabilities are materialised and sampled). Chosen on training
    # labels (TUNING.md, "Attention dropout"): for full by the tuned study's trials, for lora and partial by
    # cross-validation over imdb's training reviews. Dropout on the hidden layers stays as the model has it.
    # Records made before a strategy took this default lack the option, or hold None: they ran with the model's
    # own ("absent"), an earlier recipe.
    attention_dropout: float | None = field(default=0.0, metadata={"absent": None})

    def __post_init__(self):
        super().__post_init__()
        if self.attention_dropout is not None and not 0 <= self.attention_dropout < 1:
            raise ValueError("attention_dropout must be in [0, 1), or None for the model's own")


def load_classifier(name: str, n_labels: int, attention_dropout: float | None = None):
    """(tokenizer, model) for a model name or folder, with a fresh n_labels head, in fp32; `attention_dropout`
    replaces the model's dropout on attention probabilities (None keeps it)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from bench.models.local import local_path

    path = local_path(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = AutoConfig.from_pretrained(path, num_labels=n_labels)
        if attention_dropout is not None:
            for knob in ("attention_probs_dropout_prob", "attention_dropout"):  # BERT's name, Llama's name
                if hasattr(config, knob):
                    setattr(config, knob, attention_dropout)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, config=config, use_safetensors=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot load {name!r} as a sequence classifier from {path} ({first}); "
                         "pass --models with a local folder holding config.json and safetensors weights") from None
    if tokenizer.pad_token is None:  # decoders ship without one; the classifier must know what padding is
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def backbone(model):
    """The transformer body of a sequence classifier (PEFT wrappers unwrapped, adapters left active)."""
    inner = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
    return inner.base_model


def top_blocks_and_head(model, top: int) -> set[str]:
    """Names of the parameters in the top `top` transformer blocks and in the head.

    The blocks are the model's longest `nn.ModuleList` (BERT `bert.encoder.layer`,
    Llama `model.layers`); the head is every parameter registered after the last
    block (BERT: pooler and classifier; Llama: final norm and `score`).
    """
    import torch

    lists = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        raise BenchError(f"found no stack of transformer blocks in {type(model).__name__}; use the full strategy")
    prefix, blocks = max(lists, key=lambda item: len(item[1]))
    if top > len(blocks):
        raise BenchError(f"partial: layers={top} but the model has {len(blocks)} blocks; "
                         f"use --set partial.layers={len(blocks)} or the full strategy")
    names = [n for n, _ in model.named_parameters()]
    last_in_blocks = max(i for i, n in enumerate(names) if n.startswith(prefix + "."))
    top_prefixes = tuple(f"{prefix}.{i}." for i in range(len(blocks) - top, len(blocks)))
    return {n for i, n in enumerate(names) if i > last_in_blocks or n.startswith(top_prefixes)}


class FineTuned(Strategy):
    """Base of lora, full and partial; subclasses define `prepare` and `save`."""

    Config = FineTuneOptions
    default_model = "all-MiniLM-L6-v2"
    family = "training"
    bf16 = "auto"  # trains and predicts under bf16 autocast where the hardware has it (the mixed_precision option)

    def __init__(self, config: training.TrainingOptions, model: str | None = None, context: RunContext | None = None):
        super().__init__(config, model, context)
        self.model = None
        self.info: dict = {}

    def prepare(self, model):
        """Set requires_grad on what should learn; return the module to train."""
        raise NotImplementedError

    def save(self, model, folder) -> None:
        """Write the trained weights into folder as safetensors."""
        raise NotImplementedError

    def unused_parameters(self, model) -> int:
        """Parameters held by the model but never used (e.g. PEFT's frozen copy of the head)."""
        return 0

    def fit(self, train: Split, task: TaskCard, validation: Split | None = None) -> None:
        """Train on `train`; the best epoch is chosen on `validation` where one is given (the tuner's
        held-out fold), else on a split held out of `train` (training.carve)."""
        from transformers import set_seed

        set_seed(self.context.seed)
        self.max_tokens = task.max_tokens
        self.tokenizer, base = load_classifier(self.model_name, len(task.labels), self.config.attention_dropout)
        self.model = self.prepare(base)
        history, n_fit, n_val = self._train(train, task, validation)
        self.info = {"training": history.info(n_fit, n_val),
                     "artifact": training.save_artifact(lambda folder: self.save(self.model, folder),
                                                        self.context.artifact_dir)}

    def update(self, new: Split, task: TaskCard) -> None:
        """Absorb new labelled examples by training on from the current weights, on the new examples only
        (bench.scenarios.update); the same path as fit (validation split, best epoch, early stopping)."""
        self._train(new, task)

    def tuned_encoder(self):
        """(tokenizer, transformer body) as trained, adapters active: what bench.scenarios.forgetting probes."""
        return self.tokenizer, backbone(self.model)

    def _train(self, train: Split, task: TaskCard, validation: Split | None = None):
        from transformers import DataCollatorWithPadding

        seed = self.context.seed
        fit_split, val_split = training.carve(train, self.config, seed, validation)
        history = training.train(self.model, self._rows(fit_split), self._rows(val_split), self.config,
                                 collator=DataCollatorWithPadding(self.tokenizer), n_labels=len(task.labels),
                                 device=self.context.device, seed=seed, group_by_length=True,
                                 precision=self.context.precision)
        self.model.eval()
        return history, len(fit_split), len(val_split)

    def _rows(self, split: Split) -> list[dict]:
        if not split.texts:  # no validation split (val_fraction=0, as in a tuned refit): the tokenizer rejects []
            return []
        encoded = self.tokenizer(list(split.texts), truncation=True, max_length=self.max_tokens)
        keys = list(encoded.keys())
        return [{**{k: encoded[k][i] for k in keys}, "labels": y} for i, y in enumerate(split.labels)]

    def predict_proba(self, texts: Sequence[str]):
        """(n, K) softmax probabilities, in batches of similar length, under inference mode (and bf16 autocast
        when the model trained under it)."""
        import numpy as np
        import torch

        from bench.run.device import inference_batch_scale

        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)
        order = sorted(range(len(texts)), key=lambda i: len(encoded["input_ids"][i]))
        device = next(self.model.parameters()).device
        size = self.config.eval_batch_size * inference_batch_scale(str(device))  # larger on a GPU
        out = np.zeros((len(texts), self.model.config.num_labels), dtype=np.float64)
        self.model.eval()
        bf16 = training.uses_bf16(self.config, self.context.precision)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            for start in range(0, len(order), size):
                ids = order[start:start + size]
                batch = self.tokenizer.pad([{k: encoded[k][i] for k in encoded.keys()} for i in ids],
                                           return_tensors="pt")
                logits = self.model(**{k: v.to(device) for k, v in batch.items()}).logits
                out[ids] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out

    def parameter_counts(self) -> ParameterCounts:
        if self.model is None:
            return ParameterCounts(trainable=0, total=0)
        counts = count_parameters(self.model)
        return ParameterCounts(trainable=counts.trainable, total=counts.total - self.unused_parameters(self.model))

    def extra_info(self) -> dict:
        return self.info
