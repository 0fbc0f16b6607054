"""Transformer questions: KV-cache memory, activation-memory scaling of the attention and MLP
blocks, the cross-entropy of a one-layer decoder under teacher forcing, and what an output
position of an "arithmetic transformer" can see under a mask and (permuted) positions."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Annotated, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from examforge.drawing import draw_until, matrix_dims
from examforge.bank.attention import (
    FloatMatrix, Matrix, Symbol, check_symbol, mat_tex, np_attention, num_tex, sym_tex, vec_tex,
)
from examforge.figures import Axes, Bars, Curve
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import Latex, fmt
from examforge.solvers import clean
from examforge.solvers.attention import class_distribution, decoder_loss, visible_inputs
from examforge.solvers.transformer import block_activations, kv_cache

# == transformer.kv_cache =====================================================================

_UNITS = ((2 ** 40, "TiB"), (2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"))
_DTYPE_NAMES = {1: "int8", 2: "fp16", 4: "fp32", 8: "fp64"}


def human_bytes(n: int) -> str:
    """The largest binary unit giving at least 1: 4294967296 -> '4 GiB', 1536 -> '1.5 KiB'."""
    for size, unit in _UNITS:
        if n >= size:
            return f"{fmt(n / size)} {unit}"
    return f"{n} bytes"


class KVCacheParams(ParamsModel):
    layers: Annotated[int, Field(ge=1, le=256)]
    heads: Annotated[int, Field(ge=1, le=256)]  # query heads
    head_dim: Annotated[int, Field(ge=1, le=1024)]
    batch: Annotated[int, Field(ge=1, le=1024)]
    seq_len: Annotated[int, Field(ge=1, le=1_048_576)]
    bytes_per_elem: Literal[1, 2, 4, 8]
    kv_heads: Optional[Annotated[int, Field(ge=1, le=256)]] = None  # grouped-query attention

    @model_validator(mode="after")
    def _groups(self):
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(f"kv_heads {self.kv_heads} must divide heads {self.heads} (grouped-query attention)")
        return self

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def grouped(self) -> bool:
        return self.kv_heads is not None and self.kv_heads != self.heads

    @property
    def dtype_name(self) -> str:
        return _DTYPE_NAMES[self.bytes_per_elem]


class Factor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str  # LaTeX
    name: str
    value: int
    running: int  # the product so far


class KVCacheAnswer(AnswerModel):
    bytes: int
    human: str  # e.g. "4 GiB"
    elements: int
    per_layer_bytes: int
    tensor_shape: tuple[int, int, int, int]
    tensor_elements: int
    kv_heads: int
    factors: tuple[Factor, ...]


def _kv_factors(p: KVCacheParams) -> tuple[Factor, ...]:
    items = [(r"2", "K and V", 2), ("L", "layers", p.layers), (r"h_{kv}" if p.grouped else "h", "K/V heads", p.n_kv_heads),
             (r"d_k", "head dimension", p.head_dim), ("b", "batch", p.batch), ("n", "sequence length", p.seq_len),
             (r"\text{bytes}", "bytes per element", p.bytes_per_elem)]
    out, running = [], 1
    for symbol, name, value in items:
        running *= value
        out.append(Factor(symbol=symbol, name=name, value=value, running=running))
    return tuple(out)


class KVCacheRanges(RangesModel):
    min_layers: Annotated[int, Field(ge=1, le=256)] = 12
    max_layers: Annotated[int, Field(ge=1, le=256)] = 80
    max_batch: Annotated[int, Field(ge=1, le=1024)] = 16
    min_seq_len: Annotated[int, Field(ge=1, le=1_048_576)] = 512
    max_seq_len: Annotated[int, Field(ge=1, le=1_048_576)] = 32768


_LAYERS = (12, 16, 24, 28, 32, 40, 48, 60, 64, 80)
_HEAD_CONFIGS = ((12, 64), (16, 64), (16, 128), (32, 128), (40, 128), (64, 128), (8, 128), (32, 64))
_SEQS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


@register
class KVCache(QuestionType):
    id = "transformer.kv_cache"
    summary = "KV-cache memory of a decoder: 2 x layers x KV heads x head dim x batch x sequence x bytes, with grouped-query attention."
    mirrors = "003 Q27 (L = 32, h = 32, d_k = 128, b = 1, n = 8192, fp16)"
    Params = KVCacheParams
    Answer = KVCacheAnswer
    Ranges = KVCacheRanges
    forms = ("free", "mc", "tf")
    box_height = "3cm"
    seed_example = {"layers": 32, "heads": 32, "head_dim": 128, "batch": 1, "seq_len": 8192, "bytes_per_elem": 2}
    seed_note = (
        "The seed's 4294967296 bytes is right; it calls it \"4 GB\", which is 4 GiB (2^32 bytes, "
        "about 4.29 x 10^9 bytes)."
    )

    def sample(self, rng: np.random.Generator, r: KVCacheRanges) -> KVCacheParams:
        layers = [n for n in _LAYERS if r.min_layers <= n <= r.max_layers] or [r.min_layers]
        seqs = [n for n in _SEQS if r.min_seq_len <= n <= r.max_seq_len] or [r.min_seq_len]
        batches = [b for b in (1, 1, 2, 4, 8, 16, 32, 64) if b <= r.max_batch]
        heads, head_dim = _HEAD_CONFIGS[int(rng.integers(len(_HEAD_CONFIGS)))]
        kv_heads = None
        if rng.random() < 0.4:
            groups = [g for g in (1, 2, 4, 8) if heads % g == 0 and g < heads]
            kv_heads = int(rng.choice(groups))
        return KVCacheParams(
            layers=int(rng.choice(layers)), heads=heads, head_dim=head_dim, batch=int(rng.choice(batches)),
            seq_len=int(rng.choice(seqs)), bytes_per_elem=int(rng.choice([1, 2, 2, 2, 4])), kv_heads=kv_heads,
        )

    def solve(self, p: KVCacheParams) -> KVCacheAnswer:
        c = kv_cache(layers=p.layers, kv_heads=p.n_kv_heads, head_dim=p.head_dim, batch=p.batch,
                     seq_len=p.seq_len, bytes_per_elem=p.bytes_per_elem)
        return KVCacheAnswer(
            bytes=c.bytes, human=human_bytes(c.bytes), elements=c.elements, per_layer_bytes=c.per_layer_bytes,
            tensor_shape=c.tensor_shape, tensor_elements=c.tensor_elements, kv_heads=p.n_kv_heads,
            factors=_kv_factors(p),
        )

    def reference(self, p: KVCacheParams) -> KVCacheAnswer:
        per_tensor = p.batch * p.n_kv_heads * p.seq_len * p.head_dim
        total = 2 * p.layers * per_tensor * p.bytes_per_elem
        return KVCacheAnswer(
            bytes=total, human=human_bytes(total), elements=2 * p.layers * per_tensor,
            per_layer_bytes=2 * per_tensor * p.bytes_per_elem,
            tensor_shape=(p.batch, p.n_kv_heads, p.seq_len, p.head_dim), tensor_elements=per_tensor,
            kv_heads=p.n_kv_heads, factors=_kv_factors(p),
        )

    def answer_latex(self, a: KVCacheAnswer) -> str:
        return f"{a.bytes} bytes = {a.human}"

    def key_texts(self, a: KVCacheAnswer) -> list[str]:
        return [str(a.bytes), a.human]

    def choice_value(self, a: KVCacheAnswer) -> int:
        return a.bytes

    def choice_latex(self, value) -> str:
        return f"{int(value)} bytes ({human_bytes(int(value))})"

    def mistakes(self, p: KVCacheParams) -> dict[str, int]:
        right = 2 * p.layers * p.n_kv_heads * p.head_dim * p.batch * p.seq_len * p.bytes_per_elem
        out = {
            "forgot_k_and_v": right // 2,
            "bits_not_bytes": right * 8,
            "forgot_layers": right // p.layers,
        }
        if p.grouped:
            out = {"used_query_heads": right // p.n_kv_heads * p.heads, **out}
        if p.batch > 1:
            out["forgot_batch"] = right // p.batch
        if p.bytes_per_elem > 1:
            out["forgot_bytes_per_element"] = right // p.bytes_per_elem
        return {k: v for k, v in out.items() if v != right}


# == transformer.activation_memory ================================================================

_DIMS = ("B", "N", "D")


class ActivationParams(ParamsModel):
    block: Literal["attention", "mlp"]
    factor: Annotated[int, Field(ge=2, le=10)]  # B, N or D is multiplied by this
    ratio: Annotated[int, Field(ge=20, le=100_000)]  # N is about this many times B and D
    heads: Literal[1, 2, 4, 8] = 1  # attention heads (attention block only)
    hidden_mult: Literal[1, 2, 4] = 1  # MLP hidden width, as a multiple of D (MLP block only)

    @model_validator(mode="after")
    def _dominant(self):
        if self.ratio < 10 * self.factor:
            raise ValueError(
                f"ratio {self.ratio} must be at least 10 x factor {self.factor}, so that N stays much "
                "larger than D after D is multiplied by the factor"
            )
        return self  # heads and hidden_mult describe both blocks; the asked block's answer uses its own


class TensorLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    shape: str  # symbolic, e.g. "B x N x N"
    count: int  # how many such tensors the block keeps

    @property
    def shape_tex(self) -> Latex:
        return Latex(self.shape.replace(" x ", r" \times "))


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: Literal["B", "N", "D"]
    factor: int  # of the dominant term: the answer
    exact: float  # the whole block's memory ratio at the representative sizes


class ActivationAnswer(AnswerModel):
    factors: tuple[int, int, int]  # when B, N or D is multiplied by `factor`
    dominant: str  # the dominant shape, e.g. "B x N x N"
    tensors: tuple[TensorLine, ...]
    scenarios: tuple[Scenario, Scenario, Scenario]
    sizes: tuple[int, int, int]  # the representative B, N, D the exact ratios use

    rtol = 1e-6

    @property
    def summary_tex(self) -> Latex:
        return Latex(_factors_latex(self.factors))

    @property
    def dominant_tex(self) -> Latex:
        return Latex(self.dominant.replace(" x ", r" \times "))


_BASE = 8  # representative B = D = 8, N = ratio * 8


def _sizes(p: ActivationParams) -> tuple[int, int, int]:
    return (_BASE, _BASE * p.ratio, _BASE)


def _activation_torch(p: ActivationParams) -> ActivationAnswer:
    sizes = _sizes(p)

    def run(b, n, d):
        return block_activations(p.block, batch=b, seq_len=n, dim=d, heads=p.heads, hidden_mult=p.hidden_mult)

    before = run(*sizes)
    total = sum(t.elements for t in before)
    top = max(t.elements for t in before)
    dominant_idx = [k for k, t in enumerate(before) if t.elements == top]
    scenarios = []
    for axis, dim in enumerate(_DIMS):
        scaled = list(sizes)
        scaled[axis] *= p.factor
        after = run(*scaled)
        dom = sum(after[k].elements for k in dominant_idx) / sum(before[k].elements for k in dominant_idx)
        scenarios.append(Scenario(dim=dim, factor=int(round(dom)),
                                  exact=round(sum(t.elements for t in after) / total, 12)))
    names: dict[str, list[str]] = {}
    for t in before:
        names.setdefault(" x ".join(t.dims), []).append(t.name)
    tensors = tuple(TensorLine(name=", ".join(v), shape=k, count=len(v)) for k, v in names.items())
    return ActivationAnswer(
        factors=tuple(s.factor for s in scenarios), dominant=" x ".join(before[dominant_idx[0]].dims),
        tensors=tensors, scenarios=tuple(scenarios), sizes=sizes,
    )


def _stored(p: ActivationParams) -> list[tuple[str, str, int, tuple[int, int, int], int]]:
    """(names, shape, count, exponents of (B, N, D), constant factor per tensor) per kind."""
    if p.block == "attention":
        maps = "B x h x N x N" if p.heads > 1 else "B x N x N"
        return [("input X, Q, K, V, weighted sum PV, output projection", "B x N x D", 6, (1, 1, 1), 1),
                ("scores, attention weights", maps, 2, (1, 2, 0), p.heads)]
    m = p.hidden_mult
    hidden = f"B x N x {m}D" if m > 1 else "B x N x D"
    if m == 1:
        return [("input X, first linear, nonlinearity, second linear", "B x N x D", 4, (1, 1, 1), 1)]
    return [("input X, second linear", "B x N x D", 2, (1, 1, 1), 1),
            ("first linear, nonlinearity", hidden, 2, (1, 1, 1), m)]


def _activation_reference(p: ActivationParams) -> ActivationAnswer:
    """Closed form: memory = sum over stored tensors of count * c * B^a N^b D^c."""
    sizes = _sizes(p)
    terms = _stored(p)

    def size(term, b, n, d):
        e = term[3]
        return term[4] * b ** e[0] * n ** e[1] * d ** e[2]

    def memory(b, n, d):
        return sum(t[2] * size(t, b, n, d) for t in terms)

    dom = max(terms, key=lambda t: size(t, *sizes))
    scenarios = []
    for axis, dim in enumerate(_DIMS):
        scaled = list(sizes)
        scaled[axis] *= p.factor
        scenarios.append(Scenario(dim=dim, factor=p.factor ** dom[3][axis],
                                  exact=round(memory(*scaled) / memory(*sizes), 12)))
    tensors = tuple(TensorLine(name=names, shape=shape, count=c) for names, shape, c, _, _ in terms)
    return ActivationAnswer(
        factors=tuple(s.factor for s in scenarios), dominant=dom[1], tensors=tensors,
        scenarios=tuple(scenarios), sizes=sizes,
    )


def _factors_latex(f) -> str:
    return ", ".join(rf"${d}$: ${v}\times$" for d, v in zip(_DIMS, f))


class ActivationRanges(RangesModel):
    min_factor: Annotated[int, Field(ge=2, le=10)] = 2
    max_factor: Annotated[int, Field(ge=2, le=10)] = 4


@register
class ActivationMemory(QuestionType):
    id = "transformer.activation_memory"
    summary = ("How the forward-pass memory of a transformer's attention or MLP block scales when B, N "
               "or D is multiplied by k, with N much larger than B and D (dominant term).")
    mirrors = "000 Q3 (Transformer Memory: N about 100x B and D; attention 2x/4x/1x, MLP 2x/2x/2x)"
    Params = ActivationParams
    Answer = ActivationAnswer
    answer_format = AnswerFormat("shape", labels=("B: ", " ×, N: ", " ×, D: ", " ×"))
    Ranges = ActivationRanges
    forms = ("free", "mc", "tf")
    box_height = "3cm"
    seed_example = {"block": "attention", "factor": 2, "ratio": 100}
    kind_field = "block"  # one block per slot for the whole class (examforge.fairness)

    def sample(self, rng: np.random.Generator, r: ActivationRanges) -> ActivationParams:
        factor = int(rng.integers(r.min_factor, r.max_factor + 1))
        ratios = [q for q in (50, 64, 100, 128, 200, 256, 500, 1000) if q >= 10 * factor] or [10 * factor]
        block = str(rng.choice(["attention", "mlp"]))
        # both blocks' sizes are drawn for every variant, so pinning the block (kind_field) keeps
        # the other numbers as drawn
        return ActivationParams(
            block=block, factor=factor, ratio=int(rng.choice(ratios)),
            heads=int(rng.choice([1, 2, 4, 8])), hidden_mult=int(rng.choice([1, 2, 4])),
        )

    def solve(self, p: ActivationParams) -> ActivationAnswer:
        return _activation_torch(p)

    def reference(self, p: ActivationParams) -> ActivationAnswer:
        return _activation_reference(p)

    def answer_latex(self, a: ActivationAnswer) -> str:
        return _factors_latex(a.factors)

    part_labels = _DIMS  # the free-response form asks (a) B, (b) N, (c) D multiplied by the factor

    def part_answers(self, a: ActivationAnswer) -> list[str]:
        return [rf"${v}\times$" for v in a.factors]

    def choice_value(self, a: ActivationAnswer):
        return tuple(a.factors)

    def choice_latex(self, value) -> str:
        return _factors_latex(value)

    def mistakes(self, p: ActivationParams) -> dict[str, tuple[int, int, int]]:
        k = p.factor
        if p.block == "attention":
            return {
                "all_linear": (k, k, k),  # counted only the B x N x D activations
                "quadratic_in_d_too": (k, k * k, k * k),
                "linear_in_n": (k, k, 1),
                "map_shared_over_batch": (1, k * k, 1),
            }
        return {
            "counted_weights": (k, k, k * k),  # D x D weight matrices grow quadratically in D
            "attention_like": (k, k * k, 1),
            "quadratic_in_n": (k, k * k, k),
            "ignored_batch": (1, k, k),
        }


# == transformer.teacher_forcing_loss ===============================================================

START, STOP = "<START>", "<STOP>"


class DecoderLossParams(ParamsModel):
    vocab: tuple[Symbol, ...]  # the rows of E, in order
    E: Matrix  # |vocab| x d embedding, also the output layer (logits = R E^T)
    W_q: Matrix
    W_k: Matrix
    W_v: Matrix
    W_o: Matrix  # d_v x d; with 2 heads (2 d_v) x d, or d_v x d for the block each head keeps
    sequence: tuple[Symbol, ...]  # the training example, <START> before the output tokens
    temperature: Literal["zero", "sqrt_d"] = "zero"
    # "same_position": the logits at an output token's own position are scored against it (the
    # seed's convention); "next_token": the logits at position t are scored against token t+1.
    alignment: Literal["same_position", "next_token"] = "next_token"
    reduction: Literal["sum", "mean"] = "sum"
    # attention heads, all identical (the same W_Q, W_K, W_V); their outputs are concatenated
    # (seed 002 Problem 2.4, never drawn: a spec asks for it with overrides: {heads: 2})
    heads: Literal[1, 2] = 1

    @field_validator("vocab", "sequence")
    @classmethod
    def _labels(cls, v):
        for label in v:
            check_symbol(label)
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError(f"vocab {list(self.vocab)} repeats a symbol")
        if START not in self.vocab:
            raise ValueError(f"vocab must contain {START}")
        rows, d = matrix_dims(self.E, "E")
        if rows != len(self.vocab):
            raise ValueError(f"E has {rows} rows but the vocabulary has {len(self.vocab)} symbols")
        for name in ("W_q", "W_k", "W_v"):
            r, c = matrix_dims(getattr(self, name), name)
            if r != d:
                raise ValueError(f"{name} has {r} rows but the embedding dimension is {d}")
            if c > 4:
                raise ValueError(f"{name} has {c} columns; at most 4 is allowed")
        if len(self.W_q[0]) != len(self.W_k[0]):
            raise ValueError("W_q and W_k must have the same number of columns")
        r, c = matrix_dims(self.W_o, "W_o")
        dv = len(self.W_v[0])
        if self.heads == 1 and (r != dv or c != d):
            raise ValueError(f"W_o is {r}x{c} but must be {dv}x{d} (d_v x d)")
        if self.heads > 1 and (r not in (dv, self.heads * dv) or c != d):
            raise ValueError(
                f"W_o is {r}x{c} but with {self.heads} heads must be {self.heads * dv}x{d} (the concatenated "
                f"heads x d) or {dv}x{d} (one d_v x d block, the same for every head)"
            )
        unknown = [s for s in self.sequence if s not in self.vocab]
        if unknown:
            raise ValueError(f"sequence uses symbols not in the vocabulary: {unknown}")
        if not 3 <= len(self.sequence) <= 10:
            raise ValueError(f"sequence has {len(self.sequence)} tokens; use 3 to 10")
        if self.sequence.count(START) != 1 or self.sequence[-1] == START:
            raise ValueError(f"sequence must contain {START} exactly once, followed by the output tokens")
        return self

    # -- for the solver and the templates ----------------------------------------------------
    @property
    def start(self) -> int:
        return self.sequence.index(START)

    @property
    def ids(self) -> list[int]:
        return [self.vocab.index(s) for s in self.sequence]

    @property
    def scored(self) -> list[tuple[int, int]]:
        """(row of the logits, index of the target token in the sequence), 0-based."""
        targets = range(self.start + 1, len(self.sequence))
        shift = 1 if self.alignment == "next_token" else 0
        return [(t - shift, t) for t in targets]

    @property
    def outputs(self) -> list[Latex]:
        return [sym_tex(s) for s in self.sequence[self.start + 1:]]

    @property
    def labels(self) -> list[Latex]:
        return [sym_tex(s) for s in self.sequence]

    @property
    def vocab_labels(self) -> list[Latex]:
        return [sym_tex(s) for s in self.vocab]

    @property
    def shared_weights(self) -> bool:
        return self.W_q == self.W_k == self.W_v

    @property
    def W_out(self) -> tuple:
        """The output projection of the concatenated heads: W_o, or W_o once per head stacked
        when W_o is one head's d_v x d block."""
        if self.heads > 1 and len(self.W_o) == len(self.W_v[0]):
            return tuple(self.W_o) * self.heads
        return tuple(self.W_o)

    def mat(self, name: str) -> Latex:
        return mat_tex(getattr(self, name))


class ScoredRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int  # 1-based position whose logits are used
    target: str  # the target symbol
    logits: tuple[float, ...]
    prob: float
    nll: float

    @property
    def logits_tex(self) -> Latex:
        return vec_tex(self.logits)

    @property
    def target_tex(self) -> Latex:
        return sym_tex(self.target)


class DecoderLossAnswer(AnswerModel):
    loss: float
    attention: FloatMatrix
    X: FloatMatrix
    Q: FloatMatrix
    K: FloatMatrix
    V: FloatMatrix
    scores: FloatMatrix
    Z: FloatMatrix
    R: FloatMatrix
    logits: FloatMatrix
    rows: tuple[ScoredRow, ...]
    heads: int = 1
    Z_concat: FloatMatrix = ()  # with several heads: their outputs side by side, n x (heads d_v)

    rtol = 1e-9
    grading_tol = 0.001

    def mat(self, name: str) -> Latex:
        return mat_tex(getattr(self, name))

    @property
    def KT(self) -> Latex:
        return mat_tex(list(zip(*self.K)))


def _tup(rows) -> tuple:
    return tuple(tuple(r) for r in rows)


def _decoder_torch(p: DecoderLossParams) -> DecoderLossAnswer:
    scored = p.scored
    res = decoder_loss(p.E, p.W_q, p.W_k, p.W_v, p.W_out, p.ids, rows=[r for r, _ in scored],
                       targets=[p.ids[t] for _, t in scored], temperature=p.temperature, reduction=p.reduction,
                       heads=p.heads)
    att = res.attention
    rows = tuple(
        ScoredRow(row=r + 1, target=p.sequence[t], logits=tuple(res.logits[r]), prob=res.target_probs[k], nll=res.nll[k])
        for k, (r, t) in enumerate(scored)
    )
    return DecoderLossAnswer(
        loss=res.loss, attention=_tup(att.weights), X=_tup(res.X), Q=_tup(att.Q), K=_tup(att.K), V=_tup(att.V),
        scores=_tup(att.scores), Z=_tup(att.output), R=_tup(res.R), logits=_tup(res.logits), rows=rows,
        heads=p.heads, Z_concat=_tup(list(r) * p.heads for r in att.output) if p.heads > 1 else (),
    )


