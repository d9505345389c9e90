"""The trained strategies (lora, full, partial, head-only) and their shared path, bench.engines.training.

Everything runs the real all-MiniLM-L6-v2 on real slices of the SMS spam data:
tiny slices and one epoch, so the whole file takes a few minutes on two CPU
cores. Nothing here mocks the model or the data.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench.engines import training
from bench.contracts import RunContext, Split
from bench.errors import BenchError
from bench.engines.classifier import load_classifier
from bench.registry import STRATEGIES, TASKS

MINILM = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def spam():
    from bench.data.loading import load_task

    card = TASKS.get("spam")
    return card, load_task(card)


def _slice(data, per_class: int, offset: int = 0) -> Split:
    """The first `per_class` training texts of each label (after `offset` of them)."""
    picked = []
    for label in (0, 1):
        ids = [i for i, y in enumerate(data.train.labels) if y == label]
        picked += ids[offset:offset + per_class]
    return Split([data.train.texts[i] for i in picked], [data.train.labels[i] for i in picked])


def _build(name: str, seed: int = 0, artifact_dir=None, **options):
    cls = STRATEGIES.get(name)
    return cls(cls.Config(**options), MINILM, RunContext(device="cpu", seed=seed, artifact_dir=artifact_dir))


TINY = dict(epochs=1, min_steps=0, batch_size=8, val_fraction=0.25, max_train_examples=0, warmup_ratio=0.0)


# --- options and data preparation ---------------------------------------------------------------

def test_tutorial_preset_fills_defaults_and_explicit_options_win():
    cfg = STRATEGIES.get("lora").Config(preset="tutorial")
    assert (cfg.r, cfg.alpha, cfg.dropout, cfg.target_modules) == (4, 32.0, 0.01, ("query",))
    assert (cfg.learning_rate, cfg.batch_size, cfg.epochs, cfg.weight_decay) == (1e-3, 4, 10, 0.01)
    assert cfg.full_head is False  # the tutorial trains the classifier alone
    assert cfg.attention_dropout is None  # ... with the model's own attention dropout
    mine = STRATEGIES.get("lora").Config(preset="tutorial", epochs=2, r=16)
    assert (mine.epochs, mine.r, mine.alpha) == (2, 16, 32.0)
    with pytest.raises(ValueError, match="unknown preset"):
        STRATEGIES.get("lora").Config(preset="nope")


@pytest.mark.parametrize("name, bad", [("lora", {"r": 0}), ("full", {"epochs": 0}), ("partial", {"layers": -1}),
                                       ("full", {"val_fraction": 1.0}), ("head-only", {"C": 0.0}),
                                       ("lora", {"attention_dropout": 1.0})])
def test_bad_options_are_rejected(name, bad):
    with pytest.raises(ValueError):
        STRATEGIES.get(name).Config(**bad)


def test_carve_is_stratified_seeded_and_disjoint(spam):
    _, data = spam
    options = training.TrainingOptions(max_train_examples=400, val_fraction=0.1)
    fit, val = training.carve(data.train, options, seed=3)
    assert (len(fit), len(val)) == (360, 40)
    assert not set(fit.texts) & set(val.texts)
    pool_share = np.mean(data.train.labels)
    for part in (fit, val):
        assert abs(np.mean(part.labels) - pool_share) < 0.03  # the spam share is kept
    assert training.carve(data.train, options, seed=3) == (fit, val)
    assert training.carve(data.train, options, seed=4)[0].texts != fit.texts


def test_carve_too_small_for_a_validation_split_is_a_user_error():
    with pytest.raises(BenchError, match="every class needs at least 2"):
        training.carve(Split(["a", "b", "c"], [0, 1, 0]), training.TrainingOptions(val_fraction=0.1), seed=0)


def test_best_epoch_rule_early_stopping_and_restore():
    """Accuracy first, then lower loss, then the earlier epoch; the kept epoch's weights come back."""
    import torch
    from transformers import TrainerControl

    model, history, control = torch.nn.Linear(2, 2), training.History(), TrainerControl()
    start = model.weight.detach().clone()
    recorder = training._recorder_class()(model, history, n_labels=2, patience=2, learning_rate=0.1)
    for accuracy, loss in [(0.8, 0.5), (0.9, 0.4), (0.9, 0.3), (0.9, 0.3), (0.85, 0.2)]:
        with torch.no_grad():
            model.weight.add_(1.0)  # epoch e leaves weights start + e
        recorder.add_batch(torch.tensor(0.6), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
        recorder.on_evaluate(None, None, control, metrics={"eval_loss": loss, "eval_accuracy": accuracy})
    assert history.best_epoch == 3  # 0.9 at the lowest loss; epoch 4 ties and the earlier one wins
    assert history.stopped_early and control.should_training_stop  # epochs 4 and 5 brought nothing new
    recorder.restore_best()
    assert torch.allclose(model.weight, start + 3)
    with pytest.raises(training.TrainingDiverged, match="lower learning_rate"):
        recorder.add_batch(torch.tensor(float("nan")), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))


