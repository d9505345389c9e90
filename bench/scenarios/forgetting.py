"""Forgetting: what fine-tuning an encoder on one task does to it as a feature extractor for others.

After a trained strategy (lora, full, partial) has been fitted on its task,
its encoder, as tuned (`strategy.tuned_encoder()`: the tokenizer and the
transformer body, adapters active), and the same encoder as it was before
(loaded afresh from the same weights) each embed the texts of every probe task:
mean-pooled last hidden states over the non-padding tokens, L2-normalised,
which is how all-MiniLM-L6-v2 makes its sentence embeddings. Two frozen-feature
probes are then fitted on the probe task's training texts (at most
`PROBE_TRAIN`, a stratified sample with a fixed seed) and scored on its test
split: `K` nearest neighbours by cosine similarity voting (as the knn
strategy does), and a logistic-regression head (scikit-learn, C = 1, as
head-only trains). A point lost is a point of accuracy the probe task no
longer gets from the tuned features. Strategies whose encoder stays frozen
(knn, rag, head-only) lose nothing by construction.

When the tuned model is a language model (lora or full on SmolLM2), its
zero-shot accuracy on each probe task is measured too, before and after: the
zero-shot prompt (bench.engines.scoring) scored by the original model, then by
the same model with its transformer body replaced by the tuned one (the output
embedding stays the original's; LoRA leaves the input embedding as it was).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from bench.contracts import Split, TaskCard, TaskData
from bench.data.sampling import validation_split
from bench.engines.classifier import backbone, load_classifier

PROBE_VERSION = 1  # in the key of probed cells: bump when the probes change
PROBE_TRAIN = 1000  # probe-task training texts at most (stratified sample, seed PROBE_SEED)
PROBE_SEED = 0
K = 4  # neighbours that vote, as the knn strategy's default
BATCH = 32


def embed(body: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int, device: str = "cpu"):
    """(n, d) float32 unit vectors: mean of the last hidden states over the non-padding tokens."""
    import numpy as np
    import torch

    encoded = tokenizer(list(texts), truncation=True, max_length=max_tokens)
    order = sorted(range(len(texts)), key=lambda i: len(encoded["input_ids"][i]))
    out = None
    body.eval()
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            ids = order[start:start + BATCH]
            batch = tokenizer.pad([{k: encoded[k][i] for k in encoded.keys()} for i in ids], return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = body(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
            if out is None:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[ids] = pooled.cpu().numpy()
    return out


def knn_accuracy(train_x, train_y, test_x, test_y, n_labels: int, k: int = K) -> float:
    import numpy as np

    from bench.strategies.knn import vote

    nearest = np.argsort(-(test_x @ train_x.T), axis=1, kind="stable")[:, :k]
    predicted = vote([[int(train_y[j]) for j in row] for row in nearest], n_labels).argmax(axis=1)
    return float((predicted == np.asarray(test_y)).mean())


def linear_accuracy(train_x, train_y, test_x, test_y) -> float:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(C=1.0, max_iter=2000).fit(train_x, train_y)
    return float((head.predict(test_x) == np.asarray(test_y)).mean())


def is_language_model(body: Any) -> bool:
    """Whether a transformer body comes from a causal language model (it can be prompted zero-shot)."""
    return any(name.endswith("ForCausalLM") for name in getattr(body.config, "architectures", None) or ())


def zero_shot_accuracy(model_name: str, body: Any, card: TaskCard, test: Split, device: str) -> float:
    """The zero-shot prompt's accuracy on `test`, scored by `model_name` with `body` (None: its own) inside."""
    import numpy as np

    from bench.engines.scoring import LabelScorer

    scorer = LabelScorer(model_name, device)
    if body is not None:
        scorer.model.model = body  # the causal LM's transformer body (Llama: `.model`), tuned
    scorer.setup(card)
    predicted = scorer.classify(test.texts).argmax(axis=1)
    return float((predicted == np.asarray(test.labels)).mean())


def probe(strategy: Any, tasks: list[tuple[TaskCard, TaskData]], device: str = "cpu") -> list[dict]:
    """A ProbeResult (as JSON) per probe task: the original and the tuned encoder, each through both probes
    (and, for a language model, its zero-shot accuracy before and after)."""
    tokenizer, tuned = strategy.tuned_encoder()
    _, fresh = load_classifier(strategy.model_name, 2)
    original = backbone(fresh).to(device)
    prompted = is_language_model(tuned)
    results = []
    for card, data in tasks:
        started = time.perf_counter()
        train: Split = validation_split(data.train, 0, PROBE_TRAIN, PROBE_SEED)[0]
        texts = list(train.texts) + list(data.test.texts)
        scores = {}
        for when, body in (("before", original), ("after", tuned)):
            vectors = embed(body, tokenizer, texts, card.max_tokens, device)
            train_x, test_x = vectors[:len(train)], vectors[len(train):]
            scores[f"knn_{when}"] = knn_accuracy(train_x, train.labels, test_x, data.test.labels, len(card.labels))
            scores[f"linear_{when}"] = linear_accuracy(train_x, train.labels, test_x, data.test.labels)
        if prompted:
            scores["zero_shot_before"] = zero_shot_accuracy(strategy.model_name, None, card, data.test, device)
            scores["zero_shot_after"] = zero_shot_accuracy(strategy.model_name, tuned, card, data.test, device)
        results.append({"task": card.name, "fingerprint": data.fingerprint, "n_train": len(train),
                        "n_test": len(data.test), **scores, "seconds": round(time.perf_counter() - started, 2)})
    return results
