"""`head-only`: a frozen sentence encoder and a trained linear classifier head.

The texts are encoded once (mean-pooled, normalised all-MiniLM-L6-v2 sentence
embeddings by default) and a multinomial logistic regression is fitted on those
cached features, as MTEB does for its classification tasks: the frozen encoder
never runs more than once per text. The head's weights and biases are the only
trainable parameters; the total adds the encoder's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, Split, TaskCard, count_parameters
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class HeadOnlyConfig:
    batch_size: int = 32  # texts per encoder forward pass
    max_seq_length: int = 0  # tokens per text; 0 = the task card's max_tokens
    normalize: bool = True  # L2-normalise embeddings before the head
    C: float = 1.0  # inverse L2 regularisation strength of the logistic regression
    max_iter: int = 2000  # optimiser iterations for the head

    def __post_init__(self):
        if self.batch_size < 1 or self.max_seq_length < 0 or self.C <= 0 or self.max_iter < 1:
            raise ValueError("batch_size and max_iter must be >= 1, max_seq_length >= 0, C > 0")


@STRATEGIES.register("head-only")
class HeadOnly:
    Config = HeadOnlyConfig
    default_model = "all-MiniLM-L6-v2"

    def __init__(self, config: HeadOnlyConfig, model: str | None = None, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        from bench.models import local_path

        self.config = config
        self.encoder = SentenceTransformer(local_path(model or self.default_model), device=device)
        self.head = None

    def _encode(self, texts: Sequence[str]):
        return self.encoder.encode(list(texts), batch_size=self.config.batch_size,
                                   normalize_embeddings=self.config.normalize,
                                   convert_to_numpy=True, show_progress_bar=False)

    def fit(self, train: Split, task: TaskCard, seed: int) -> None:
        from sklearn.linear_model import LogisticRegression

        self.encoder.max_seq_length = self.config.max_seq_length or task.max_tokens
        features = self._encode(train.texts)
        self.head = LogisticRegression(C=self.config.C, max_iter=self.config.max_iter, random_state=seed)
        self.head.fit(features, train.labels)
        self.n_labels = len(task.labels)

    def predict_proba(self, texts: Sequence[str]):
        import numpy as np

        proba = self.head.predict_proba(self._encode(texts))
        full = np.zeros((len(texts), self.n_labels))  # classes absent from training get 0
        full[:, self.head.classes_] = proba
        return full

    def predict(self, texts: Sequence[str]) -> list[int]:
        return [int(i) for i in self.predict_proba(texts).argmax(axis=1)]

    def parameter_counts(self) -> ParameterCounts:
        head = self.head.coef_.size + self.head.intercept_.size if self.head is not None else 0
        encoder = count_parameters(self.encoder).total
        return ParameterCounts(trainable=head, total=encoder + head)
