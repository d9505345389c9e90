"""Classification by a causal language model: which label word is most likely next?

Shared by the prompting strategies (zero-shot, few-shot, rag). The prompt comes
from the task card's template (bench.engines.prompts); after it, each label's
words (TaskCard.label_words) are scored as the continuation of the assistant's
answer: the sum of the log-probabilities of the label's tokens. Nothing is
generated and no text is parsed.

Scoring is the hot path, so:
- the part of the prompt shared by every text (system prompt, instruction,
  fixed demonstrations) runs once; its key/value cache is reused by every batch;
- texts are sorted by length and batched under a token budget (padding inside
  the batch, after the shared part, masked and given correct positions);
- only the last position's logits are computed (`logits_to_keep=1`); that one
  pass scores every single-token label, and labels of several tokens continue
  from the same cache (one extra short pass over all labels at once);
- everything runs under `torch.inference_mode()`, in the cell's precision
  (bench.run.device): float32; bfloat16 under `--precision bf16`, with the
  body's weights in bf16 and the final norm and output layer in float32
  (bench.models.local.float32_output); or "bf16-checked", the default where
  the hardware computes bf16: every text is scored in bf16, then each text
  whose two likeliest labels are closer than a margin is scored again by a
  float32 copy of the model (loaded when the first such text comes), whose
  answer it keeps. An answer can flip
  between the formats only where bf16 moves each of the two probabilities by
  half the margin; bf16 moves them by a few hundredths (at most 0.075 on the
  real tasks measured, leaderboard/NOTES.md). The margin starts at
  `CHECK_MARGIN` and widens to four times the largest shift seen among the
  texts scored twice when that is more, so it stays twice what bf16 has been
  seen to move: the close calls are scored first, and what they show decides
  how far the check reaches (the record's `check` says the margin used, the
  texts scored twice and the largest shift). The answers are float32's and
  the time mostly bf16's.
  Log-probabilities are always taken in float32. A GPU gets batches as many
  times larger as its memory allows (bench.run.device.inference_batch_scale).

Contextual calibration (Zhao et al. 2021) scores a content-free text ("N/A") in
the same prompt and divides its label probabilities out.
Texts and demonstrations longer than their token budget are cut to it, and
counted, never silently (see `stats`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Sequence

from bench.contracts import TaskCard, probabilities_to_labels
from bench.engines.prompts import PromptBuilder
from bench.errors import BenchError

CONTENT_FREE = "N/A"
# "bf16-checked": texts whose top two label probabilities differ by less are scored again in fp32, and the margin
# widens to 4 x the largest shift those show (0.1 chosen on training texts: leaderboard/NOTES.md)
CHECK_MARGIN = 0.1
_SLOT = "\x00TEXT\x00"  # marks where the per-text part of the rendered prompt starts


@dataclass
class ScoringStats:
    """What the record says about the prompts (see `LabelScorer.stats`)."""

    prompt_tokens: list[int] = field(default_factory=list)  # per scored text, shared part included
    truncated_texts: int = 0
    truncated_demonstrations: int = 0
    # the work done, for throughput and MFU (benchmarks/scoring.py): tokens through the model (the shared
    # prefix once, padding left out), the sum of their positions (what attention costs), and output rows
    forward_tokens: int = 0
    attention_positions: int = 0
    output_rows: int = 0
    # "bf16-checked": texts scored again in float32, how many of their answers that changed, and the largest
    # difference in a label's probability between the two formats among them
    checked_texts: int = 0
    checked_answers_changed: int = 0
    checked_largest_shift: float = 0.0
    checked_margin: float = 0.0  # the widest margin used (CHECK_MARGIN, or 4 x the largest shift when wider)


class LabelScorer:
    """A causal LM that scores a task's label words after a prompt."""

    def __init__(self, model: str, device: str = "cpu", batch_tokens: int = 2048, max_batch: int = 16,
                 precision: str = "fp32"):
        import torch

        from bench.models.local import causal_lm
        from bench.run.device import inference_batch_scale

        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "bf16-checked": torch.bfloat16}[precision]
        try:  # shared by every scorer of this process
            self.tokenizer, self.model = causal_lm(model, device, str(self.dtype).removeprefix("torch."))
        except (OSError, ValueError) as exc:
            raise BenchError(f"could not load causal LM {model!r} ({str(exc).splitlines()[0][:120]}); "
                             "give a local folder with safetensors weights or a known name (see `bench ls`)") from None
        self.device = device
        scale = inference_batch_scale(device)  # batch sizes are the CPU's; a GPU takes larger ones
        self.batch_tokens = batch_tokens * scale
        self.max_batch = max_batch * scale
        tok = self.tokenizer
        self.pad_id = next(i for i in (self.model.config.pad_token_id, tok.pad_token_id, tok.eos_token_id, 0)
                           if i is not None)
        self.chat = bool(getattr(tok, "chat_template", None))
        self.builder: PromptBuilder | None = None
        self.stats = ScoringStats()
        self.uncalibrated = None  # label probabilities of the last classify() before calibration
        self._prefix_cache: tuple[tuple[int, ...], object] | None = None
        # "bf16-checked": a float32 scorer of the same model for the close calls, loaded when the first one comes
        # (a cell with none never holds the float32 copy); `_setup_args` is what it is set up with then
        self.checked = precision == "bf16-checked"
        self._referee_args = (model, device, batch_tokens, max_batch)
        self._referee: LabelScorer | None = None
        self._setup_args: tuple = ()

    # ---- prompts -------------------------------------------------------------

    def setup(self, task: TaskCard, demo_tokens: int = 0) -> None:
        """Take the task's label words and token budgets; reset the statistics."""
        self.builder = PromptBuilder(task, self.tokenizer)
        words = self.builder.words
        self.task, self.words = task, words
        self.text_budget = task.max_tokens
        self.demo_budget = demo_tokens or task.max_tokens
        self.label_ids = [self.tokens(text) for text in self.builder.label_texts()]
        if any(not ids for ids in self.label_ids):
            raise BenchError(f"task {task.name}: a label word tokenizes to nothing; fix label_words in the card")
        if len(set(map(tuple, self.label_ids))) < len(words):
            raise BenchError(f"task {task.name}: two label words have the same tokens; fix label_words in the card")
        self.stats = ScoringStats()
        self._setup_args = (task, demo_tokens)
        if self._referee is not None:
            self._referee.setup(task, demo_tokens)

    @property
    def referee(self) -> LabelScorer | None:
        """The float32 scorer of a "bf16-checked" scorer (None otherwise), loaded and set up on first use."""
        if self.checked and self._referee is None:
            self._referee = LabelScorer(*self._referee_args)
            if self._setup_args:
                self._referee.setup(*self._setup_args)
        return self._referee

    def tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def truncate(self, text: str, budget: int) -> tuple[str, bool]:
        ids = self.tokens(text)
        if len(ids) <= budget:
            return text, False
        return self.tokenizer.decode(ids[:budget]), True

    def cut_demonstrations(self, demos: Sequence[tuple[str, int]], count: bool = True) -> list[tuple[str, int]]:
        """(text, label) pairs with each text cut to the demonstration budget (counted if `count`)."""
        out = []
        for text, label in demos:
            text, cut = self.truncate(text, self.demo_budget)
            self.stats.truncated_demonstrations += cut and count
            out.append((text, label))
        return out

    def prompts(self, texts: Sequence[str], shared_demos: Sequence[tuple[str, int]] = (),
                demos: Sequence[Sequence[tuple[str, int]]] | None = None, count: bool = True):
        """Token ids of the shared prompt start, and of each text's own rest of the prompt.

        `shared_demos` are the same for every text (they go in the shared start);
        `demos[i]` are text i's own, between the shared start and the text. Texts and
        demonstrations are cut to their budgets; `count=False` (the content-free
        prompts of calibration) leaves those cuts out of the statistics.
        """
        builder = self.builder
        shared = self.cut_demonstrations(shared_demos, count)
        start = builder.render(builder.conversation(shared, _SLOT)).partition(_SLOT)[0]
        suffixes = []
        for i, text in enumerate(texts):
            text, cut = self.truncate(text, self.text_budget)
            self.stats.truncated_texts += cut and count
            own = self.cut_demonstrations(demos[i], count) if demos is not None else []
            full = builder.render(builder.conversation(shared + own, builder.show(text)))
            if not full.startswith(start):
                raise BenchError("this model's chat template renders the prompt's start differently per text; "
                                 "use a model with a plain chat template")
            suffixes.append(self.tokens(full[len(start):]))
        return self.tokens(start), suffixes

    # ---- classification ------------------------------------------------------

    def classify(self, texts: Sequence[str], shared_demos: Sequence[tuple[str, int]] = (),
                 demos: Sequence[Sequence[tuple[str, int]]] | None = None, calibrate: bool = False):
        """(n, K) label probabilities; `demos[i]` are text i's own demonstrations."""
        probs = self._classify(texts, shared_demos, demos, calibrate)
        if self.checked:
            probs = self._check(probs, texts, shared_demos, demos, calibrate)
        return probs

    def _classify(self, texts, shared_demos, demos, calibrate):
        import numpy as np

        prefix, suffixes = self.prompts(texts, shared_demos, demos)
        self.stats.prompt_tokens += [len(prefix) + len(s) for s in suffixes]
        logp = self.log_probs(prefix, suffixes)
        self.uncalibrated = np.exp(_normalize(logp)) if calibrate else None  # what calibration changed
        if calibrate:
            if demos is None:  # one content-free prompt serves every text
                free = self.log_probs(*self.prompts([CONTENT_FREE], shared_demos, count=False))
            else:  # each text has its own demonstrations, so its own content-free prompt
                free = self.log_probs(*self.prompts([CONTENT_FREE] * len(texts), shared_demos, demos, count=False))
            logp = logp - _normalize(free)
        return np.exp(_normalize(logp))

    def _check(self, probs, texts, shared_demos, demos, calibrate):
        """The close calls of a bf16 pass scored again in float32 (module docstring); their rows replaced.

        A text is close when its two likeliest labels lie within the margin: CHECK_MARGIN, or four times the
        largest shift between the formats seen so far if that is wider (so an answer flips only where bf16
        errs twice as far as it has on the texts scored twice); a wider margin takes in more texts at once.
        """
        import numpy as np

        top_two = np.sort(probs, axis=1)[:, -2:]
        gap = top_two[:, 1] - top_two[:, 0]
        stats, out = self.stats, probs.copy()
        done = np.zeros(len(probs), dtype=bool)
        while True:
            margin = max(CHECK_MARGIN, 4 * stats.checked_largest_shift)
            stats.checked_margin = max(margin, stats.checked_margin)
            close = np.flatnonzero((gap < margin) & ~done)
            if not len(close):
                return out
            referee = self.referee  # loaded here, the first time a text is close
            exact = referee._classify([texts[i] for i in close], shared_demos,
                                      None if demos is None else [demos[i] for i in close], calibrate)
            stats.checked_texts += len(close)
            stats.checked_answers_changed += int((exact.argmax(1) != probs[close].argmax(1)).sum())
            stats.checked_largest_shift = max(stats.checked_largest_shift,
                                              float(np.abs(exact - probs[close]).max()))
            for name in ("forward_tokens", "attention_positions", "output_rows"):  # the float32 work counts too
                setattr(stats, name, getattr(stats, name) + getattr(referee.stats, name))
                setattr(referee.stats, name, 0)
            out[close] = exact
            if self.uncalibrated is not None:
                self.uncalibrated[close] = referee.uncalibrated
            done[close] = True

    def log_probs(self, prefix: Sequence[int], suffixes: Sequence[Sequence[int]]):
        """(n, K) log P(label tokens | prefix + suffix_i), batched by length."""
        import numpy as np
        import torch

        out = np.zeros((len(suffixes), len(self.label_ids)))
        order = sorted(range(len(suffixes)), key=lambda i: -len(suffixes[i]))
        with torch.inference_mode():
            cache = self._cache_for(tuple(prefix))
            start = 0
            while start < len(order):
                longest = max(len(suffixes[order[start]]), 1)
                size = max(1, min(self.max_batch, self.batch_tokens // longest))
                batch = order[start:start + size]
                out[batch] = self._score_batch(cache, len(prefix), [suffixes[i] for i in batch])
                start += size
        return out

    def _cache_for(self, prefix: tuple[int, ...]):
        """The key/value cache of the shared prefix (batch of one), computed once per prefix."""
        import torch

        if not prefix:
            raise BenchError("a prompt needs a non-empty shared start; give the task card an instruction")
        if self._prefix_cache is None or self._prefix_cache[0] != prefix:
            ids = torch.tensor([prefix], device=self.device)
            cache = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
            self._prefix_cache = (prefix, cache)
            self._count(len(prefix), 0, 1)
        return self._prefix_cache[1]

    def _score_batch(self, prefix_cache, n_prefix: int, seqs: list[Sequence[int]]):
        import torch

        dev, B, S = self.device, len(seqs), max(len(s) for s in seqs)
        ids = torch.full((B, S), self.pad_id, dtype=torch.long)
        mask = torch.zeros((B, S), dtype=torch.long)
        for r, s in enumerate(seqs):  # padding on the left, so every text ends at the last position
            ids[r, S - len(s):] = torch.tensor(s)
            mask[r, S - len(s):] = 1
        positions = (n_prefix + mask.cumsum(1) - 1).clamp(min=n_prefix)
        attention = torch.cat([torch.ones((B, n_prefix), dtype=torch.long), mask], dim=1)
        for s in seqs:
            self._count(len(s), n_prefix, 1)
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(B)
        multi = max(len(t) for t in self.label_ids) > 1
        out = self.model(input_ids=ids.to(dev), attention_mask=attention.to(dev), position_ids=positions.to(dev),
                         past_key_values=cache, use_cache=multi, logits_to_keep=1)
        logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        scores = logp[:, [t[0] for t in self.label_ids]]
        if multi:
            scores = scores + self._continuations(out.past_key_values, attention, positions[:, -1] + 1)
        return scores.cpu().numpy()

    def _continuations(self, cache, attention, next_positions):
        """Log-probabilities of every label's tokens after its first, all labels in one pass."""
        import torch

        K, B = len(self.label_ids), attention.shape[0]
        C = max(len(t) for t in self.label_ids) - 1
        inputs = torch.full((K, C), self.pad_id, dtype=torch.long)  # label tokens fed in ...
        targets = torch.zeros((K, C), dtype=torch.long)  # ... and the tokens they must predict
        valid = torch.zeros((K, C))
        for k, t in enumerate(self.label_ids):
            inputs[k, :len(t) - 1] = torch.tensor(t[:-1])
            targets[k, :len(t) - 1] = torch.tensor(t[1:])
            valid[k, :len(t) - 1] = 1
        cache.batch_repeat_interleave(K)  # row b*K + k continues text b with label k
        dev = self.device
        attention = torch.cat([attention.repeat_interleave(K, dim=0), torch.ones((B * K, C), dtype=torch.long)], 1)
        positions = next_positions.repeat_interleave(K)[:, None] + torch.arange(C)
        for start in next_positions.tolist():
            for _ in range(K):
                self._count(C, start, C)
        logits = self.model(input_ids=inputs.repeat(B, 1).to(dev), attention_mask=attention.to(dev),
                            position_ids=positions.to(dev), past_key_values=cache).logits
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.repeat(B, 1).to(dev)[..., None])[..., 0]
        return (logp * valid.repeat(B, 1).to(dev)).sum(-1).view(B, K)

    def _count(self, tokens: int, start: int, rows: int) -> None:
        """Tally `tokens` run at positions start, start+1, ... and `rows` output positions."""
        self.stats.forward_tokens += tokens
        self.stats.attention_positions += tokens * start + tokens * (tokens - 1) // 2
        self.stats.output_rows += rows

    def summary(self) -> dict:
        """Prompt sizes and truncation (and, when calibrated, the uncalibrated answers), for the record."""
        lengths = self.stats.prompt_tokens or [0]
        extra = {} if self.uncalibrated is None else {
            "uncalibrated_predictions": probabilities_to_labels(self.uncalibrated)}
        return {"prompt_tokens_mean": round(sum(lengths) / len(lengths), 1), "prompt_tokens_max": max(lengths),
                "truncated_texts": self.stats.truncated_texts,
                "truncated_demonstrations": self.stats.truncated_demonstrations,
                "text_token_budget": self.text_budget, "demonstration_token_budget": self.demo_budget,
                "chat_template": self.chat, "label_tokens": [len(t) for t in self.label_ids],
                "dtype": str(self.dtype).removeprefix("torch."), "batch_tokens": self.batch_tokens,
                "max_batch": self.max_batch, **extra, **self._check_summary()}

    def _check_summary(self) -> dict:
        if not self.checked:
            return {}
        stats = self.stats
        return {"check": {"margin": round(max(CHECK_MARGIN, stats.checked_margin), 4),
                          "rescored_texts": stats.checked_texts,
                          "answers_changed": stats.checked_answers_changed,
                          "largest_shift": round(stats.checked_largest_shift, 4)}}


def _normalize(logp):
    """Log-probabilities renormalised over the labels, per row."""
    import numpy as np

    top = logp.max(axis=1, keepdims=True)
    return logp - top - np.log(np.exp(logp - top).sum(axis=1, keepdims=True))
