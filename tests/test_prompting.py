"""Prompting strategies on the real SmolLM2-135M-Instruct and real task data (no mocks).

The batched, cached, length-sorted label scoring must give the same
log-probabilities as a plain forward pass over each whole prompt; the few-shot
sampler must be a pure function of (split, k, seed) and balanced.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.contracts import Split
from bench.data.loading import load_task
from bench.registry import TASKS



@pytest.fixture(scope="module")
def spam():
    card = TASKS.get("spam")
    return card, load_task(card)


@pytest.fixture(scope="module")
def scorer():
    from bench.engines.scoring import LabelScorer
    from bench.models.local import use_offline_hub

    use_offline_hub()
    return LabelScorer("SmolLM2-135M-Instruct", "cpu", batch_tokens=256, max_batch=3)


def reference_log_probs(model, prefix, suffix, labels):
    """log P(label | prompt) by one unbatched, uncached forward pass per label."""
    import torch

    out = []
    with torch.inference_mode():
        for label in labels:
            ids = torch.tensor([list(prefix) + list(suffix) + list(label)])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            start = len(prefix) + len(suffix)
            out.append(sum(logp[start - 1 + j, t] for j, t in enumerate(label)))
    return torch.stack(out)


def pick_varied(split: Split, n: int) -> list[str]:
    """n real texts of clearly different lengths, so batches need padding."""
    by_length = sorted(split.texts, key=len)
    return [by_length[int(q * (len(by_length) - 1))] for q in np.linspace(0.05, 0.995, n)]


@pytest.mark.parametrize("words", [("safe", "bad"), None,
                                   pytest.param(("not spam", "spam", "unsure"), marks=pytest.mark.slow)],
                         ids=["single-token", "card-words", "three-multi-token"])
def test_batched_scoring_matches_unbatched_computation(scorer, spam, words):
    import torch

    card, data = spam
    if words:
        card = replace(card, labels=words, label_words=words)
    scorer.setup(card)
    # "spam" is two tokens, so the continuation pass runs; "safe" and "bad" are one token each
    assert (max(len(t) for t in scorer.label_ids) > 1) == (words != ("safe", "bad"))
    texts = pick_varied(data.test, 5)
    shared = [(data.train.texts[i], data.train.labels[i]) for i in range(2)]
    own = [[(data.train.texts[10 + i], data.train.labels[10 + i])] for i in range(5)]
    prefix, suffixes = scorer.prompts(texts, shared, own)
    assert len({len(s) for s in suffixes}) > 3
    got = torch.tensor(scorer.log_probs(prefix, suffixes))
    want = torch.stack([reference_log_probs(scorer.model, prefix, s, scorer.label_ids) for s in suffixes]).double()
    assert got.shape == (5, len(card.label_words))
    assert torch.allclose(got, want, atol=2e-3, rtol=1e-4), (got - want).abs().max()


def test_calibration_makes_the_content_free_input_uniform(scorer, spam):
    card, data = spam
    scorer.setup(card)
    raw = scorer.classify(["N/A"] + data.test.texts[:3])
    calibrated = scorer.classify(["N/A"] + data.test.texts[:3], calibrate=True)
    assert np.allclose(raw.sum(axis=1), 1) and np.allclose(calibrated.sum(axis=1), 1)
    assert abs(raw[0, 0] - 0.5) > 0.01  # the model leans one way on "N/A" ...
    assert np.allclose(calibrated[0], 0.5, atol=1e-6)  # ... and calibration divides that out
    ratio = (calibrated[1:, 1] / calibrated[1:, 0]) / (raw[1:, 1] / raw[1:, 0])
    assert np.allclose(ratio, ratio[0])  # the same correction for every text


def test_calibration_sees_the_same_cut_demonstrations(scorer, spam):
    """The content-free prompt holds the demonstrations exactly as the real prompts do (cut to budget)."""
    card, data = spam
    scorer.setup(card, demo_tokens=6)
    long_demos = sorted(zip(data.train.texts, data.train.labels), key=lambda d: -len(d[0]))[:2]
    own = [long_demos[::-1]] * 3
    for kwargs in ({"shared_demos": long_demos}, {"demos": own}):  # few-shot's and rag's way
        calibrated = scorer.classify(["N/A"] + data.test.texts[:2], calibrate=True, **kwargs)
        assert np.allclose(calibrated[0], 0.5, atol=1e-6), kwargs.keys()
    assert scorer.stats.truncated_demonstrations == 2 + 3 * 2  # counted once per real prompt, never for "N/A"


def test_long_texts_are_cut_to_the_budget_and_counted(scorer, spam):
    card, data = spam
    scorer.setup(replace(card, max_tokens=16))
    long_text = max(data.test.texts, key=len)
    cut, was_cut = scorer.truncate(long_text, 16)
    assert was_cut and len(scorer.tokens(cut)) <= 17 and long_text.startswith(cut[:20])
    scorer.classify([long_text, "Ok lar"])
    summary = scorer.summary()
    assert summary["truncated_texts"] == 1 and summary["text_token_budget"] == 16
    assert summary["prompt_tokens_max"] > summary["prompt_tokens_mean"]


def test_few_shot_sampler_is_seeded_balanced_and_pure(spam):
    from bench.data.sampling import sample_demonstrations

    _, data = spam
    first = sample_demonstrations(data.train, 3, seed=7)
    assert first == sample_demonstrations(data.train, 3, seed=7)
    assert sorted(y for _, y in first) == [0, 0, 0, 1, 1, 1]
    label_of = dict(zip(data.train.texts, data.train.labels))
    assert all(label_of[t] == y for t, y in first)  # real training pairs, labels kept
    assert len({t for t, _ in first}) == 6  # no repeats
    others = [sample_demonstrations(data.train, 3, seed=s) for s in range(1, 4)]
    assert any(o != first for o in others)
    orders = {tuple(y for _, y in sample_demonstrations(data.train, 3, seed=s)) for s in range(10)}
    assert len(orders) > 1  # the order is shuffled, not grouped by class
    tiny = Split(texts=["a", "b", "c"], labels=[0, 0, 1])
    assert sorted(y for _, y in sample_demonstrations(tiny, 2, seed=0)) == [0, 0, 1]


@pytest.mark.slow
def test_strategies_end_to_end_on_a_slice(spam):
    from bench.run.grid import build_strategy

    card, data = spam
    train = Split(data.train.texts[:300], data.train.labels[:300])
    texts = data.test.texts[:24]
    few = build_strategy("few-shot", {"k": 1})
    few.fit(train, card)
    proba = few.predict_proba(texts)
    assert proba.shape == (24, 2) and np.allclose(proba.sum(axis=1), 1)
    assert few.predict(texts) == [int(i) for i in proba.argmax(axis=1)]
    info = few.extra_info()
    assert sorted(info["demonstration_labels"]) == [0, 1] and info["prompt"]["prompt_tokens_mean"] > 40
    counts = few.parameter_counts()
    assert counts.trainable == 0 and 130e6 < counts.total < 140e6  # SmolLM2-135M, tied embeddings once


@pytest.mark.slow
def test_gemma_from_its_chunk_packages_scores_like_a_plain_forward_pass(spam):
    """The optional second model: four chunk packages joined, checked and converted; a base model, so plain prompts."""
    import torch
    from pathlib import Path

    from bench.engines.scoring import LabelScorer
    from bench.models.local import local_path, use_offline_hub

    use_offline_hub()
    scorer = LabelScorer("gemma", "cpu", batch_tokens=256, max_batch=3)
    assert (Path(local_path("gemma-3-270m")) / "GEMMA_TERMS.html").stat().st_size > 100_000  # its licence, beside it
    assert not scorer.chat  # no chat template: "Text: ...\nAnswer: word" turns, label words after a space
    assert 260e6 < sum(p.numel() for p in scorer.model.parameters()) < 275e6  # 268 M, 168 M of them embeddings
    card, data = spam
    scorer.setup(card)
    texts = pick_varied(data.test, 4)
    shared = [(data.train.texts[i], data.train.labels[i]) for i in range(2)]
    prefix, suffixes = scorer.prompts(texts, shared)
    assert prefix[0] == scorer.tokenizer.bos_token_id  # Gemma degrades without its <bos>
    got = torch.tensor(scorer.log_probs(prefix, suffixes))
    want = torch.stack([reference_log_probs(scorer.model, prefix, s, scorer.label_ids) for s in suffixes]).double()
    assert torch.allclose(got, want, atol=2e-3, rtol=1e-4), (got - want).abs().max()