def _decoder_reference(
    p: DecoderLossParams, *, causal: bool = True, ties: str = "share", scored=None, reduction=None,
    log_base: float = math.e, heads_used: int | None = None,
) -> DecoderLossAnswer:
    """The numpy/pure-Python reference; its keywords are the wrong paths of the mistakes
    (`heads_used` 1 with two heads keeps only the first head's block of W_O)."""
    scored = p.scored if scored is None else scored
    reduction = p.reduction if reduction is None else reduction
    E = np.array(p.E, dtype=float)
    X = E[p.ids]
    Q, K, V, S, _, P, _ = np_attention(X, p.W_q, p.W_k, p.W_v, causal=causal, temperature=p.temperature, ties=ties)
    Z = P @ V
    used = p.heads if heads_used is None else heads_used
    Z_concat = np.concatenate([Z] * used, axis=1)  # identical heads, side by side
    R = Z_concat @ np.array(p.W_out, dtype=float)[: used * Z.shape[1]]
    L = R @ E.T
    rows, total = [], 0.0
    for r, t in scored:
        target = p.ids[t]
        nll = (math.log(sum(math.exp(z) for z in L[r])) - L[r][target]) / math.log(log_base)
        total += nll
        rows.append(ScoredRow(row=r + 1, target=p.sequence[t], logits=tuple(clean(z) for z in L[r]),
                              prob=clean(math.exp(-nll * math.log(log_base))), nll=clean(nll)))
    if reduction == "mean":
        total /= len(scored)
    rounded = lambda m: _tup(clean(np.asarray(m).tolist()))  # noqa: E731
    return DecoderLossAnswer(
        loss=clean(total), attention=rounded(P), X=rounded(X), Q=rounded(Q), K=rounded(K), V=rounded(V),
        scores=rounded(S), Z=rounded(Z), R=rounded(R), logits=rounded(L), rows=tuple(rows),
        heads=p.heads, Z_concat=rounded(Z_concat) if p.heads > 1 else (),
    )


