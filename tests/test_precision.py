"""Precision: bf16 where the hardware computes it, fp32 elsewhere, and a record that says which.

The fine-tunes train under bf16 autocast where the hardware computes bf16
("auto" on a CPU with AVX512-BF16 or AMX, or a recent GPU); there the
language models score prompts in bf16 and score the close calls again in
fp32 ("bf16-checked"), and in bf16 alone under `--precision bf16`. These
tests pin "bf16" or "fp32" where they compute, so they check the same thing
on any CPU (one without bf16 instructions emulates it, slowly).
"""

from __future__ import annotations

import pytest

from conftest import run_bench, sentiment_rows, write_csv


def test_auto_precision_follows_the_hardware_and_the_strategy_and_an_explicit_one_is_kept():
    from bench.run.device import cell_precision, cpu_has_bf16, inference_batch_scale, resolve_precision

    native = "bf16" if cpu_has_bf16() else "fp32"
    assert resolve_precision("auto", "cpu") == native
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert inference_batch_scale("cpu") == 1
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve_precision("fp16", "cpu")
    traits = ("auto", "checked", "requested", "never")
    checked = "bf16-checked" if native == "bf16" else "fp32"
    assert [cell_precision("auto", "cpu", trait) for trait in traits] == [native, checked, "fp32", "fp32"]
    assert [cell_precision("bf16", "cpu", trait) for trait in traits] == ["bf16", "bf16", "bf16", "fp32"]
    assert {cell_precision("fp32", "cpu", trait) for trait in traits} == {"fp32"}


def test_fp32_keys_stay_as_they_were_and_a_bf16_cell_is_a_cell_of_its_own(tmp_path):
    """Records made before precision existed keep their keys; bf16 goes in the key, in fp32 strategies never."""
    from bench.run import records
    from bench.run.device import cpu_has_bf16
    from bench.run.grid import Cell
    from bench.run.plan import plan

    identity = dict(task="t", task_inputs={}, data_fingerprint="f", strategy="s", config={}, model=None, seed=0,
                    budget=None, device="cpu")
    assert "precision" not in records.cell_identity(**identity, precision="fp32")
    assert records.cell_identity(**identity, precision="bf16-checked") == records.cell_identity(**identity)
    assert records.cell_key(records.cell_identity(**identity)) != records.cell_key(
        records.cell_identity(**identity, precision="bf16"))

    write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    card = tmp_path / "card.toml"
    card.write_text('name = "reviews"\npath = "reviews.csv"\n')

    def planned(strategy: str, precision: str):
        [p] = plan([Cell(str(card), strategy, None, 0, None, {}, None, "cpu", precision=precision)], tmp_path / "r")
        return p

    bf16, fp32 = planned("zero-shot", "bf16"), planned("zero-shot", "fp32")
    assert bf16.key != fp32.key
    assert (bf16.job["precision"], bf16.config.precision) == ("bf16", "bf16")
    assert (fp32.job["precision"], fp32.config.precision) == ("fp32", "fp32")
    auto = planned("zero-shot", "auto")  # where the CPU has bf16, prompting is bf16 checked by fp32: fp32's answers,
    assert auto.key == fp32.key  # so fp32's cell
    assert auto.job["precision"] == ("bf16-checked" if cpu_has_bf16() else "fp32") == auto.config.precision
    assert planned("full", "bf16").job["precision"] == "bf16" and planned("full", "fp32").job["precision"] == "fp32"
    for strategy in ("majority", "tfidf", "knn", "head-only"):  # nothing of theirs computes in bf16
        assert planned(strategy, "bf16").key == planned(strategy, "fp32").key
        assert planned(strategy, "bf16").job["precision"] == "fp32"


def test_a_bf16_record_is_a_row_of_its_own_a_checked_one_joins_fp32s_and_the_header_names_them(tmp_path):
    from dataclasses import replace

    from bench.report.table import aggregate, display_name, where_run
    from conftest import make_record

    fp32 = make_record("t", "zero-shot", "prompting", None, 0, 0.80)
    bf16 = make_record("t", "zero-shot", "prompting", None, 0, 0.70)
    bf16 = replace(bf16, key="other", config=replace(bf16.config, precision="bf16"))
    table = aggregate([fp32, bf16])
    assert sorted(display_name(row) for _, row in table.iterrows()) == ["zero-shot", "zero-shot [precision=bf16]"]
    assert list(table.seeds) == [1, 1]  # never averaged together
    assert "precision: bf16, fp32" in where_run([fp32, bf16])[0]

    checked = make_record("t", "zero-shot", "prompting", None, 1, 0.80)  # fp32's answers: fp32's row
    checked = replace(checked, key="third", config=replace(checked.config, precision="bf16-checked"))
    table = aggregate([fp32, checked])
    assert [display_name(row) for _, row in table.iterrows()] == ["zero-shot"] and list(table.seeds) == [2]


