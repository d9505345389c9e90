"""`knn`: the k nearest training examples vote; no language model.

The retrieval-only reference for `rag`: the same embeddings, the same FAISS
index (bench.engines.retrieval; an index built by one is reused by the other) and the
same k neighbours, but the label is their majority vote instead of a prompt.
If rag does not beat knn, the language model added nothing to the retrieval.
A tie goes to the label of the nearest neighbour among the tied labels. The
class probabilities are the vote shares (with a tiny boost to the tie-winner).
The model is the embedder (all-MiniLM-L6-v2 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, RunContext, Split, Strategy, TaskCard, count_parameters
from bench.engines.retrieval import INDEX_KINDS
from bench.registry import STRATEGIES

TIE_BREAK = 1e-3  # added to the tie-winner's vote share before renormalising


@dataclass(frozen=True)
class KnnConfig:
    k: int = 4  # neighbours that vote
    index: str = "flat"  # "flat": exact inner product; "hnsw" or "ivf": approximate

    def __post_init__(self):
        if self.index not in INDEX_KINDS:
            raise ValueError(f"index must be one of {', '.join(INDEX_KINDS)} (got {self.index!r})")
        if self.k < 1:
            raise ValueError("k must be >= 1")


def vote(neighbour_labels, n_labels: int):
    """(n, K) vote shares of neighbour labels (each row nearest first; -1 = none)."""
    import numpy as np

    proba = np.zeros((len(neighbour_labels), n_labels))
    for row, labels in zip(proba, neighbour_labels):
        labels = [y for y in labels if y >= 0]
        for y in labels:
            row[y] += 1
        tied = np.flatnonzero(row == row.max())
        if len(tied) > 1:
            row[next(y for y in labels if y in tied)] += TIE_BREAK  # the nearest of the tied labels
        row /= row.sum()
    return proba


@STRATEGIES.register("knn")
class Knn(Strategy):
    Config = KnnConfig
    default_model = "all-MiniLM-L6-v2"
    family = "retrieval"
    search_space = {"k": (1, 4, 8, 16)}
    seeded = False  # the seed changes nothing on the whole training split: one run serves every seed

    def __init__(self, config: KnnConfig, model: str | None = None, context: RunContext | None = None):
        from bench.engines.retrieval import Retriever

        super().__init__(config, model, context)
        self.retriever = Retriever(self.model_name, self.context.device)

    def fit(self, train: Split, task: TaskCard) -> None:
        import numpy as np

        self.retriever.build(train, task.max_tokens, self.config.index)
        self.labels = np.asarray(train.labels)
        self.n_labels = len(task.labels)

    def update(self, new: Split, task: TaskCard) -> None:
        """Absorb new labelled examples: they join the index (bench.scenarios.update); nothing is retrained."""
        import numpy as np

        self.retriever.add(new)
        self.labels = np.concatenate([self.labels, np.asarray(new.labels)])

    def predict_proba(self, texts: Sequence[str]):
        _, neighbours = self.retriever.search(texts, self.config.k)
        return vote([[int(self.labels[j]) if j >= 0 else -1 for j in row] for row in neighbours], self.n_labels)

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=count_parameters(self.retriever.encoder).total)

    def extra_info(self) -> dict:
        return {"index": self.retriever.summary(), "k": self.config.k}