class DecoderLossRanges(RangesModel):
    min_letters: Annotated[int, Field(ge=2, le=4)] = 3
    max_letters: Annotated[int, Field(ge=2, le=4)] = 4
    max_input: Annotated[int, Field(ge=2, le=4)] = 3  # input symbols before <START>



@register
class TeacherForcingLoss(QuestionType):
    id = "transformer.teacher_forcing_loss"
    kind_field = "alignment"  # one scoring convention per slot for the whole class
    summary = ("Cross-entropy of a one-layer decoder under teacher forcing: causal argmax attention, W_O, "
               "logits through the transposed embedding E^T, with the scoring convention stated.")
    mirrors = ("002 Problem 2.3 (Geoff's dedup-and-sort transformer, loss on A D <STOP> = 4.2114) and 2.4 "
               "(heads: 2, a second identical head)")
    Params = DecoderLossParams
    Answer = DecoderLossAnswer
    options = {"heads: 2": "two identical heads, concatenated, times a (2 d_v) x d W_O (002 Problem 2.4)"}
    Ranges = DecoderLossRanges
    box_height = "4cm"
    seed_example = {
        "vocab": ["A", "B", "C", "D", START, STOP],
        "E": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        "W_q": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "W_k": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "W_v": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "W_o": [[0, 1, 0, 1], [1, 0, 1, 0]],
        "sequence": ["D", "A", "A", START, "A", "D", STOP],
        "temperature": "zero",
        "alignment": "same_position",
        "reduction": "sum",
    }
    seed_note = (
        "The seed's 4.2114 is right for its own convention, which scores the logits at each output "
        "token's own position (z5, z6, z7 for A, D, <STOP>): 2 x 0.7881 + 2.6353 = 4.2114. Its R = ZW_O "
        "is printed with 6 rows (one of the three [3, 0, 3, 0] rows is missing). Under the usual "
        "next-token convention (position t predicts token t+1: <START> predicts A, A predicts D, D "
        "predicts <STOP>) the loss is 1.2211 + 3.7881 + 3.7881 = 8.7973. Its key to Problem 2.4 is wrong: "
        "with a second head identical to the first and W_O the 4x4 identity (heads: 2), the concatenated "
        "output is (z1, z2, z1, z2), not the old R = ZW_O = (z2, z1, z2, z1), so position 5's logits are "
        "(0, 3, 0, 3, 0, 0) and the loss is 3.7881 + 3.7881 + 2.6353 = 10.2114 under the seed's convention, "
        "not the 4.2114 it repeats."
    )

    def sample(self, rng: np.random.Generator, r: DecoderLossRanges) -> DecoderLossParams:
        return draw_until(rng, lambda g: self._draw(g, r), tries=200, type_id=self.id,
                          what="non-degenerate example", ranges=r)

    def _draw(self, rng, r: DecoderLossRanges) -> DecoderLossParams | None:
        k = int(rng.integers(r.min_letters, r.max_letters + 1))
        letters = list("ABCD"[:k])
        vocab = letters + [START, STOP]
        E = [[1 if i == j else 0 for j in range(k)] for i in range(k)] + [[0] * k, [0] * k]
        n_in = int(rng.integers(2, r.max_input + 1))
        given = [str(rng.choice(letters)) for _ in range(n_in)]
        if len(set(given)) == len(given) and rng.random() < 0.7:
            given[-1] = given[0]  # a duplicate to remove, like the seed
        sequence = given + [START] + sorted(set(given)) + [STOP]
        Wq = rng.integers(0, 4, size=(k, 2)).tolist()
        shared = rng.random() < 0.6
        Wk = Wq if shared else rng.integers(0, 4, size=(k, 2)).tolist()
        Wv = Wq if shared else rng.integers(0, 4, size=(k, 2)).tolist()
        Wo = rng.integers(0, 2, size=(2, k)).tolist()
        if not any(map(any, Wo)) or not any(map(any, Wv)):
            return None
        p = DecoderLossParams(
            vocab=tuple(vocab), E=E, W_q=Wq, W_k=Wk, W_v=Wv, W_o=Wo, sequence=tuple(sequence), temperature="zero",
            alignment=str(rng.choice(["next_token", "next_token", "same_position"])),
            reduction="sum" if rng.random() < 0.8 else "mean",
        )
        a = _decoder_reference(p)
        if all(len(set(row.logits)) == 1 for row in a.rows):
            return None  # every scored row uniform: nothing to compute
        return p

    def solve(self, p: DecoderLossParams) -> DecoderLossAnswer:
        return _decoder_torch(p)

    def reference(self, p: DecoderLossParams) -> DecoderLossAnswer:
        return _decoder_reference(p)

    def answer_latex(self, a: DecoderLossAnswer) -> str:
        return f"$L = {fmt(a.loss)}$"

    def choice_value(self, a: DecoderLossAnswer) -> float:
        return round(a.loss, 4)

    def choice_latex(self, value) -> str:
        return f"${fmt(value)}$"

    def mistakes(self, p: DecoderLossParams) -> dict[str, float]:
        other = "same_position" if p.alignment == "next_token" else "next_token"
        wrong = _decoder_reference
        out = {
            f"{other}_convention": wrong(p.model_copy(update={"alignment": other})).loss,
            "no_causal_mask": wrong(p, causal=False).loss,
            "log10_not_ln": wrong(p, log_base=10.0).loss,
        }
        if p.temperature == "zero":
            out["ties_not_shared"] = wrong(p, ties="first").loss
        every = [(t - 1, t) for t in range(1, len(p.sequence))] if p.alignment == "next_token" else [
            (t, t) for t in range(len(p.sequence))]
        out["scored_every_position"] = wrong(p, scored=every).loss
        if p.heads > 1:  # the seed's key: the second head changes nothing
            out["one_head_only"] = wrong(p, heads_used=1).loss
        out["mean_not_sum" if p.reduction == "sum" else "sum_not_mean"] = wrong(
            p, reduction="mean" if p.reduction == "sum" else "sum").loss
        return {k: round(v, 4) for k, v in out.items()}