def test_a_fine_tune_trains_under_bf16_autocast_on_the_cpu_in_a_bf16_cell():
    import torch
    from transformers import default_data_collator

    from bench.engines import training
    from bench.strategies.head_only import linear_head

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(64, 16, generator=generator)
    labels = (features[:, 0] > 0).long()
    rows = [{"features": f, "labels": int(y)} for f, y in zip(features, labels)]
    for precision, mixed, expected in (("bf16", True, torch.bfloat16), ("fp32", True, torch.float32),
                                       ("bf16", False, torch.float32)):
        head, seen = linear_head(16, 2), set()
        head.linear.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
        options = training.TrainingOptions(epochs=1, min_steps=0, batch_size=8, mixed_precision=mixed)
        training.train(head, rows[:48], rows[48:], options, collator=default_data_collator, n_labels=2,
                       device="cpu", seed=0, group_by_length=False, precision=precision)
        assert seen == {expected}, (precision, mixed)
        assert next(head.parameters()).dtype == torch.float32  # weights and optimiser stay fp32


def test_a_bf16_language_model_computes_its_logits_in_float32():
    """bf16 logits near 15 are rounded to steps of 1/16: close label words would tie exactly."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from bench.models.local import float32_output

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    ids = torch.randint(0, 64, (2, 7))
    with torch.inference_mode():
        hidden = model.model(input_ids=ids).last_hidden_state  # before the change: bf16 norm output
        float32_output(model)
        logits = model(input_ids=ids).logits
    assert logits.dtype == torch.float32
    assert model.get_input_embeddings().weight.dtype == torch.bfloat16  # the body stays bf16
    assert next(model.model.layers.parameters()).dtype == torch.bfloat16
    reference = hidden.float() @ model.get_input_embeddings().weight.float().T  # the tied output weights, in fp32
    assert torch.allclose(logits, reference, atol=0.05)


def test_float32_linear_layers_go_through_onednn_on_amd_processors_with_avx512_only(monkeypatch):
    """MKL keeps to AVX2 on AMD processors (bench.models.linear); elsewhere torch's own BLAS call stays."""
    from bench.errors import BenchError
    from bench.run.device import float32_linear_backend

    monkeypatch.delenv("BENCH_FLOAT32_LINEAR", raising=False)
    zen5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
    assert float32_linear_backend(zen5) == "onednn"
    assert float32_linear_backend(zen5.replace("AuthenticAMD", "GenuineIntel")) == "blas"
    assert float32_linear_backend(zen5.replace(" avx512f avx512_bf16", "")) == "blas"  # a Zen 3: AVX2 either way
    assert float32_linear_backend("") == "blas"
    monkeypatch.setenv("BENCH_FLOAT32_LINEAR", "blas")
    assert float32_linear_backend(zen5) == "blas"
    monkeypatch.setenv("BENCH_FLOAT32_LINEAR", "mkl")
    with pytest.raises(BenchError, match="BENCH_FLOAT32_LINEAR='mkl': use onednn or blas"):
        float32_linear_backend(zen5)


