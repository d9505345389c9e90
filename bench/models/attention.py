"""Attention calls chosen for speed on a CPU, each computing what transformers' SDPA attention computes.

1. `scoring_attention`, for the bf16 causal LM that scores prompts, does three
   things transformers' SDPA attention does not:
   - Shared key/value heads. SmolLM2-135M has 9 query heads and 3 key/value
     heads (grouped-query attention). transformers' SDPA attention, given a
     mask (bench always gives one: prompts are padded), copies each key/value
     head three times before it calls torch's fused kernel (`repeat_kv`); only
     unmasked calls let the kernel share the heads itself (`enable_gqa`).
     torch's CPU flash kernel takes the mask and the shared heads together and
     reads each key/value head in place. The label probabilities are the same
     bit for bit; in one process, 48 imdb reviews in bf16, zero-shot took
     4.3 s against 4.7-5.2 s and few-shot (8 shared demonstrations) 10.4-10.6 s
     against 12.9-14.6 s. In float32 the kernel was slower with shared heads
     (31.1 against 29.4 ms on few-shot's shapes), so only bf16 models on a CPU
     use it (bench.models.local); the float32 referee of "bf16-checked" keeps
     transformers' own call.
   - Causal chunks (`causal_chunks`). With a mask, the kernel computes every
     query against every key, the masked half of a causal prompt too. A long
     run of queries is cut into chunks of `CHUNK_ROWS`, and each chunk is given
     only the keys up to the last one any of its queries may see; every query
     still sees exactly the keys it saw, so only rounding changes. It pays
     where the per-text part of the prompt is long beside the shared start
     (rag's retrieved demonstrations); the queries are cut only when that
     leaves out a quarter of the work (`MIN_SAVING`). AMD Zen 5, bf16, one call
     and chunks in turn in one process: rag on 48 imdb reviews 1.13x as fast
     (median of 4 pairs, each pair 1.09-1.17x); rag on 128 spam messages 1.03x
     and zero-shot on 64 imdb reviews 0.98x (short per-text parts: little
     left out); few-shot, after its long shared start, was not cut. rag gave
     the same answers, its probabilities within 0.06 (bf16's own noise;
     "bf16-checked" scores such close calls again in float32, with
     transformers' own call).
   - The mask made once per pass (`additive_mask`). Given a boolean mask,
     torch's kernel turns it into an additive float one (0 or -inf) at every
     call, in each of the 30 layers; the scorer hands it that form, made once
     per forward pass. The probabilities are the same bit for bit; on an
     Intel Xeon with AMX, in one process, bf16, alternating, few-shot on 48
     imdb reviews took 6.96 / 6.66 s against 7.59 / 6.93 s, zero-shot on 256
     spam messages 5.38 / 5.39 s against 5.81 / 5.53 s; rag, whose long
     prompts are cut into chunks (which get slices of the boolean mask, as
     before), 12.23 / 11.67 s against 11.69 / 11.56 s, no gain.
2. `fp32_for_gradients`, for fine-tunes under bf16 autocast on a CPU. On an
   Intel Xeon with AMX, torch's CPU flash-attention backward is slower in bf16
   than in float32 at MiniLM's 32-wide heads, its forward faster (8 texts x
   12 heads x 512 tokens: forward and backward 97 against 78 ms, forward alone
   17 against 25 ms); on an AMD Zen 5 the two took the same time (85.0 against
   83.9 ms forward and backward). Attention runs in float32 while gradients
   are recorded and as it comes otherwise (validation and prediction stay
   bf16). In a real imdb fit on the Xeon the attention kernels went from 2.42
   to 2.02 s and the fit from 8.6 to 8.0 s (48 reviews, one epoch); float32
   is also the more precise of the two.

Each is registered with transformers under its own name together with SDPA's
mask builder: transformers builds no mask at all for an attention name it has
no mask builder for, and padded texts would then read their padding.
"""

from __future__ import annotations

SCORING = "sdpa-scoring"
FP32_FOR_GRADIENTS = "sdpa-fp32-for-gradients"
CHUNK_ROWS = 64  # queries per chunk of `causal_chunks` (32 and 96-192 were no faster on rag's and zero-shot's shapes)
MIN_SAVING = 0.25  # chunk only when that leaves out at least this share of the query-key pairs


def use_scoring_attention(model) -> None:
    """Make `model` (one using transformers' SDPA attention) call `scoring_attention` instead."""
    _use(model, SCORING, scoring_attention)


def use_fp32_for_gradients(model) -> None:
    """Make `model` (one using transformers' SDPA attention) call `fp32_for_gradients` instead."""
    _use(model, FP32_FOR_GRADIENTS, fp32_for_gradients)


def _use(model, name: str, function) -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    config = getattr(model, "config", None)  # None: not a transformers model (head-only's linear head)
    if getattr(config, "_attn_implementation", None) not in ("sdpa", name):
        return  # no attention, eager, or another kernel the user chose: left as it is
    AttentionInterface.register(name, function)
    AttentionMaskInterface.register(name, sdpa_mask)  # without it transformers would build no mask
    model.set_attn_implementation(name)