# == transformer.arithmetic_visibility ==============================================================

_VALUE = {"One": 1, "Two": 2}
CLASSES = 5  # outputs 0..4
Word = Literal["One", "Two", "Plus", "Minus", "Equals"]


def evaluate(tokens) -> int | None:
    """The value of `number (op number)* Equals`, or None when the tokens are not such an
    expression."""
    body = list(tokens)
    if len(body) < 2 or body[-1] != "Equals" or len(body) % 2:
        return None
    body = body[:-1]
    if any(body[i] not in _VALUE for i in range(0, len(body), 2)):
        return None
    if any(body[i] not in ("Plus", "Minus") for i in range(1, len(body), 2)):
        return None
    total = _VALUE[body[0]]
    for i in range(1, len(body), 2):
        total += _VALUE[body[i + 1]] * (1 if body[i] == "Plus" else -1)
    return total


class VisibilityParams(ParamsModel):
    tokens: tuple[Word, ...]  # in input order A, B, C, ...
    positions: tuple[int, ...]  # the position id each input carries
    attention: Literal["unmasked", "causal"]
    query: Annotated[int, Field(ge=0, le=7)]  # which output (0 = A)

    @model_validator(mode="after")
    def _valid(self):
        n = len(self.tokens)
        if n not in (4, 6, 8):
            raise ValueError(f"tokens has {n} entries; an expression plus Equals has 4, 6 or 8")
        if sorted(self.positions) != list(range(n)):
            raise ValueError(f"positions {list(self.positions)} must be a permutation of 0..{n - 1}")
        if self.attention == "causal" and list(self.positions) != list(range(n)):
            raise ValueError("with causal attention the positions must be 0, 1, ..., n-1 (in input order)")
        value = evaluate(self.ordered)
        if value is None:
            raise ValueError(f"the tokens in position order, {' '.join(self.ordered)}, are not an expression "
                             "'number (Plus|Minus number)* Equals'")
        if not 0 <= value < CLASSES:
            raise ValueError(f"the expression's value {value} is not an output class 0..{CLASSES - 1}")
        if self.query >= n:
            raise ValueError(f"query {self.query} is not an input index 0..{n - 1}")
        return self

    @property
    def ordered(self) -> list[str]:
        """The tokens sorted by their position ids: the expression the model reads."""
        return [t for _, t in sorted(zip(self.positions, self.tokens))]

    @property
    def letters(self) -> list[str]:
        return [chr(ord("A") + i) for i in range(len(self.tokens))]

    @property
    def query_letter(self) -> str:
        return chr(ord("A") + self.query)

    @property
    def permuted(self) -> bool:
        return list(self.positions) != list(range(len(self.tokens)))


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[str, ...]  # in position order
    value: int