def test_onednn_linears_embed_real_texts_as_torch_does_and_leave_gradients_and_autocast_to_torch(monkeypatch):
    """The sentence encoder through oneDNN: the same vectors to rounding; calls that record gradients, run under
    autocast or have few rows keep torch's own `F.linear`, bit for bit."""
    import copy

    import torch
    import torch.nn.functional as F

    from bench.data.cards import builtin_cards
    from bench.data.loading import resolve
    from bench.models.linear import MIN_ROWS, OneDnnLinear, use_onednn_linears
    from bench.models.local import sentence_encoder

    monkeypatch.setenv("BENCH_FLOAT32_LINEAR", "blas")
    plain = sentence_encoder.__wrapped__("all-MiniLM-L6-v2")  # a fresh copy, not the process's shared one
    assert use_onednn_linears(plain) == 0
    monkeypatch.setenv("BENCH_FLOAT32_LINEAR", "onednn")
    fast = copy.deepcopy(plain)
    linears = sum(type(m) is torch.nn.Linear for m in plain.modules())  # 6 blocks x 6, and BERT's pooler
    assert linears >= 36 and use_onednn_linears(fast) == linears
    texts = list(resolve(next(c for c in builtin_cards() if c.name == "spam"))[1].test.texts[:48])
    expected, got = (m.encode(texts, batch_size=16, convert_to_tensor=True) for m in (plain, fast))
    assert torch.allclose(got, expected, atol=1e-5)  # oneDNN's own summation order: rounding apart, the same

    layer = next(m for m in fast.modules() if isinstance(m, OneDnnLinear))
    x = torch.randn(2, MIN_ROWS, layer.in_features)
    with torch.inference_mode():
        with torch.profiler.profile() as prof:
            fast_out = layer(x)
        assert any("_linear_pointwise" in e.name for e in prof.events())
        assert torch.allclose(fast_out, F.linear(x, layer.weight, layer.bias), atol=1e-5)
        few = x[:1, :MIN_ROWS - 1]
        assert torch.equal(layer(few), F.linear(few, layer.weight, layer.bias))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
    out = layer(x)  # the weights want gradients: torch's call, recorded for backward
    assert out.grad_fn is not None and torch.equal(out, F.linear(x, layer.weight, layer.bias))


def test_the_bf16_scorer_shares_key_value_heads_in_the_kernel_with_the_same_answers_bit_for_bit(monkeypatch):
    """bench.models.attention: SmolLM2's 3 key/value heads read in place by torch's kernel instead of copied for its
    9 query heads; padded batches must keep their masks (a custom attention name without a registered mask
    function gets none from transformers, and padded texts would read their padding)."""
    import numpy as np

    from bench.data.loading import resolve
    from bench.engines.scoring import LabelScorer
    from bench.models import attention
    from bench.registry import TASKS

    monkeypatch.setattr(attention, "CHUNK_ROWS", 10**6)  # one kernel call per layer, as transformers makes
    card, data = resolve(TASKS.get("spam"))
    texts = data.test.texts[:12]  # 12 to 1,000+ characters: every batch is padded
    demos = list(zip(data.train.texts[:4], data.train.labels[:4]))
    scorer = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="bf16")
    scorer.setup(card)
    assert scorer.model.config._attn_implementation == attention.SCORING
    shared = [scorer.classify(texts, calibrate=True), scorer.classify(texts, shared_demos=demos)]
    alone = scorer.classify(texts[:1], calibrate=True)  # no padding at all
    scorer.model.set_attn_implementation("sdpa")  # transformers' own call, copying the heads
    try:
        copied = [scorer.classify(texts, calibrate=True), scorer.classify(texts, shared_demos=demos)]
    finally:
        scorer.model.set_attn_implementation(attention.SCORING)  # the model is shared by the process's scorers
    for a, b in zip(shared, copied):
        assert np.array_equal(a, b)
    assert abs(alone[0] - shared[0][0]).max() < 0.02  # the same text padded in a batch: bf16 noise, not padding


def test_the_bf16_scorer_hands_the_kernel_each_passs_mask_once_made_additive(monkeypatch):
    """bench.models.attention.additive_mask: every layer of a forward pass gets one float mask (0 or -inf) made
    from the boolean one once, instead of the kernel converting the boolean mask in each of the 30 layers; the
    label probabilities are the same bit for bit as with the boolean mask."""
    import numpy as np
    import torch

    from bench.data.loading import resolve
    from bench.engines.scoring import LabelScorer
    from bench.models import attention
    from bench.registry import TASKS

    card, data = resolve(TASKS.get("spam"))
    texts = data.test.texts[:12]
    scorer = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="bf16")
    scorer.setup(card)
    kernel, masks = torch.nn.functional.scaled_dot_product_attention, []

    def recorded(*args, attn_mask=None, **kwargs):
        if attn_mask is not None and attn_mask.shape[-2] > 1:  # a padded batch of prompts, not a one-token step
            masks.append(attn_mask)
        return kernel(*args, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recorded)
    once = scorer.classify(texts, calibrate=True)
    passes = {id(m) for m in masks}
    assert masks and all(m.dtype == torch.bfloat16 for m in masks)
    assert len(masks) == 30 * len(passes)  # one mask per pass, read by each of SmolLM2's 30 layers
    assert set(masks[0].unique().tolist()) == {0.0, float("-inf")}
    monkeypatch.setattr(attention, "additive_mask", lambda mask, dtype: mask)  # the kernel converts it itself
    masks.clear()
    assert np.array_equal(scorer.classify(texts, calibrate=True), once)
    assert masks and all(m.dtype == torch.bool for m in masks)


