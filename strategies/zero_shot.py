"""`zero-shot`: ask an instruction-tuned language model, with no examples.

The prompt is the task card's template (instruction, the allowed answers and
the text), put through the model's chat template; the prediction is the label
whose words the model finds most likely to open its answer (summed token
log-probabilities, see bench.engines.scoring). The training split is never
read. The default model is SmolLM2-135M-Instruct; `--models` takes any causal
LM (a local folder or, with a hub, a hub id).

Calibration (`calibrate`, on by default) divides out the label probabilities
the model gives a content-free text, "N/A" (Zhao et al. 2021). It helps where
the model has signal and costs one extra prompt; on a task the model cannot
do, read macro-F1 beside accuracy. What it did on imdb and spam is in
leaderboard/NOTES.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, RunContext, Split, Strategy, TaskCard, count_parameters
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class ZeroShotConfig:
    calibrate: bool = True  # divide out the label probabilities of a content-free text ("N/A")
    batch_tokens: int = 2048  # per-text tokens per forward pass (the shared prompt start is cached)
    max_batch: int = 16  # texts per forward pass at most

    def __post_init__(self):
        if self.batch_tokens < 16 or self.max_batch < 1:
            raise ValueError("batch_tokens must be >= 16 and max_batch >= 1")


@STRATEGIES.register("zero-shot")
class ZeroShot(Strategy):
    Config = ZeroShotConfig
    default_model = "SmolLM2-135M-Instruct"
    family = "prompting"
    bf16 = "checked"  # where the hardware has bf16: scored in bf16, close calls again in fp32 (bench.engines.scoring)
    seeded = False  # the seed changes nothing on the whole training split: one run serves every seed
    uses_labels = False

    def __init__(self, config: ZeroShotConfig, model: str | None = None, context: RunContext | None = None):
        from bench.engines.scoring import LabelScorer

        super().__init__(config, model, context)
        self.scorer = LabelScorer(self.model_name, self.context.device, config.batch_tokens, config.max_batch,
                                  self.context.precision)

    def fit(self, train: Split, task: TaskCard) -> None:
        self.scorer.setup(task)

    def predict_proba(self, texts: Sequence[str]):
        return self.scorer.classify(texts, calibrate=self.config.calibrate)

    def parameter_counts(self) -> ParameterCounts:
        return ParameterCounts(trainable=0, total=count_parameters(self.scorer.model).total)

    def extra_info(self) -> dict:
        return {"prompt": self.scorer.summary(), "calibrated": self.config.calibrate}
