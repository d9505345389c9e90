"""`few-shot`: the zero-shot prompt plus k labelled demonstrations per class.

The demonstrations are drawn from the training split by a pure, seeded
function (bench.data.sampling.sample_demonstrations): k per class, so the
prompt is balanced whatever the class frequencies, in an order shuffled by the
seed. They are the same for every test text, so they sit in the shared start
of the prompt and the model reads them once (bench.engines.scoring caches
their keys and values). In-context accuracy swings with the choice and order
of the demonstrations: run several seeds to see the spread.

Calibration (`calibrate`, on by default) scores "N/A" after the same
demonstrations and divides its label probabilities out (measurements in
leaderboard/NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, RunContext, Split, Strategy, TaskCard, count_parameters
from bench.data.sampling import sample_demonstrations
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class FewShotConfig:
    k: int = 2  # demonstrations per class
    calibrate: bool = True  # divide out the label probabilities of a content-free text ("N/A")
    demo_tokens: int = 0  # token budget per demonstration; 0 = the task card's max_tokens
    batch_tokens: int = 2048  # per-text tokens per forward pass (the shared prompt start is cached)
    max_batch: int = 16  # texts per forward pass at most

    def __post_init__(self):
        if self.k < 1 or self.demo_tokens < 0 or self.batch_tokens < 16 or self.max_batch < 1:
            raise ValueError("k must be >= 1, demo_tokens >= 0, batch_tokens >= 16 and max_batch >= 1")


@STRATEGIES.register("few-shot")
class FewShot(Strategy):
    Config = FewShotConfig
    default_model = "SmolLM2-135M-Instruct"
    family = "prompting"
    bf16 = "checked"  # where the hardware has bf16: scored in bf16, close calls again in fp32 (bench.engines.scoring)
    search_space = {"k": (1, 2, 4), "calibrate": (True, False)}

    def __init__(self, config: FewShotConfig, model: str | None = None, context: RunContext | None = None):
        from bench.engines.scoring import LabelScorer

        super().__init__(config, model, context)
        self.scorer = LabelScorer(self.model_name, self.context.device, config.batch_tokens, config.max_batch,
                                  self.context.precision)
        self.demos: list[tuple[str, int]] = []

    def fit(self, train: Split, task: TaskCard) -> None:
        self.scorer.setup(task, demo_tokens=self.config.demo_tokens)
        self.demos = sample_demonstrations(train, self.config.k, self.context.seed)

    def predict_proba(self, texts: Sequence[str]):
        return self.scorer.classify(texts, shared_demos=self.demos, calibrate=self.config.calibrate)

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=count_parameters(self.scorer.model).total)

    def extra_info(self) -> dict:
        return {"prompt": self.scorer.summary(), "calibrated": self.config.calibrate,
                "demonstration_labels": [y for _, y in self.demos]}