def _padded_prompt_batch(texts: int, prefix: int, rest: int, padding: list[int]):
    """Queries, keys, values and the boolean mask of a batch scored after a cached shared start (as
    bench.engines.scoring builds it): every text sees the start, then its own tokens up to itself; text i is
    left-padded by padding[i] tokens, which it never sees (a padded position still sees the start)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    query = torch.randn(texts, 9, rest, 64, generator=generator)
    key, value = (torch.randn(texts, 3, prefix + rest, 64, generator=generator) for _ in range(2))
    mask = torch.ones(texts, 1, rest, prefix + rest, dtype=torch.bool)
    causal = torch.ones(rest, rest, dtype=torch.bool).tril()
    for i, pad in enumerate(padding):
        mask[i, 0, :, prefix:] = causal
        mask[i, 0, :, prefix:prefix + pad] = False
    return query, key, value, mask


def test_causal_chunks_give_every_query_the_keys_it_saw_and_leave_out_what_the_mask_hides():
    """bench.models.attention.causal_chunks: a long per-text part after a short shared start is attended chunk
    by chunk, each chunk with the keys up to the last one its queries may see: the same output as one call
    (float32 rounding), over about 60 % of the query-key pairs; a mask without that shape gets one call."""
    import torch
    import torch.nn.functional as F

    from bench.models.attention import CHUNK_ROWS, causal_chunks

    query, key, value, mask = _padded_prompt_batch(texts=3, prefix=40, rest=300, padding=[0, 37, 300])
    calls = []

    def attend(q, k, v, m):
        calls.append((q.shape[2], k.shape[2]))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=True).transpose(1, 2)

    whole = attend(query, key, value, mask)
    calls.clear()
    chunked = causal_chunks(attend, query, key, value, mask)
    assert torch.allclose(chunked, whole, atol=1e-5)
    assert len(calls) == -(-300 // CHUNK_ROWS) and [q for q, _ in calls][:-1] == [CHUNK_ROWS] * (len(calls) - 1)
    assert [k for _, k in calls] == [40 + min(300, (i + 1) * CHUNK_ROWS) for i in range(len(calls))]
    assert sum(q * k for q, k in calls) < 0.65 * 300 * 340
    for unfit in (torch.ones_like(mask),  # every query sees every key (an encoder): nothing to leave out
                  torch.zeros_like(mask, dtype=torch.float32),  # an additive mask: not read
                  mask[:, :, :CHUNK_ROWS, :40 + CHUNK_ROWS]):  # too few queries to cut
        calls.clear()
        q = query[:, :, :unfit.shape[2]]
        k, v = key[:, :, :unfit.shape[3]], value[:, :, :unfit.shape[3]]
        assert torch.equal(causal_chunks(attend, q, k, v, unfit), attend(q, k, v, unfit))
        assert len(calls) == 2  # one call each side


def test_chunked_attention_scores_real_prompts_as_one_call_does(monkeypatch):
    """The scoring attention on SmolLM2 in float32 (where rounding is small enough to compare): rag-like prompts
    (each text's own demonstrations) give the same label probabilities chunked as in one call per layer."""
    import numpy as np

    from bench.data.loading import resolve
    from bench.engines.scoring import LabelScorer
    from bench.models import attention
    from bench.registry import TASKS

    card, data = resolve(TASKS.get("imdb"))
    texts = data.test.texts[:3]
    demos = [list(zip(data.train.texts[i:i + 2], data.train.labels[i:i + 2])) for i in range(3)]
    scorer = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="fp32")
    scorer.setup(card, demo_tokens=96)
    one_call = scorer.classify(texts, demos=demos)  # transformers' own attention
    queries_per_call = []
    chunks = attention.causal_chunks

    def counted_chunks(attend, query, key, value, mask):
        def counted(q, k, v, m):
            queries_per_call.append(q.shape[2])
            return attend(q, k, v, m)
        return chunks(counted, query, key, value, mask)

    monkeypatch.setattr(attention, "causal_chunks", counted_chunks)
    attention.use_scoring_attention(scorer.model)
    try:
        chunked = scorer.classify(texts, demos=demos)
    finally:
        scorer.model.set_attn_implementation("sdpa")  # the model is shared by the process's float32 scorers
    assert np.allclose(chunked, one_call, atol=1e-5)
    assert max(queries_per_call) == attention.CHUNK_ROWS  # the long prompts were cut, none left whole