# --- parameter counts against hand counts (real MiniLM, no training) ----------------------------

MINILM_BASE = (  # BERT, hidden 384, 6 layers, intermediate 1536, vocab 30522, 512 positions, 2 token types
    (30522 + 512 + 2) * 384 + 2 * 384  # embeddings and their LayerNorm
    + 6 * (4 * (384 * 384 + 384) + 2 * 2 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384))  # blocks
    + 384 * 384 + 384  # pooler
)
HEAD = 384 * 2 + 2  # classifier for K = 2


POOLER = 384 * 384 + 384


@pytest.mark.parametrize("full_head, head", [(False, HEAD), (True, POOLER + HEAD)])
def test_lora_counts_adapters_and_head_once(full_head, head):
    strategy = _build("lora", r=4, target_modules=("query",), full_head=full_head)
    _, model = load_classifier(MINILM, 2)
    strategy.model = strategy.prepare(model)
    adapters = 6 * (4 * 384 + 384 * 4)  # A (4 x 384) and B (384 x 4) on each query projection
    counts = strategy.parameter_counts()
    assert counts.trainable == adapters + head  # 19,202 with the classifier alone
    assert counts.total == MINILM_BASE + adapters + HEAD  # PEFT's frozen original copies left out


def test_partial_and_full_counts():
    _, model = load_classifier(MINILM, 2)
    partial = _build("partial", layers=2)
    partial.model = partial.prepare(model)
    block = 4 * (384 * 384 + 384) + 2 * 2 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384)
    assert partial.parameter_counts().trainable == 2 * block + POOLER + HEAD  # 2 blocks, pooler, classifier
    assert partial.parameter_counts().total == MINILM_BASE + HEAD
    full = _build("full")
    full.model = full.prepare(model)
    assert full.parameter_counts().trainable == full.parameter_counts().total == MINILM_BASE + HEAD


def test_attention_dropout_is_off_by_default_for_every_fine_tune():
    import torch

    from bench.report.table import changed_options

    assert [STRATEGIES.get(s).Config().attention_dropout for s in ("full", "lora", "partial")] == [0.0, 0.0, 0.0]
    for wanted, expected in ((0.0, 0.0), (0.25, 0.25), (None, 0.1)):  # None: MiniLM's own 0.1
        _, model = load_classifier(MINILM, 2, attention_dropout=wanted)
        assert model.config.attention_probs_dropout_prob == expected
        [p] = {m.dropout.p for m in model.modules() if type(m).__name__ == "BertSelfAttention"}
        assert p == expected and {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} >= {0.1}
    # a record made before the option existed ran with the model's own value, as one that holds None: an earlier
    # recipe, a row of its own; today's default is no change
    assert changed_options("full", {"learning_rate": 5e-5}) == "attention_dropout=None"
    assert changed_options("full", {"learning_rate": 5e-5, "attention_dropout": None}) == "attention_dropout=None"
    assert changed_options("full", {"learning_rate": 5e-5, "attention_dropout": 0.0}) == ""
    assert changed_options("majority", {}) == ""  # a strategy without such an option
    assert changed_options("lora", {"r": 8}) == "attention_dropout=None"
    assert changed_options("partial", {"layers": 2, "attention_dropout": 0.0}) == ""


