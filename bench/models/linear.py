"""Float32 linear layers through oneDNN on processors where torch's BLAS leaves half the vector width idle.

torch computes a float32 `nn.Linear` on a CPU with its BLAS, Intel's MKL in
the pinned build, which picks its code by processor vendor: on an AMD EPYC
Zen 5 it ran at the rate AVX2 gives (209-219 GFLOP/s on 2 cores), half of
what the processor's AVX-512 units do (475-488 GFLOP/s). The same torch carries
oneDNN, which uses AVX-512 wherever the processor has it; torch sends bf16
products there already, and `torch.ops.mkldnn._linear_pointwise` (the call
torch's own compiler emits for a CPU linear layer) sends a float32 one. On an
AMD EPYC Zen 5 (2 cores) a float32 linear layer ran 1.8-2.2x as fast through
it, for SmolLM2's and MiniLM's shapes with 300 to 2,400 rows; with fewer than
about 64 rows oneDNN's fixed cost ate the gain on most shapes (0.4-1.3x at one
row, bar the 49,152-wide output layer's 2.6x).
Only the summation order changes: outputs moved by about 1e-6 of their size.
Since the cells' processes run MKL's Intel code on such processors
(bench.run.mkl), torch's own call runs about as fast there (472 against 467
GFLOP/s, `benchmarks/peak.py`); the route stays, unchanged, for the
processes that have no C compiler to build that switch with, and so that
every answer stays as it was.

Where: bench.run.device.float32_linear_backend says "onednn" on an AMD
processor with AVX-512 and "blas" elsewhere (Intel's MKL on Intel processors;
AVX2 either way on older AMD ones); `BENCH_FLOAT32_LINEAR=blas` (or `onednn`)
overrides it, and every record's machine provenance says which it was.
`use_onednn_linears(model)` makes a frozen float32 model's linear layers take
that path for calls that record no gradient, outside autocast, with at least
`MIN_ROWS` rows; every other call keeps torch's own. bench.models.local
applies it to the frozen models it loads: the sentence encoder and the
float32 causal LM (the fp32 scorer and the referee of "bf16-checked").
"""

from __future__ import annotations

import torch

from bench.run.device import float32_linear_backend

MIN_ROWS = 64  # fewer rows go to torch's own call (oneDNN's fixed cost is larger than the product)


class OneDnnLinear(torch.nn.Linear):
    """A linear layer whose gradient-free float32 CPU calls of `MIN_ROWS` rows or more go through oneDNN."""

    def forward(self, x):
        if (x.dtype is torch.float32 and x.device.type == "cpu" and self.weight.dtype is torch.float32
                and x.numel() >= MIN_ROWS * x.shape[-1] and not torch.is_autocast_enabled("cpu")
                and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return super().forward(x)


def use_onednn_linears(model) -> int:
    """Route `model`'s float32 linear layers through oneDNN (module docstring) where the backend is "onednn";
    how many layers now do."""
    if float32_linear_backend() != "onednn" or not torch.backends.mkldnn.is_available():
        return 0
    layers = [m for m in model.modules() if type(m) is torch.nn.Linear]
    for layer in layers:
        layer.__class__ = OneDnnLinear
    return len(layers)
