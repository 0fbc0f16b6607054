"""Scaled dot-product self-attention with explicit weights, computed by torch in float64.

`self_attention` is the engine: Q = X W_Q, K = X W_K, V = X W_V, scores S = Q K^T, a causal
mask, then softmax(S / T) row by row (T = sqrt(d_k), a given number, or "zero": the limit
T -> 0+, an argmax in which tied maxima share the weight equally), and Z = P V. Its keyword
knobs (mask offset, normalisation axis, tie rule) exist so that named mistakes are computed by
the same code taking a deliberately wrong path. Every numeric temperature result is checked
against torch.nn.functional.scaled_dot_product_attention, and zero temperature against that
function with a very large scale when the scores are integers.

Also here: the cross-entropy of a one-layer decoder whose logits come from the tied
embedding (seed 002 Problem 2.3), whether self-attention without positional encodings can tell
two positions apart, and which positions an output can see under a mask (seed 000 Q4).
Nothing draws from the global RNG; the only random weights come from a seeded Generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence, Union

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE, clean

Tensor = torch.Tensor
Temperature = Union[Literal["sqrt_d", "zero"], float]
Ties = Literal["share", "first"]
_TIE_TOL = 1e-9


def _py(t: Tensor) -> list:
    """Nested Python floats, cleaned."""
    return clean(t.detach().tolist())


def _t(rows) -> Tensor:
    return torch.tensor(rows, dtype=DTYPE)


def allowed_mask(n: int, *, causal: bool, offset: int = 0) -> Tensor:
    """allowed[i, j] is True when query i may attend to key j: j <= i + offset under a causal
    mask (offset 0 is right; offset 1 lets every token see the next one, a mistake)."""
    if not causal:
        return torch.ones(n, n, dtype=torch.bool)
    i = torch.arange(n).unsqueeze(1)
    j = torch.arange(n).unsqueeze(0)
    return j <= i + offset


def temperature_value(temperature: Temperature, d_k: int) -> float | None:
    """The divisor T, or None for zero temperature (argmax)."""
    if temperature == "zero":
        return None
    if temperature == "sqrt_d":
        return math.sqrt(d_k)
    t = float(temperature)
    if not t > 0:
        raise ValueError(f"temperature must be positive, 'sqrt_d' or 'zero', got {temperature!r}")
    return t


def attention_weights(
    scores: Tensor, allowed: Tensor, *, temperature: float | None, dim: int = -1, ties: Ties = "share"
) -> Tensor:
    """Masked softmax(scores / T) along `dim` (-1: each query's row, the right axis), or for
    T None its zero-temperature limit: weight 1/m on each of the m maximal allowed entries
    (`ties="first"` puts all the weight on the first maximum instead, a mistake)."""
    if temperature is not None:
        return (scores / temperature).masked_fill(~allowed, float("-inf")).softmax(dim=dim)
    masked = scores.masked_fill(~allowed, float("-inf"))
    top = masked.amax(dim=dim, keepdim=True)
    hits = allowed & (masked >= top - _TIE_TOL * (1 + top.abs()))
    if ties == "first":
        first = hits.to(torch.int64).cumsum(dim=dim) == 1
        hits = hits & first
    weights = hits.to(DTYPE)
    return weights / weights.sum(dim=dim, keepdim=True)


@dataclass(frozen=True)
class AttentionResult:
    """Every intermediate of one attention layer, as nested Python floats."""

    Q: list
    K: list
    V: list
    scores: list  # Q K^T, before masking and temperature
    scaled: list | None  # scores / T (None at zero temperature)
    allowed: list  # booleans: may query i attend to key j?
    weights: list  # the attention matrix P, rows sum to 1 (for dim=-1)
    output: list  # Z = P V
    temperature: float | None


def self_attention(
    X,
    W_q,
    W_k,
    W_v,
    *,
    causal: bool,
    temperature: Temperature,
    mask_offset: int = 0,
    dim: int = -1,
    ties: Ties = "share",
) -> AttentionResult:
    """One attention head on the rows of X (no positional encodings, no residual)."""
    with torch.no_grad():
        x, wq, wk, wv = (_t(m) for m in (X, W_q, W_k, W_v))
        q, k, v = x @ wq, x @ wk, x @ wv
        scores = q @ k.T
        n, d_k = scores.shape[0], q.shape[1]
        temp = temperature_value(temperature, d_k)
        allowed = allowed_mask(n, causal=causal, offset=mask_offset)
        weights = attention_weights(scores, allowed, temperature=temp, dim=dim, ties=ties)
        out = weights @ v
        if dim == -1 and mask_offset == 0 and ties == "share":
            _check_with_sdpa(q, k, v, scores, allowed, temp, out)
        return AttentionResult(
            Q=_py(q), K=_py(k), V=_py(v), scores=_py(scores),
            scaled=_py(scores / temp) if temp is not None else None,
            allowed=allowed.tolist(), weights=_py(weights), output=_py(out), temperature=temp,
        )


def _check_with_sdpa(q, k, v, scores, allowed, temp, out) -> None:
    """torch's own scaled_dot_product_attention must give the same output. Zero temperature
    is checked as the limit (scale 60) when all scores are integers, so that every gap
    between a maximum and the rest is at least 1 and exp(-60) vanishes."""
    if temp is None:
        if not torch.equal(scores, scores.round()):
            return
        scale = 60.0
    else:
        scale = 1.0 / temp
    ref = F.scaled_dot_product_attention(
        q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), attn_mask=allowed.unsqueeze(0), scale=scale
    ).squeeze(0)
    if not torch.allclose(ref, out, rtol=1e-9, atol=1e-9):
        raise ArithmeticError(f"self_attention disagrees with scaled_dot_product_attention: {out} vs {ref}")


# -- a one-layer decoder with tied output embedding (seed 002 Problem 2.3) ---------------------------


@dataclass(frozen=True)
class DecoderLossResult:
    attention: AttentionResult
    X: list  # embedding rows of the sequence
    R: list  # Z W_O (with several heads: the heads' outputs concatenated, times W_O)
    logits: list  # R E^T, one row per position
    probs: list  # softmax of each logits row
    target_probs: list  # P(target) at each scored row
    nll: list  # -log P(target) at each scored row
    loss: float


def decoder_loss(
    E,
    W_q,
    W_k,
    W_v,
    W_o,
    ids: Sequence[int],
    *,
    rows: Sequence[int],
    targets: Sequence[int],
    temperature: Temperature,
    reduction: Literal["sum", "mean"] = "sum",
    causal: bool = True,
    ties: Ties = "share",
    log_base: float | None = None,
    heads: int = 1,
) -> DecoderLossResult:
    """X = E[ids]; one causal attention head; R = Z W_O; logits = R E^T; cross-entropy of the
    logits at `rows` against `targets` (token indices), summed or averaged. `log_base` 10
    computes the loss with log10, a mistake. With `heads` > 1, that many identical heads (the
    same W_Q, W_K, W_V) run as one batched multi-head computation, their outputs are
    concatenated (head 1's columns first) and W_O ((heads * d_v) x d) maps the concatenation."""
    emb = _t(E)
    x = emb[torch.tensor(list(ids), dtype=torch.long)]
    att = self_attention(x.tolist(), W_q, W_k, W_v, causal=causal, temperature=temperature, ties=ties)
    with torch.no_grad():
        z = _t(att.output) if heads == 1 else _concatenated_heads(x, W_q, W_k, W_v, heads, causal=causal,
                                                                    temperature=temperature, ties=ties)
        r = z @ _t(W_o)
        logits = r @ emb.T
        idx = torch.tensor(list(rows), dtype=torch.long)
        tgt = torch.tensor(list(targets), dtype=torch.long)
        nll = F.cross_entropy(logits[idx], tgt, reduction="none")
        if log_base is not None:
            nll = nll / math.log(log_base)
        loss = nll.sum() if reduction == "sum" else nll.mean()
        if log_base is None:
            check = F.cross_entropy(logits[idx], tgt, reduction=reduction)
            if not torch.allclose(check, loss, rtol=1e-12, atol=1e-12):
                raise ArithmeticError("decoder_loss: per-row and reduced cross-entropy disagree")
        probs = logits.softmax(dim=-1)
        return DecoderLossResult(
            attention=att, X=_py(x), R=_py(r), logits=_py(logits), probs=_py(probs),
            target_probs=_py(probs[idx, tgt]), nll=_py(nll), loss=clean(loss),
        )


def _concatenated_heads(x: Tensor, W_q, W_k, W_v, heads: int, *, causal: bool, temperature: Temperature,
                        ties: Ties) -> Tensor:
    """`heads` copies of one head as a batched multi-head layer: per-head projections stacked on
    a leading head axis, masked attention over the last axis, outputs concatenated to
    n x (heads * d_v). Numeric temperatures are checked against scaled_dot_product_attention
    over the head axis, as in `self_attention`."""
    wq, wk, wv = (_t(m).unsqueeze(0).expand(heads, -1, -1) for m in (W_q, W_k, W_v))
    q, k, v = (torch.einsum("nd,hdk->hnk", x, w) for w in (wq, wk, wv))
    scores = q @ k.transpose(-1, -2)
    n = x.shape[0]
    temp = temperature_value(temperature, q.shape[-1])
    allowed = allowed_mask(n, causal=causal)
    weights = attention_weights(scores, allowed, temperature=temp, ties=ties)
    out = weights @ v  # heads x n x d_v
    if ties == "share":
        _check_with_sdpa(q, k, v, scores, allowed, temp, out)
    return out.transpose(0, 1).reshape(n, -1)


# -- what self-attention can tell apart (seed 001 Q5) -------------------------------------------------


def attention_outputs_without_positions(
    ids: Sequence[int], *, vocab_size: int, causal: bool = False, width: int = 6, seed: int = 0
) -> Tensor:
    """One softmax attention head over learned-looking token embeddings and no positional
    encodings. The weights come from a seeded Generator (never the global RNG), so they are
    generic: two positions get equal outputs only when attention cannot separate them."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(vocab_size + 1, width, generator=g, dtype=DTYPE)
    wq, wk, wv = (torch.randn(width, width, generator=g, dtype=DTYPE) for _ in range(3))
    with torch.no_grad():
        x = emb[torch.tensor(list(ids), dtype=torch.long)]
        q, k, v = x @ wq, x @ wk, x @ wv
        allowed = allowed_mask(len(ids), causal=causal)
        w = attention_weights(q @ k.T, allowed, temperature=math.sqrt(width))
        return w @ v


def same_attention_output(
    ids: Sequence[int], i: int, j: int, *, vocab_size: int, causal: bool = False
) -> bool:
    """Do positions i and j get the same self-attention output (no positional encodings)?"""
    out = attention_outputs_without_positions(ids, vocab_size=vocab_size, causal=causal)
    return bool(torch.allclose(out[i], out[j], rtol=1e-12, atol=1e-12))


# -- what an output position can see (seed 000 Q4) --------------------------------------------------


def visible_inputs(n: int, *, causal: bool, query: int) -> list[int]:
    """The input indices whose information reaches output `query`: the keys that get nonzero
    weight in softmax attention (uniform scores) under the mask. Stacking blocks does not
    widen this set, since every block uses the same mask."""
    allowed = allowed_mask(n, causal=causal)
    w = attention_weights(torch.zeros(n, n, dtype=DTYPE), allowed, temperature=1.0)
    return [j for j in range(n) if float(w[query, j]) > 0]


def class_distribution(values: Sequence[int], n_classes: int) -> list[float]:
    """The empirical distribution of integer `values` over classes 0..n_classes-1."""
    counts = torch.bincount(torch.tensor(list(values), dtype=torch.long), minlength=n_classes)
    return _py(counts.to(DTYPE) / counts.sum())


# -- the variance of attention scores (why scores are divided by sqrt(d_k)) ------------------------


@dataclass(frozen=True)
class ScoreMoments:
    mean: float  # E[q . k]
    term_variance: float  # Var(q_i k_i) of one coordinate (all coordinates alike here)
    variance: float  # Var(q . k) = sum of the coordinates' variances (independent terms)
    std: float


def dot_product_score_moments(d_k: int, q_std: float, k_std: float) -> ScoreMoments:
    """Mean and variance of q . k for independent q, k in R^{d_k} with i.i.d. N(0, q_std^2) and
    N(0, k_std^2) entries, from the moments of the coordinate distributions (torch.distributions):
    Var(q_i k_i) = E[q_i^2] E[k_i^2] - E[q_i]^2 E[k_i]^2, summed over the d_k independent terms."""
    with torch.no_grad():
        zeros = torch.zeros(d_k, dtype=DTYPE)
        q = torch.distributions.Normal(zeros, torch.full((d_k,), float(q_std), dtype=DTYPE))
        k = torch.distributions.Normal(zeros, torch.full((d_k,), float(k_std), dtype=DTYPE))
        q2 = q.variance + q.mean**2
        k2 = k.variance + k.mean**2
        terms = q2 * k2 - (q.mean * k.mean) ** 2
        mean = (q.mean * k.mean).sum()
        variance = terms.sum()
    return ScoreMoments(clean(mean), clean(terms[0]), clean(variance), clean(variance.sqrt()))