class VisibilityAnswer(AnswerModel):
    probs: tuple[float, float, float, float, float]
    visible: tuple[str, ...]  # letters of the inputs output `query` can see
    known: tuple[Optional[str], ...]  # per position id: the token if visible, else None
    completions: tuple[Completion, ...]  # the expressions consistent with what is visible
    value: int  # the true value

    @property
    def dist_tex(self) -> Latex:
        return Latex(_dist_latex(self.probs))


def _enumerate(known: list[Optional[str]]) -> list[Completion]:
    """Every well-formed expression of this length whose known slots match and whose value is
    an output class (the training data had only labels 0..4)."""
    n = len(known)
    slots = [("One", "Two") if i % 2 == 0 else ("Plus", "Minus") for i in range(n - 1)]
    out = []
    for body in itertools.product(*slots):
        toks = list(body) + ["Equals"]
        if any(k is not None and k != t for k, t in zip(known, toks)):
            continue
        v = evaluate(toks)
        if v is not None and 0 <= v < CLASSES:
            out.append(Completion(tokens=tuple(toks), value=v))
    return out


def _known(p: VisibilityParams, visible: list[int]) -> list[Optional[str]]:
    known: list[Optional[str]] = [None] * len(p.tokens)
    known[-1] = "Equals"  # every sequence ends with Equals, and the length is known
    for j in visible:
        known[p.positions[j]] = p.tokens[j]
    return known