def test_model_mismatches_are_user_errors():
    _, model = load_classifier(MINILM, 2)
    with pytest.raises(BenchError, match="partial.layers=6"):
        _build("partial", layers=7).prepare(model)
    with pytest.raises(BenchError, match="lora.target_modules"):
        _build("lora", target_modules=("q_proj_typo",)).prepare(model)


# --- training end to end on tiny real slices ------------------------------------------------------

@pytest.mark.slow
def test_lora_fit_saves_a_safetensors_adapter_and_curves(spam, tmp_path):
    from safetensors import safe_open

    from bench.contracts import ArtifactInfo, TrainingInfo

    card, data = spam
    strategy = _build("lora", artifact_dir=tmp_path / "artifact", r=4, target_modules=("query",), **TINY)
    strategy.fit(_slice(data, 16), card)

    info = strategy.extra_info()
    trained, artifact = info["training"], info["artifact"]
    assert isinstance(trained, TrainingInfo) and isinstance(artifact, ArtifactInfo)  # the typed record's own parts
    assert [row.epoch for row in trained.curves] == [1] and trained.best_epoch == 1
    assert 0 < trained.curves[0].train_loss and 0 <= trained.curves[0].val_accuracy <= 1
    assert (trained.n_train, trained.n_val) == (24, 8)

    adapter = tmp_path / "artifact" / "adapter_model.safetensors"
    assert artifact.path == str(tmp_path / "artifact") and adapter.is_file()
    assert artifact.weights_bytes == adapter.stat().st_size
    with safe_open(str(adapter), framework="pt") as f:  # a real safetensors file: adapters and the head
        keys = list(f.keys())
    assert sum("lora_A" in k for k in keys) == 6
    assert any("classifier" in k for k in keys) and any("pooler" in k for k in keys)

    proba = strategy.predict_proba(data.test.texts[:10])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(axis=1), 1.0)


@pytest.mark.slow
def test_same_seed_same_predictions(spam):
    card, data = spam
    texts = data.test.texts[:24]
    runs = []
    for _ in range(2):
        strategy = _build("partial", seed=5, layers=1, **TINY)
        strategy.fit(_slice(data, 12), card)
        runs.append(strategy.predict_proba(texts))
    assert np.array_equal(runs[0], runs[1])


