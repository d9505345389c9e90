"""`rag`: few-shot prompting with retrieved demonstrations.

Each test text gets as demonstrations its k nearest labelled training
examples (all-MiniLM-L6-v2 embeddings in a FAISS index, see
bench.engines.retrieval), the nearest placed last, next to the text.
Retrieved demonstrations beat random ones on every task Liu et al. (2021)
studied. The index is built once per embedding model and training data and
cached on disk; the record says whether it came from the cache, how long it
took and how big it is.

Unlike few-shot, the demonstrations differ per text, so only the instruction
is shared between prompts and every demonstration is read once per text. To
keep that affordable each retrieved demonstration is cut to `demo_tokens`
(64 by default; every cut is counted in the record). Calibration, when on,
scores "N/A" after each text's own demonstrations, which doubles the cost; it
is off by default because it hurt (leaderboard/NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, RunContext, Split, Strategy, TaskCard, count_parameters
from bench.engines.retrieval import INDEX_KINDS
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class RagConfig:
    k: int = 4  # retrieved demonstrations per text
    calibrate: bool = False  # divide out the label probabilities of "N/A" after the same demonstrations
    index: str = "flat"  # "flat": exact inner product; "hnsw" or "ivf": approximate
    embedder: str = "all-MiniLM-L6-v2"  # sentence-transformers model that embeds texts for retrieval
    demo_tokens: int = 64  # token budget per demonstration (read once per text); 0 = the card's max_tokens
    batch_tokens: int = 4096  # per-text tokens per forward pass
    max_batch: int = 16  # texts per forward pass at most

    def __post_init__(self):
        if self.index not in INDEX_KINDS:
            raise ValueError(f"index must be one of {', '.join(INDEX_KINDS)} (got {self.index!r})")
        if self.k < 1 or self.demo_tokens < 0 or self.batch_tokens < 16 or self.max_batch < 1:
            raise ValueError("k must be >= 1, demo_tokens >= 0, batch_tokens >= 16 and max_batch >= 1")


@STRATEGIES.register("rag")
class Rag(Strategy):
    Config = RagConfig
    default_model = "SmolLM2-135M-Instruct"
    family = "prompting"
    bf16 = "checked"  # where the hardware has bf16: scored in bf16, close calls again in fp32 (bench.engines.scoring)
    search_space = {"k": (2, 4, 8), "calibrate": (False, True)}
    seeded = False  # the seed changes nothing on the whole training split: one run serves every seed

    def __init__(self, config: RagConfig, model: str | None = None, context: RunContext | None = None):
        from bench.engines.retrieval import Retriever
        from bench.engines.scoring import LabelScorer

        super().__init__(config, model, context)
        self.scorer = LabelScorer(self.model_name, self.context.device, config.batch_tokens, config.max_batch,
                                  self.context.precision)
        self.retriever = Retriever(config.embedder, self.context.device)

    def fit(self, train: Split, task: TaskCard) -> None:
        self.scorer.setup(task, demo_tokens=self.config.demo_tokens)
        self.retriever.build(train, task.max_tokens, self.config.index)
        self.train = train

    def update(self, new: Split, task: TaskCard) -> None:
        """Absorb new labelled examples: they join the index (bench.scenarios.update); nothing is retrained."""
        self.retriever.add(new)
        self.train = Split(self.train.texts + new.texts, self.train.labels + new.labels)

    def predict_proba(self, texts: Sequence[str]):
        _, neighbours = self.retriever.search(texts, self.config.k)
        demos = [[(self.train.texts[j], self.train.labels[j]) for j in reversed(row) if j >= 0]  # nearest last
                 for row in neighbours]
        return self.scorer.classify(texts, demos=demos, calibrate=self.config.calibrate)

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=count_parameters(self.scorer.model, self.retriever.encoder).total)

    def extra_info(self) -> dict:
        return {"prompt": self.scorer.summary(), "calibrated": self.config.calibrate,
                "index": self.retriever.summary()}