def _visibility(p: VisibilityParams, visible: list[int], probs: list[float]) -> VisibilityAnswer:
    known = _known(p, visible)
    return VisibilityAnswer(
        probs=tuple(probs), visible=tuple(p.letters[j] for j in visible), known=tuple(known),
        completions=tuple(_enumerate(known)), value=evaluate(p.ordered),
    )


def _prob_axes(p: VisibilityParams, height_cm: float, ymax: float, series=()) -> Axes:
    """Axes for the distribution at the queried output ("Prob C"): classes 0..4, probability 0..1."""
    return Axes(width_cm=6.5, height_cm=height_cm, xmin=-0.6, xmax=4.6, ymin=0, ymax=ymax,
                xticks=(0, 1, 2, 3, 4), yticks=(0, 0.5, 1), title=f"Prob {p.query_letter}", lines="left",
                series=series)


def _dist_latex(probs) -> str:
    parts = [rf"$P({c}) = {num_tex(q)}$" for c, q in enumerate(probs) if q > 0]
    return ", ".join(parts)


class VisibilityRanges(RangesModel):
    min_tokens: Annotated[int, Field(ge=4, le=8)] = 4
    max_tokens: Annotated[int, Field(ge=4, le=8)] = 6

    @model_validator(mode="after")
    def _ordered(self):
        if not [n for n in (4, 6, 8) if self.min_tokens <= n <= self.max_tokens]:
            raise ValueError(f"no even length 4, 6 or 8 lies in [{self.min_tokens}, {self.max_tokens}]")
        return self


_MAX_COMPLETIONS = 8