def scoring_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                      **kwargs):
    """transformers' SDPA attention, with grouped key/value heads shared in the kernel and long query runs cut
    into causal chunks (module docstring); a call with anything else to honour goes to transformers' own."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if (attention_mask is None or query.shape[2] == 1 or kwargs.get("position_bias") is not None
            or kwargs.get("output_attentions") or kwargs.get("softcap") is not None):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)

    def one_call(q, k, v, mask):  # the whole mask, not a chunk's slice of it, goes over in its additive form
        mask = additive_mask(mask, q.dtype) if mask is attention_mask else mask
        return _shared_kv_heads(module, q, k, v, mask, dropout, scaling, **kwargs)

    return causal_chunks(one_call, query, key, value, attention_mask), None


def causal_chunks(attend, query, key, value, mask):
    """`attend(query, key, value, mask)` (output: batch, queries, heads, width) over chunks of the queries,
    each with the keys up to the last one its queries may see; one call when that saves too little."""
    import torch

    queries, keys = query.shape[2], key.shape[2]
    if mask.dtype != torch.bool or mask.shape[-2:] != (queries, keys) or queries <= CHUNK_ROWS:
        return attend(query, key, value, mask)
    spans = _chunk_spans(mask)
    if not spans:
        return attend(query, key, value, mask)
    return torch.cat([attend(query[:, :, a:b], key[:, :, :end], value[:, :, :end], mask[:, :, a:b, :end])
                      for a, b, end in spans], dim=1)


_last_additive: tuple = (None, None, None)  # (weak reference to a boolean mask, dtype, its additive form)


def additive_mask(mask, dtype):
    """A boolean attention mask as the additive one (0 where a key may be seen, -inf where not) in `dtype`,
    which torch's fused kernel would otherwise make of it anew in every call: the same output bit for bit,
    made once per forward pass, since every layer gets the same mask object (a float mask comes back as it
    is). On few-shot's shapes the kernel's own conversion took 1-3 of 10-12 ms per call. Only a pass attended
    in one call uses it: a chunk's slice of the boolean mask is small, and goes over as it is."""
    import weakref

    import torch

    global _last_additive
    if mask.dtype != torch.bool:
        return mask
    cached, cached_dtype, additive = _last_additive
    if cached is not None and cached() is mask and cached_dtype == dtype:
        return additive
    additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))
    _last_additive = (weakref.ref(mask), dtype, additive)
    return additive


_last_plan: tuple = (None, 0, [])  # (weak reference to a mask, CHUNK_ROWS, its spans)


def _chunk_spans(mask) -> list[tuple[int, int, int]]:
    """(first query, end query, end key) per chunk of a boolean (batch, heads or 1, queries, keys) mask; empty
    when a query sees nothing or too little would be left out. Every layer of a forward pass gets the same mask
    object, so the plan is worked out once per pass (1-2 ms on rag's shapes) and kept for the next layers."""
    import weakref

    import torch

    global _last_plan
    cached, rows, spans = _last_plan
    if cached is not None and cached() is mask and rows == CHUNK_ROWS:
        return spans
    queries, keys = mask.shape[-2:]
    seen = mask.any(dim=(0, 1))  # (queries, keys): pairs some text and head of the batch computes
    last = (seen * torch.arange(1, keys + 1, device=seen.device)).amax(dim=1)  # per query: keys up to its last
    bounds = list(range(0, queries, CHUNK_ROWS)) + [queries]
    spans = [(a, b, int(last[a:b].max())) for a, b in zip(bounds, bounds[1:])]
    if min(end for _, _, end in spans) == 0 or (
            sum((b - a) * end for a, b, end in spans) > (1 - MIN_SAVING) * queries * keys):
        spans = []  # a query that sees nothing, or too little left out: one call
    _last_plan = (weakref.ref(mask), CHUNK_ROWS, spans)
    return spans


def _shared_kv_heads(module, query, key, value, mask, dropout, scaling, **kwargs):
    """One kernel call, reading grouped key/value heads in place (`enable_gqa`); a model without grouped heads
    gets transformers' own call. Returns (batch, queries, heads, width)."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if getattr(module, "num_key_value_groups", 1) == 1:
        return sdpa_attention_forward(module, query, key, value, mask, dropout=dropout, scaling=scaling, **kwargs)[0]
    # with a mask transformers passes is_causal=False to the kernel (the mask holds causality): the same here
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout,
                                                           scale=scaling, enable_gqa=True)
    return out.transpose(1, 2).contiguous()


def fp32_for_gradients(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention, in float32 (autocast off) while gradients are recorded, else as it comes."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if not torch.is_grad_enabled() or query.dtype == torch.float32:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast(query.device.type, enabled=False):
        out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                              **kwargs)
    return out.to(query.dtype), weights
