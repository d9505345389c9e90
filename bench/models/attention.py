"""Attention calls chosen for speed on a CPU, each computing what transformers' SDPA attention computes.

1. `shared_kv_heads`, for the bf16 causal LM that scores prompts. SmolLM2-135M
   has 9 query heads and 3 key/value heads (grouped-query attention).
   transformers' SDPA attention, given a mask (bench always gives one: prompts
   are padded), copies each key/value head three times before it calls torch's
   fused kernel (`repeat_kv`); only unmasked calls let the kernel share the
   heads itself (`enable_gqa`). torch's CPU flash kernel takes the mask and the
   shared heads together and reads each key/value head in place. The label
   probabilities are the same bit for bit; in one process, 48 imdb reviews in
   bf16, zero-shot took 4.3 s against 4.7-5.2 s and few-shot (8 shared
   demonstrations) 10.4-10.6 s against 12.9-14.6 s. In float32 the kernel was
   slower with shared heads (31.1 against 29.4 ms on few-shot's shapes), so
   only bf16 models on a CPU use it (bench.models.local); the float32 referee
   of "bf16-checked" keeps transformers' own call.
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

SHARED_KV_HEADS = "sdpa-shared-kv-heads"
FP32_FOR_GRADIENTS = "sdpa-fp32-for-gradients"


def use_shared_kv_heads(model) -> None:
    """Make `model` (one using transformers' SDPA attention) call `shared_kv_heads` instead."""
    _use(model, SHARED_KV_HEADS, shared_kv_heads)


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


def shared_kv_heads(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                    **kwargs):
    """transformers' SDPA attention, except that a masked call with grouped key/value heads lets torch's kernel
    share the heads (`enable_gqa`) instead of copying them; every other call goes to transformers' own."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    if (groups == 1 or attention_mask is None or query.shape[2] == 1 or kwargs.get("position_bias") is not None
            or kwargs.get("output_attentions") or kwargs.get("softcap") is not None):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    # with a mask transformers passes is_causal=False to the kernel (the mask holds causality): the same here
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                           dropout_p=dropout, scale=scaling, enable_gqa=True)
    return out.transpose(1, 2).contiguous(), None


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