@pytest.mark.slow
def test_bf16_prompt_scoring_agrees_with_fp32_on_real_messages():
    import torch

    from bench.data.loading import resolve
    from bench.engines.scoring import CHECK_MARGIN, LabelScorer
    from bench.registry import TASKS

    card, data = resolve(TASKS.get("spam"))
    texts = data.test.texts[:40]
    fp32 = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="fp32")
    bf16 = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="bf16")
    assert (fp32.model.dtype, bf16.model.dtype) == (torch.float32, torch.bfloat16)
    assert bf16.model.get_output_embeddings().inner.weight.dtype == torch.float32  # logits in float32
    for scorer in (fp32, bf16):
        scorer.setup(card)
    a, b = fp32.classify(texts, calibrate=True), bf16.classify(texts, calibrate=True)
    # only close calls may move: at most 4 of 40 on an AMD AVX512-BF16 CPU, 7 on an Intel AMX one, each within
    # 0.07 in fp32
    moved = a.argmax(axis=1) != b.argmax(axis=1)
    assert (abs(a[moved, 0] - a[moved, 1]) < 0.1).all()
    assert abs(a - b).max() < 0.2 and moved.mean() <= 0.25  # probabilities; no answer that fp32 was sure of
    assert bf16.summary()["dtype"] == "bfloat16" and fp32.summary()["dtype"] == "float32"

    checked = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="bf16-checked")  # the default where bf16 is native
    checked.setup(card)
    c = checked.classify(texts, calibrate=True)
    assert (c.argmax(axis=1) == a.argmax(axis=1)).all()  # fp32's answers, every one
    check = checked.summary()["check"]
    # the margin: CHECK_MARGIN, or four times the largest shift seen when wider; every text within it is scored
    # twice, and none of those outside it moved
    assert check["margin"] == pytest.approx(max(CHECK_MARGIN, 4 * check["largest_shift"]), abs=1e-3)
    rescored = abs(b[:, 0] - b[:, 1]) < check["margin"]
    assert check["rescored_texts"] == rescored.sum() and moved[~rescored].sum() == 0
    assert check["answers_changed"] == moved.sum() and check["largest_shift"] < check["margin"] / 2
    # rows scored twice are fp32's (up to how batching rounds, ~1e-6), the others bf16's
    assert abs(c[rescored] - a[rescored]).max() < 1e-4 and abs(c[~rescored] - b[~rescored]).max() < 1e-6

    # the float32 copy is loaded only for a close call: texts bf16 is sure of never load it
    sure = [t for t, gap in zip(texts, abs(b[:, 0] - b[:, 1])) if gap > 0.3]
    lean = LabelScorer("SmolLM2-135M-Instruct", "cpu", precision="bf16-checked")
    lean.setup(card)
    assert (lean.classify(sure, calibrate=True).argmax(axis=1) == a[abs(b[:, 0] - b[:, 1]) > 0.3].argmax(axis=1)).all()
    assert lean._referee is None and lean.summary()["check"]["rescored_texts"] == 0 and checked._referee is not None

    # per-text demonstrations (rag's way), calibrated: each close call is scored again with its own demonstrations
    demos = [[(data.train.texts[j], data.train.labels[j]) for j in (2 * i, 2 * i + 1)] for i in range(8)]
    exact, fast = fp32.classify(texts[:8], demos=demos, calibrate=True), checked.classify(texts[:8], demos=demos,
                                                                                          calibrate=True)
    assert (exact.argmax(axis=1) == fast.argmax(axis=1)).all()


@pytest.mark.slow
def test_a_bf16_run_records_its_precision_and_reports_it(tmp_path):
    write_csv(tmp_path / "reviews.csv", sentiment_rows(10))
    (tmp_path / "reviews.toml").write_text('name = "reviews"\npath = "reviews.csv"\n')
    results = tmp_path / "results"
    done = run_bench("run", "--tasks", str(tmp_path / "reviews.toml"), "--strategies", "zero-shot",
                     "--no-baseline", "--precision", "bf16", "--results", str(results))
    assert done.returncode == 0, done.stderr
    from bench.run import store

    [record] = list(store.iter_records(results))
    assert record.ok and record.config.precision == "bf16" and record.extra["prompt"]["dtype"] == "bfloat16"
    board = (results / "LEADERBOARD.md").read_text()
    assert "precision: bf16" in board and "zero-shot [precision=bf16]" in board
    bad = run_bench("run", "--tasks", "spam", "--precision", "fp16", "--results", str(results))
    assert bad.returncode == 2 and "invalid choice: 'fp16'" in bad.stderr