def test_a_fine_tune_without_a_validation_split_trains_every_epoch_on_every_label(spam):
    # the tuner's refit of a trained strategy runs val_fraction=0: every label trains, the last epoch is kept
    card, data = spam
    strategy = _build("partial", layers=1, **{**TINY, "epochs": 2, "val_fraction": 0.0})
    strategy.fit(_slice(data, 8), card)
    info = strategy.extra_info()["training"]
    assert (info.n_train, info.n_val, info.epochs_run, info.best_epoch) == (16, 0, 2, 2)
    assert all(row.val_accuracy is None for row in info.curves)
    proba = strategy.predict_proba(data.test.texts[:4])
    assert proba.shape == (4, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_a_bf16_fit_on_a_cpu_computes_attention_in_fp32_while_training_and_keeps_the_padding_masked(spam,
                                                                                                   monkeypatch):
    # bench.models.attention: attention's backward is faster in float32 on a CPU, so a bf16 fit computes attention
    # in float32 while gradients are recorded and in bf16 for validation and prediction, padding masked throughout
    import torch

    from bench.models.attention import FP32_FOR_GRADIENTS

    card, data = spam
    seen = []  # (dtype, gradients recorded, masked) of every attention call
    kernel = torch.nn.functional.scaled_dot_product_attention

    def watched(query, key, value, attn_mask=None, **kwargs):
        seen.append((query.dtype, torch.is_grad_enabled(), attn_mask is not None))
        return kernel(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", watched)
    strategy = STRATEGIES.get("full")(STRATEGIES.get("full").Config(**TINY), MINILM,
                                      RunContext(device="cpu", seed=0, precision="bf16"))
    strategy.fit(_slice(data, 8), card)
    training_calls, validation_calls = ({call for call in seen if call[1] is grad} for grad in (True, False))
    assert {dtype for dtype, _, _ in training_calls} == {torch.float32}  # the padded batches masked:
    assert (torch.float32, True, True) in training_calls and (torch.bfloat16, False, True) in validation_calls
    assert {dtype for dtype, _, _ in validation_calls} == {torch.bfloat16}
    assert strategy.model.config._attn_implementation == FP32_FOR_GRADIENTS
    texts = sorted(data.test.texts[:6], key=len)  # from 4 to 30+ tokens: the short ones are padded
    together = strategy.predict_proba(texts)
    alone = np.vstack([strategy.predict_proba([text]) for text in texts])
    assert abs(together - alone).max() < 0.02  # bf16 noise; a text reading its padding moves far more


def test_a_validation_split_given_from_outside_chooses_the_epoch_and_all_of_train_trains(spam):
    # the tuner hands a trained strategy its held-out fold this way (bench.run.tuning, protocol 2)
    card, data = spam
    train, held_out = _slice(data, 8), _slice(data, 5, offset=8)
    strategy = _build("partial", layers=1, **{**TINY, "epochs": 2})
    strategy.fit(train, card, validation=held_out)
    info = strategy.extra_info()["training"]
    assert (info.n_train, info.n_val, info.epochs_run) == (16, 10, 2)  # val_fraction=0.25 carved nothing
    kept = info.curves[info.best_epoch - 1].val_accuracy
    predicted = np.argmax(strategy.predict_proba(held_out.texts), axis=1)
    assert kept == pytest.approx(np.mean(predicted == np.array(held_out.labels)))  # the kept epoch's weights


def test_stop_after_ends_a_run_where_the_longer_schedule_was_and_not_where_a_shorter_one_ends(spam):
    # the tuner's refit replays its chosen trial this way (bench.run.tuning, protocol 3)
    card, data = spam
    train, runs = _slice(data, 8), {}
    for name, options in {"stopped": {"epochs": 4, "stop_after": 3}, "whole": {"epochs": 4},
                          "short": {"epochs": 3}}.items():
        strategy = _build("partial", layers=1, **{**TINY, "val_fraction": 0.0, "warmup_ratio": 0.3, **options})
        strategy.fit(train, card)
        runs[name] = strategy.extra_info()["training"]
    stopped, whole, short = runs["stopped"], runs["whole"], runs["short"]
    assert (stopped.epochs_run, stopped.epochs_planned, stopped.best_epoch, stopped.stopped_early) == (3, 4, 3, False)
    assert [r.train_loss for r in stopped.curves] == [r.train_loss for r in whole.curves[:3]]  # the same steps
    assert [r.train_loss for r in stopped.curves] != [r.train_loss for r in short.curves]  # not a squeezed schedule


@pytest.mark.slow
def test_exploding_loss_fails_the_cell_with_a_reason(tmp_path):
    from bench.run.grid import Cell
    from bench.run.plan import plan

    options = {**TINY, "max_train_examples": 40, "learning_rate": 1e30}
    [planned] = plan([Cell("spam", "full", MINILM, 0, None, options, None, "cpu")], tmp_path / "results")
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, "-m", "bench.run.worker", str(out)], input=json.dumps(planned.job), text=True,
                   capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    assert result["status"] == "failed"
    assert result["error"].startswith("TrainingDiverged:") and "lower learning_rate" in result["error"]


@pytest.mark.slow
def test_head_only_encodes_each_text_once_and_keeps_curves(spam, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_EMBEDDING_CACHE", str(tmp_path / "embeddings"))
    card, data = spam
    train = _slice(data, 16)
    runs = []
    for _ in range(2):  # the second strategy finds every vector in the on-disk cache
        strategy = _build("head-only", epochs=3, min_steps=0, val_fraction=0.25)
        encoded = []
        real_encode = strategy.encoder.encode
        strategy.encoder.encode = lambda texts, **kw: encoded.extend(texts) or real_encode(texts, **kw)
        strategy.fit(train, card)
        in_fit = list(encoded)
        runs.append((in_fit, encoded, strategy.predict_proba(data.test.texts[:20])))
        strategy.encoder.encode = real_encode
    assert sorted(runs[0][0]) == sorted(train.texts)  # once each, not once per epoch
    assert runs[1][1] == []  # the second time, training and test texts alike come from the cache
    assert np.array_equal(runs[0][2], runs[1][2])
    info = strategy.extra_info()
    assert [row.epoch for row in info["training"].curves] == [1, 2, 3]
    assert info["artifact"].files == ("head.safetensors",) and info["artifact"].path is None
    assert strategy.parameter_counts().trainable == HEAD


@pytest.mark.slow
def test_head_only_defaults_fit_what_scikit_learn_fits_on_the_same_embeddings(tmp_path, monkeypatch):
    """The head is scikit-learn's logistic regression with its C, fitted to the end: on 32 e-mails per class
    (spam-email, where a head whose epoch was chosen on a held-out tenth once stayed near-untrained, below the
    majority guess) its test predictions agree with LogisticRegression(C=1) on the same embeddings."""
    from sklearn.linear_model import LogisticRegression

    from bench.data.loading import load_task
    from bench.data.sampling import budget_sample

    monkeypatch.setenv("BENCH_EMBEDDING_CACHE", str(tmp_path / "embeddings"))
    card = TASKS.get("spam-email")
    data = load_task(card)
    train = budget_sample(data.train, 32, 0)
    every = range(0, len(data.test), max(1, len(data.test) // 200))  # the split is ordered by label
    test_texts, test_labels = [data.test.texts[i] for i in every], np.asarray([data.test.labels[i] for i in every])
    strategy = _build("head-only")
    strategy.fit(train, card)
    assert strategy.extra_info()["training"].n_val == 0  # every label trains
    ours = strategy.predict_proba(test_texts).argmax(axis=1)
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(strategy._encode(train.texts).numpy(), train.labels)
    theirs = reference.predict(strategy._encode(test_texts).numpy())
    assert np.mean(ours == theirs) >= 0.95
    majority = max(np.mean(test_labels == y) for y in (0, 1))
    assert np.mean(ours == test_labels) > majority + 0.1


@pytest.mark.slow
def test_lora_on_the_llm_as_a_sequence_classifier(spam, tmp_path):
    """SmolLM2 (a decoder) as a classifier: pad token set, adapters and head counted by hand, padding inert."""
    from dataclasses import replace

    from bench.models.local import use_offline_hub

    use_offline_hub()
    card, data = spam
    cls = STRATEGIES.get("lora")
    strategy = cls(cls.Config(r=2, target_modules=("query", "value"), **TINY), "SmolLM2-135M-Instruct",
                   RunContext(artifact_dir=tmp_path / "artifact"))
    strategy.fit(_slice(data, 6), replace(card, max_tokens=32))

    config = strategy.model.config
    assert strategy.tokenizer.pad_token_id is not None and config.pad_token_id == strategy.tokenizer.pad_token_id
    h, layers = config.hidden_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (h // config.num_attention_heads)
    assert (h, layers, kv) == (576, 30, 192)  # SmolLM2-135M: grouped-query attention, 3 key/value heads
    adapters = layers * ((2 * h + h * 2) + (2 * h + kv * 2))  # r=2 on q_proj (576 -> 576) and v_proj (576 -> 192)
    head = h + h * 2  # the final norm, and `score` (no bias) reading the last non-padding token
    assert strategy.parameter_counts().trainable == adapters + head  # 116,928

    by_length = sorted(data.test.texts, key=len)
    texts = [by_length[i] for i in (10, 300, 600, 900, 1020)]
    batched = strategy.predict_proba(texts)  # one padded batch
    alone = np.vstack([strategy.predict_proba([t]) for t in texts])  # no padding at all
    assert np.allclose(batched, alone, atol=1e-4), np.abs(batched - alone).max()