@register
class ArithmeticVisibility(QuestionType):
    id = "transformer.arithmetic_visibility"
    summary = ("The 'arithmetic transformer': the output distribution at one position given masked or "
               "unmasked attention and (possibly permuted) position ids; the key draws it as a bar chart.")
    mirrors = "000 Q4 (Transformer Arithmetic; 4.5: One Plus One Minus Two Equals at positions 4 1 2 3 0 5)"
    Params = VisibilityParams
    Answer = VisibilityAnswer
    answer_format = AnswerFormat("choice")  # the options print a distribution by its nonzero terms
    Ranges = VisibilityRanges
    box_height = "1.6cm"
    seed_example = {
        "tokens": ["One", "Plus", "One", "Minus", "Two", "Equals"],
        "positions": [4, 1, 2, 3, 0, 5],
        "attention": "unmasked",
        "query": 1,
    }
    seed_note = (
        "The seed's solution numbers the parts differently from its questions (its Q1 is Prob A and "
        "Q2 Prob F, while 4.1 asks for Prob F and 4.2 for Prob A); both are a peak at 3, so the key is "
        "right either way."
    )

    # -- drawing ---------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, r: VisibilityRanges) -> VisibilityParams:
        lengths = [n for n in (4, 6, 8) if r.min_tokens <= n <= r.max_tokens]
        return draw_until(rng, lambda g: self._draw(g, int(g.choice(lengths))), tries=300, type_id=self.id,
                          what=f"expression with a permutation that matters or at most {_MAX_COMPLETIONS} "
                          "completions", ranges=r)

    def _draw(self, rng, n: int) -> VisibilityParams | None:
        expressions = _enumerate([None] * n)
        expr = list(expressions[int(rng.integers(len(expressions)))].tokens)
        if rng.random() < 0.5:
            positions = list(range(n))
            tokens = expr
            if rng.random() < 0.5:  # permute the numbers among the number slots, like the seed's 4.5
                slots = list(range(0, n - 1, 2))
                perm = list(rng.permutation(slots))
                if perm == slots:
                    return None
                tokens = list(expr)
                positions = list(range(n))
                for src, dst in zip(slots, perm):
                    tokens[dst] = expr[src]
                    positions[dst] = src
                if evaluate(tokens) == evaluate(expr):
                    return None  # the permutation must matter
            p = VisibilityParams(tokens=tuple(tokens), positions=tuple(positions), attention="unmasked",
                                 query=int(rng.integers(n)))
        else:
            p = VisibilityParams(tokens=tuple(expr), positions=tuple(range(n)), attention="causal",
                                 query=int(rng.integers(n)))
            a = self.reference(p)
            if len(a.completions) > _MAX_COMPLETIONS:
                return None
            if len(a.completions) == 1 and rng.random() < 0.5:
                return None  # prefer uncertain outputs for the masked case
        return p

    # -- solving -------------------------------------------------------------------------------
    def solve(self, p: VisibilityParams) -> VisibilityAnswer:
        visible = visible_inputs(len(p.tokens), causal=p.attention == "causal", query=p.query)
        completions = _enumerate(_known(p, visible))
        return _visibility(p, visible, class_distribution([c.value for c in completions], CLASSES))

    def reference(self, p: VisibilityParams) -> VisibilityAnswer:
        n = len(p.tokens)
        visible = list(range(p.query + 1)) if p.attention == "causal" else list(range(n))
        known = _known(p, visible)
        counts = [Fraction(0)] * CLASSES
        free = [i for i in range(n - 1) if known[i] is None]
        total = 0
        for fill in itertools.product(("One", "Two", "Plus", "Minus"), repeat=len(free)):
            toks = list(known)
            toks[-1] = "Equals"
            for i, t in zip(free, fill):
                toks[i] = t
            v = evaluate(toks)
            if v is not None and 0 <= v < CLASSES:
                counts[v] += 1
                total += 1
        probs = [clean(c / total) for c in counts]
        return _visibility(p, visible, probs)

    # -- presentation --------------------------------------------------------------------------
    def sketch_axes(self, p: VisibilityParams) -> Axes:
        """The empty axes the student sketches the distribution on. (The invisible point keeps the
        picture byte for byte as it was drawn when pgfplots needed a plot in every axis.)"""
        return _prob_axes(p, 3.6, 1.05, (Curve(points=((0, 0),), colour=None),))

    def distribution_figure(self, p: VisibilityParams, a: VisibilityAnswer) -> Axes:
        """The distribution as bars, each labelled with its probability. The heights are rounded
        as `fmt` prints them (1/7 stands at 0.1429), as they always were: 0.01pt at most."""
        nonzero = [(c, q) for c, q in enumerate(a.probs) if q > 0]
        bars = Bars(points=tuple((c, float(fmt(q))) for c, q in nonzero),
                    labels=tuple(f"${num_tex(q)}$" for _, q in nonzero),
                    fill="gray!50", stroke="black", bar_pt=14, label_font="\\small")
        return _prob_axes(p, 3.8, 1.25, (bars,))

    def answer_latex(self, a: VisibilityAnswer) -> str:
        return _dist_latex(a.probs)

    def choice_value(self, a: VisibilityAnswer):
        return tuple(a.probs)

    def choice_latex(self, value) -> str:
        return _dist_latex(value)

    def mistakes(self, p: VisibilityParams) -> dict[str, tuple[float, ...]]:
        n = len(p.tokens)
        out: dict[str, tuple[float, ...]] = {}

        def peak(v):
            return tuple(1.0 if c == v else 0.0 for c in range(CLASSES))

        def spread(known):
            values = [c.value for c in _enumerate(known)]
            return tuple(round(values.count(c) / len(values), 12) + 0.0 for c in range(CLASSES)) if values else None

        if p.permuted:
            v = evaluate(p.tokens)
            if v is not None and 0 <= v < CLASSES:
                out["ignored_positions"] = peak(v)  # read the inputs in their physical order
        if p.attention == "causal":
            out["ignored_mask"] = peak(evaluate(p.ordered))
            future = spread(_known(p, list(range(p.query, n))))  # a mask the wrong way round
            if future:
                out["mask_reversed"] = future
            seen = [p.tokens[j] for j in range(p.query + 1) if j < n - 1]
            if seen and seen[-1] in ("Plus", "Minus"):
                seen = seen[:-1]
            v = evaluate(seen + ["Equals"]) if len(seen) % 2 == 1 else None
            if v is not None and 0 <= v < CLASSES:
                out["evaluated_visible_prefix"] = peak(v)  # as if the expression ended there
            nolen = self._any_length(p)
            if nolen:
                out["ignored_sequence_length"] = nolen
        else:
            out["masked_anyway"] = spread(_known(p, list(range(p.query + 1)))) or peak(0)
        out["uniform"] = tuple(1 / CLASSES for _ in range(CLASSES))
        return out

    @staticmethod
    def _any_length(p: VisibilityParams):
        """Completions of every length 4, 6, 8 that fit the visible prefix (as if the position
        encoding did not tell the sequence length)."""
        values = []
        seen = list(p.tokens[: p.query + 1])
        for n in (4, 6, 8):
            if len(seen) > n - 1 and not (len(seen) == n and seen[-1] == "Equals"):
                continue
            known = [None] * n
            for i, t in enumerate(seen[:n]):
                known[i] = t
            values += [c.value for c in _enumerate(known)]
        if not values:
            return None
        return tuple(round(values.count(c) / len(values), 12) + 0.0 for c in range(CLASSES))

    def fallback_mistakes(self, p: VisibilityParams, a: VisibilityAnswer):
        out = {}
        for c in range(CLASSES):
            out[f"peak_at_{c}"] = tuple(1.0 if k == c else 0.0 for k in range(CLASSES))
        return out
