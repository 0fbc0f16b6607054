"""Sizes and costs of transformer pieces, read off real torch objects on the `meta` device:
tensors there have shapes, dtypes and `nbytes` but no storage, so a 4 GiB KV cache costs
nothing to "allocate". Parameter counts come from nn.MultiheadAttention, multiply-adds from
torch's FlopCounterMode; no weights are materialised and no RNG is touched."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from examforge.solvers import DTYPE

META = torch.device("meta")
# bytes per element -> a dtype of that size (only the size matters for the cache)
DTYPES = {1: torch.int8, 2: torch.float16, 4: torch.float32, 8: torch.float64}


# -- KV cache ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KVCache:
    bytes: int
    elements: int  # K and V, all layers
    per_layer_bytes: int
    tensor_shape: tuple[int, int, int, int]  # (batch, kv_heads, seq_len, head_dim), one K or V
    tensor_elements: int
    tensors: int  # how many K/V tensors were allocated (2 per layer)


def kv_cache(
    *, layers: int, kv_heads: int, head_dim: int, batch: int, seq_len: int, bytes_per_elem: int, kv: int = 2
) -> KVCache:
    """Allocate the cache on the meta device, one K and one V tensor (`kv` = 2; 1 is the
    forgot-V mistake) of shape (batch, kv_heads, seq_len, head_dim) per layer, and add up
    their nbytes."""
    try:
        dtype = DTYPES[bytes_per_elem]
    except KeyError:
        raise ValueError(f"bytes_per_elem must be one of {sorted(DTYPES)}, got {bytes_per_elem}") from None
    shape = (batch, kv_heads, seq_len, head_dim)
    cache = [[torch.empty(shape, dtype=dtype, device=META) for _ in range(kv)] for _ in range(layers)]
    per_layer = sum(t.nbytes for t in cache[0])
    total = sum(t.nbytes for layer in cache for t in layer)
    return KVCache(
        bytes=int(total),
        elements=int(sum(t.numel() for layer in cache for t in layer)),
        per_layer_bytes=int(per_layer),
        tensor_shape=shape,
        tensor_elements=int(cache[0][0].numel()),
        tensors=layers * kv,
    )


# -- multi-head attention: parameters and multiply-adds ----------------------------------------------


@dataclass(frozen=True)
class MultiheadCost:
    params: int  # the whole layer: Q, K, V and output projections
    single_head_params: int  # the same layer with one head of dimension d
    projection_params: int  # one d x d projection (with bias if any)
    per_head_projection_params: int  # one head's d x d_k projection (with bias if any)
    score_macs_per_head: int  # Q_h K_h^T
    mix_macs_per_head: int  # P_h V_h
    attention_macs: int  # both, all heads
    single_head_attention_macs: int
    projection_macs: int  # Q, K, V and output projections


@lru_cache(maxsize=4096)  # a class shares most shapes; FlopCounterMode costs a few ms per call
def _attention_macs(d_model: int, heads: int, seq_len: int) -> tuple[int, int, int]:
    """Multiply-adds (FLOPs / 2) of one head's Q K^T and P V and of the whole layer's
    projections, counted by FlopCounterMode on meta tensors."""
    d_k = d_model // heads
    q = torch.empty(1, heads, seq_len, d_k, device=META, dtype=DTYPE)
    p = torch.empty(1, heads, seq_len, seq_len, device=META, dtype=DTYPE)
    one_q = torch.empty(1, 1, seq_len, d_k, device=META, dtype=DTYPE)
    one_p = torch.empty(1, 1, seq_len, seq_len, device=META, dtype=DTYPE)
    x = torch.empty(seq_len, d_model, device=META, dtype=DTYPE)
    w = torch.empty(d_model, d_model, device=META, dtype=DTYPE)
    counts = []
    for fn in (lambda: one_q @ one_q.transpose(-1, -2), lambda: one_p @ one_q,
               lambda: [x @ w for _ in range(4)], lambda: (q @ q.transpose(-1, -2), p @ q)):
        with FlopCounterMode(display=False) as fc:
            fn()
        counts.append(fc.get_total_flops() // 2)
    score, mix, proj, both = counts
    if both != heads * (score + mix):
        raise ArithmeticError(f"multi-head multiply-adds {both} != {heads} x ({score} + {mix})")
    return score, mix, proj


@lru_cache(maxsize=256)
def multihead_cost(*, d_model: int, heads: int, seq_len: int, bias: bool) -> MultiheadCost:
    def n_params(h: int) -> int:
        m = nn.MultiheadAttention(d_model, h, bias=bias, device=META, dtype=DTYPE)
        return sum(p.numel() for p in m.parameters())

    one = nn.Linear(d_model, d_model, bias=bias, device=META, dtype=DTYPE)
    head = nn.Linear(d_model, d_model // heads, bias=bias, device=META, dtype=DTYPE)
    score, mix, proj = _attention_macs(d_model, heads, seq_len)
    s_score, s_mix, _ = _attention_macs(d_model, 1, seq_len)
    return MultiheadCost(
        params=n_params(heads),
        single_head_params=n_params(1),
        projection_params=sum(p.numel() for p in one.parameters()),
        per_head_projection_params=sum(p.numel() for p in head.parameters()),
        score_macs_per_head=score,
        mix_macs_per_head=mix,
        attention_macs=heads * (score + mix),
        single_head_attention_macs=s_score + s_mix,
        projection_macs=proj,
    )


# -- activation memory of one block (seed 000 Q3) ---------------------------------------------------


@dataclass(frozen=True)
class StoredTensor:
    name: str
    shape: tuple[int, ...]
    elements: int
    dims: tuple[str, ...]  # the shape in letters, e.g. ("B", "h", "N", "N")


@lru_cache(maxsize=4096)  # the generators ask for a few representative sizes over and over
def block_activations(
    block: Literal["attention", "mlp"], *, batch: int, seq_len: int, dim: int, heads: int = 1, hidden_mult: int = 1
) -> tuple[StoredTensor, ...]:
    """Run the block's forward pass on meta tensors and record every intermediate it keeps
    for the backward pass. Attention (`heads` heads of width dim/heads): input X, Q, K, V,
    the scores and attention weights of every head, the weighted sum P V and the output
    projection. MLP: input, first linear (width hidden_mult * D), nonlinearity, second linear."""
    B, N, D, h = batch, seq_len, dim, heads
    if D % h:
        raise ValueError(f"dim {D} is not divisible by heads {h}")
    x = torch.empty(B, N, D, device=META, dtype=DTYPE)
    bnd = ("B", "N", "D")
    kept: list[tuple[str, torch.Tensor, tuple[str, ...]]] = [("input X", x, bnd)]
    with torch.no_grad():
        if block == "attention":
            w = torch.empty(D, D, device=META, dtype=DTYPE)
            q, k, v = x @ w, x @ w, x @ w

            def split(t):  # (B, N, D) -> (B, h, N, D/h)
                return t.view(B, N, h, D // h).transpose(1, 2)

            s = split(q) @ split(k).transpose(-1, -2)
            p = s.softmax(dim=-1)
            z = (p @ split(v)).transpose(1, 2).reshape(B, N, D)
            maps = ("B", "h", "N", "N") if h > 1 else ("B", "N", "N")
            kept += [("Q", q, bnd), ("K", k, bnd), ("V", v, bnd), ("scores", s, maps),
                     ("attention weights", p, maps), ("weighted sum PV", z, bnd), ("output projection", z @ w, bnd)]
        elif block == "mlp":
            w1 = torch.empty(D, hidden_mult * D, device=META, dtype=DTYPE)
            w2 = torch.empty(hidden_mult * D, D, device=META, dtype=DTYPE)
            hid = ("B", "N", f"{hidden_mult}D" if hidden_mult > 1 else "D")
            a1 = x @ w1
            # The nonlinearity keeps a tensor of the first linear's shape, whichever it is. Sigmoid has
            # a meta kernel in C++; ReLU's (like clamp's) is a Python reference that imports
            # torch._dynamo when first used: 0.7-1 s of CPU in every build.
            a2 = torch.sigmoid(a1)
            kept += [("first linear", a1, hid), ("nonlinearity", a2, hid), ("second linear", a2 @ w2, bnd)]
        else:
            raise ValueError(f"block must be 'attention' or 'mlp', got {block!r}")
    return tuple(StoredTensor(name, tuple(int(d) for d in t.shape), int(t.numel()), dims) for name, t, dims in kept)


@dataclass(frozen=True)
class AttentionComplexity:
    attention_macs: int  # Q K^T and P V, all heads
    projection_macs: int  # the Q, K, V and output projections
    attention_entries: int  # the heads' n x n attention matrices
    activation_entries: int  # Q, K, V and the output, n x d each


def attention_complexity(*, d_model: int, heads: int, seq_len: int) -> AttentionComplexity:
    """Time and memory of one multi-head self-attention layer on a sequence of `seq_len` tokens:
    multiply-adds counted by FlopCounterMode (as in `multihead_cost`), and the entries of the
    tensors the layer materialises, allocated on the meta device (no memory, no RNG)."""
    score, mix, proj = _attention_macs(d_model, heads, seq_len)
    q = torch.empty(seq_len, d_model, device=META, dtype=DTYPE)
    weights = torch.empty(heads, seq_len, seq_len, device=META, dtype=DTYPE)
    return AttentionComplexity(
        attention_macs=heads * (score + mix),
        projection_macs=proj,
        attention_entries=int(weights.numel()),
        activation_entries=4 * int(q.numel()),  # Q, K, V and the layer's output
    )
