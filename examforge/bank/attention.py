"""Attention questions: one self-attention head by hand (masks, temperatures, argmax with
shared ties) and multi-head parameter and compute counts."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from examforge.drawing import draw_until, matrix_dims
from examforge.bank._options import params_rng
from examforge.errors import GenerationError
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import Latex, fmt
from examforge.solvers import clean
from examforge.solvers.attention import AttentionResult, self_attention
from examforge.solvers.transformer import attention_complexity, multihead_cost

# -- shared presentation helpers (also used by the transformer questions) --------------------------

_MAX_DEN = 12


@lru_cache(maxsize=1 << 16)  # matrices repeat their entries; Fraction.limit_denominator is slow
def num_tex(v: float) -> Latex:
    """A number as LaTeX: a slashed fraction when it is one with a small denominator (1/7,
    -3/4, as the seeds print them; pdftotext reads them back verbatim), else a short decimal."""
    f = Fraction(v).limit_denominator(_MAX_DEN)
    if f.denominator != 1 and abs(float(f) - v) < 1e-9:
        return Latex(f"{f.numerator}/{f.denominator}")
    return fmt(float(v))


def mat_tex(rows) -> Latex:
    body = r" \\ ".join(" & ".join(num_tex(v) for v in row) for row in rows)
    return Latex(rf"\begin{{bmatrix}} {body} \end{{bmatrix}}")


def vec_tex(row) -> Latex:
    return Latex("(" + ", ".join(num_tex(v) for v in row) + ")")


_SYMBOL_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]{0,7}|<[A-Z]{1,8}>)$")


def sym_tex(label: str) -> Latex:
    """A token label for math mode: <START> as an angle-bracketed name, others upright."""
    check_symbol(label)
    if label.startswith("<"):
        return Latex(rf"\langle\mathrm{{{label[1:-1]}}}\rangle")
    return Latex(rf"\mathrm{{{label}}}")


def check_symbol(label: str) -> str:
    if not _SYMBOL_RE.match(label):
        raise ValueError(f"token label {label!r} must be 1-8 letters/digits (starting with a letter) or <NAME>")
    return label


Symbol = Annotated[str, StringConstraints(min_length=1, max_length=10)]
Entry = Annotated[float, Field(ge=-20, le=20, allow_inf_nan=False)]
Matrix = tuple[tuple[Entry, ...], ...]
FloatMatrix = tuple[tuple[float, ...], ...]


def _tup(rows) -> tuple:
    return tuple(tuple(r) for r in rows)


def _int_matrix(rng: np.random.Generator, shape, lo: int, hi: int) -> tuple[tuple[int, ...], ...]:
    return _tup(rng.integers(lo, hi + 1, size=shape).tolist())


# == attention.self_attention ==================================================================

MAX_TOKENS = 8
MAX_DIM = 6
MAX_HEAD_DIM = 4


class SelfAttentionParams(ParamsModel):
    X: Matrix  # one row per token (n x d)
    W_q: Matrix  # d x d_k
    W_k: Matrix  # d x d_k
    W_v: Matrix  # d x d_v
    causal: bool
    # "sqrt_d": the usual T = sqrt(d_k); "zero": T -> 0+, argmax with ties shared; or a number
    temperature: Union[Literal["sqrt_d", "zero"], Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]]
    tokens: Optional[tuple[Symbol, ...]] = None  # labels of the rows of X, e.g. D A A <START>
    ask_row: Annotated[int, Field(ge=1, le=MAX_TOKENS)] = 1  # the query row multiple choice asks for

    @field_validator("tokens")
    @classmethod
    def _labels(cls, v):
        if v is not None:
            for label in v:
                check_symbol(label)
        return v

    @model_validator(mode="after")
    def _shapes(self):
        n, d = matrix_dims(self.X, "X")
        if n > MAX_TOKENS or d > MAX_DIM:
            raise ValueError(f"X is {n}x{d}; at most {MAX_TOKENS} tokens of dimension {MAX_DIM} keeps it hand-computable")
        shapes = {}
        for name in ("W_q", "W_k", "W_v"):
            rows, cols = matrix_dims(getattr(self, name), name)
            if rows != d:
                raise ValueError(f"{name} has {rows} rows but X has d = {d} columns")
            if cols > MAX_HEAD_DIM:
                raise ValueError(f"{name} has {cols} columns; at most {MAX_HEAD_DIM} is allowed")
            shapes[name] = cols
        if shapes["W_q"] != shapes["W_k"]:
            raise ValueError(f"W_q has {shapes['W_q']} columns but W_k has {shapes['W_k']}; queries and keys need the same d_k")
        if self.tokens is not None and len(self.tokens) != n:
            raise ValueError(f"tokens has {len(self.tokens)} labels but X has {n} rows")
        if self.ask_row > n:
            raise ValueError(f"ask_row {self.ask_row} is larger than the number of tokens {n}")
        return self

    # -- for the templates -------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def d_k(self) -> int:
        return len(self.W_q[0])

    @property
    def labels(self) -> list[Latex]:
        return [sym_tex(t) for t in self.tokens] if self.tokens else []

    @property
    def shared_weights(self) -> bool:
        return self.W_q == self.W_k == self.W_v

    def mat(self, name: str) -> Latex:
        return mat_tex(getattr(self, name))


class AttentionRow(BaseModel):
    """One query's step: the keys it may see, their (scaled) scores, the maxima, its weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # 1-based
    keys: tuple[int, ...]  # allowed key positions, 1-based
    scores: tuple[float, ...]  # over the allowed keys
    scaled: tuple[float, ...]  # scores / T over the allowed keys (= scores at zero temperature)
    top: float  # the maximum score (zero temperature)
    argmax: tuple[int, ...]  # positions holding it, 1-based
    weights: tuple[float, ...]  # the full row of P
    output: tuple[float, ...]  # the row of Z = PV

    @property
    def output_tex(self) -> Latex:
        return vec_tex(self.output)

    @property
    def weights_tex(self) -> Latex:
        return vec_tex(self.weights)

    @property
    def scores_tex(self) -> Latex:
        return vec_tex(self.scores)

    @property
    def scaled_tex(self) -> Latex:
        return vec_tex(self.scaled)


class SelfAttentionAnswer(AnswerModel):
    attention: FloatMatrix  # P (n x n)
    output: FloatMatrix  # Z = P V (n x d_v)
    Q: FloatMatrix
    K: FloatMatrix
    V: FloatMatrix
    scores: FloatMatrix  # Q K^T
    temperature: Optional[float]  # T, None at zero temperature
    rows: tuple[AttentionRow, ...]
    asked_row: tuple[float, ...]

    def mat(self, name: str) -> Latex:
        return mat_tex(getattr(self, name))

    @property
    def KT(self) -> Latex:
        return mat_tex(list(zip(*self.K)))


def _row_steps(res_scores, allowed, weights, outputs, temperature) -> tuple[AttentionRow, ...]:
    rows = []
    for i, (srow, arow, wrow, zrow) in enumerate(zip(res_scores, allowed, weights, outputs)):
        keys = tuple(j + 1 for j, ok in enumerate(arow) if ok)
        sc = tuple(srow[j - 1] for j in keys)
        top = max(sc)
        rows.append(AttentionRow(
            index=i + 1, keys=keys, scores=sc,
            scaled=tuple(round(s / temperature, 12) + 0.0 for s in sc) if temperature else sc,
            top=top, argmax=tuple(j for j, s in zip(keys, sc) if abs(s - top) <= 1e-9 * (1 + abs(top))),
            weights=tuple(wrow), output=tuple(zrow),
        ))
    return tuple(rows)


def _sa_answer(p: SelfAttentionParams, r: AttentionResult) -> SelfAttentionAnswer:
    return SelfAttentionAnswer(
        attention=_tup(r.weights), output=_tup(r.output), Q=_tup(r.Q), K=_tup(r.K), V=_tup(r.V),
        scores=_tup(r.scores), temperature=r.temperature,
        rows=_row_steps(r.scores, r.allowed, r.weights, r.output, r.temperature),
        asked_row=tuple(r.weights[p.ask_row - 1]),
    )


def np_attention(X, W_q, W_k, W_v, *, causal: bool, temperature, offset: int = 0, axis: int = 1, ties: str = "share"):
    """The numpy reference (and the mistakes' wrong paths): plain loops over the rows (axis 1),
    or over the columns (axis 0, a mistake). Returns Q, K, V, S, allowed, P and T."""
    X = np.array(X, dtype=float)
    Q, K, V = X @ np.array(W_q, float), X @ np.array(W_k, float), X @ np.array(W_v, float)
    S = Q @ K.T
    n = len(X)
    allowed = np.array([[(j <= i + offset) if causal else True for j in range(n)] for i in range(n)])
    T = None if temperature == "zero" else (math.sqrt(Q.shape[1]) if temperature == "sqrt_d" else float(temperature))
    P = np.zeros((n, n))
    for line in range(n):
        idx = [(line, j) if axis == 1 else (j, line) for j in range(n)]
        ok = [ij for ij in idx if allowed[ij]]
        vals = np.array([S[ij] for ij in ok])
        if T is None:
            top = vals.max()
            hits = [ij for ij, v in zip(ok, vals) if abs(v - top) <= 1e-9 * (1 + abs(top))]
            if ties == "first":
                hits = hits[:1]
            for ij in hits:
                P[ij] = 1 / len(hits)
        else:
            e = np.exp(vals / T - (vals / T).max())
            for ij, w in zip(ok, e / e.sum()):
                P[ij] = w
    return Q, K, V, S, allowed, P, T


def _np_attention(p: SelfAttentionParams, *, causal=None, temperature=None, offset=0, axis=1, ties="share"):
    return np_attention(
        p.X, p.W_q, p.W_k, p.W_v, causal=p.causal if causal is None else causal,
        temperature=p.temperature if temperature is None else temperature, offset=offset, axis=axis, ties=ties,
    )


class SelfAttentionRanges(RangesModel):
    min_tokens: Annotated[int, Field(ge=2, le=MAX_TOKENS)] = 3
    max_tokens: Annotated[int, Field(ge=2, le=MAX_TOKENS)] = 7
    max_weight: Annotated[int, Field(ge=1, le=5)] = 3  # projection entries for argmax variants


_LETTERS = "ABCDE"


@register
class SelfAttention(QuestionType):
    id = "attention.self_attention"
    summary = ("One self-attention head by hand: Q, K, V, scores, causal mask, softmax with T = sqrt(d_k), "
               "a given T, or zero temperature (argmax, ties shared), attention matrix and output.")
    mirrors = "002 Problem 2.2 (Geoff's transformer: D A A <START> A D <STOP>, causal, zero temperature)"
    Params = SelfAttentionParams
    Answer = SelfAttentionAnswer
    answer_format = AnswerFormat("vector", percent=True)  # attention weights: fractions of one
    Ranges = SelfAttentionRanges
    box_height = "6cm"
    seed_example = {
        "X": [[0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
        "W_q": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "W_k": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "W_v": [[0, 3], [1, 2], [2, 1], [3, 0]],
        "causal": True,
        "temperature": "zero",
        "tokens": ["D", "A", "A", "<START>", "A", "D", "<STOP>"],
        "ask_row": 4,
    }
    seed_note = (
        "The seed's P in Problem 2.2 is printed with 8 columns (and K^T and QK^T with an extra "
        "zero column) for a 7-token sequence; P is 7x7, as the seed itself prints it in 2.3. Its "
        "rows are right: (1), (0,1), (0,1/2,1/2), (1/4,1/4,1/4,1/4) for <START> whose scores are "
        "all 0, (0,1/3,1/3,0,1/3), (1/2,0,0,0,0,1/2), and 1/7 everywhere for <STOP>."
    )

    # -- drawing -----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, ranges: SelfAttentionRanges) -> SelfAttentionParams:
        def draw(g):
            kind = g.choice(["zero", "zero", "zero", "sqrt_d", "sqrt_d", "number"])
            return self._draw_argmax(g, ranges) if kind == "zero" else self._draw_softmax(g, ranges, str(kind))

        return draw_until(rng, draw, tries=300, type_id=self.id, what="non-degenerate attention head", ranges=ranges)

    def _draw_argmax(self, rng, r: SelfAttentionRanges) -> SelfAttentionParams | None:
        n = int(rng.integers(max(r.min_tokens, 3), max(r.max_tokens, 3) + 1))
        causal = bool(rng.random() < 0.8)
        if rng.random() < 0.6:  # token embeddings, like the seed: one-hot letters, a zero <START>
            d = int(rng.integers(3, 5))
            letters = _LETTERS[:d]
            pool = list(letters) + (["<START>"] if rng.random() < 0.5 else [])
            tokens = [str(rng.choice(pool)) for _ in range(n)]
            X = _tup([[1 if t == c else 0 for c in letters] for t in tokens])
        else:
            d = int(rng.integers(2, 4))
            tokens = None
            X = _int_matrix(rng, (n, d), 0, 2)
        d_k = 2
        Wq = _int_matrix(rng, (d, d_k), 0, r.max_weight)
        shared = rng.random() < 0.5
        Wk = Wq if shared else _int_matrix(rng, (d, d_k), 0, r.max_weight)
        Wv = Wq if shared else _int_matrix(rng, (d, d_k), 0, r.max_weight)
        return self._accept(dict(X=X, W_q=Wq, W_k=Wk, W_v=Wv, causal=causal, temperature="zero",
                                 tokens=tuple(tokens) if tokens else None), rng, need_ties=True)

    def _draw_softmax(self, rng, r: SelfAttentionRanges, kind: str) -> SelfAttentionParams | None:
        hi = min(r.max_tokens, 4)
        lo = min(max(r.min_tokens, 2), hi)
        n = int(rng.integers(lo, hi + 1))
        d = int(rng.integers(2, 4))
        if kind == "sqrt_d":
            d_k, temperature = int(rng.choice([1, 4, 4])), "sqrt_d"
        else:
            d_k, temperature = int(rng.choice([1, 2])), float(rng.choice([0.5, 2.0, 3.0]))
        X = _int_matrix(rng, (n, d), -1, 2)
        Wq, Wk, Wv = (_int_matrix(rng, (d, d_k), -1, 1) for _ in range(3))
        return self._accept(dict(X=X, W_q=Wq, W_k=Wk, W_v=Wv, causal=bool(rng.random() < 0.6),
                                 temperature=temperature, tokens=None), rng, need_ties=False)

    def _accept(self, fields: dict, rng, *, need_ties: bool) -> SelfAttentionParams | None:
        p = SelfAttentionParams(**fields, ask_row=1)
        Q, K, V, S, allowed, P, T = _np_attention(p)
        if T is not None and np.abs(np.where(allowed, S / T, 0)).max() > 4:
            return None  # keep every exponent a calculator-friendly size
        if (np.abs(V).sum(axis=0) == 0).any():
            return None  # a value column that is zero for every token
        distinct_rows = {tuple(np.round(row, 9)) for row in P}
        if len(distinct_rows) < 2:
            return None
        if need_ties and not any(len(np.nonzero(row)[0]) > 1 for row in P):
            return None
        if not need_ties and not any(len(np.nonzero(row)[0]) > 1 for row in P):
            return None
        # ask about a row where at least three named mistakes differ from the answer
        good = []
        for i in range(1, p.n + 1):
            q = p.model_copy(update={"ask_row": i})
            right = num_row(P[i - 1])
            wrong = {num_row(v) for v in self.mistakes(q).values()} - {right}
            if len(wrong) >= 3:
                good.append(i)
        if not good:
            return None
        return p.model_copy(update={"ask_row": int(rng.choice(good))})

    # -- solving -------------------------------------------------------------------------------
    def solve(self, p: SelfAttentionParams) -> SelfAttentionAnswer:
        r = self_attention(p.X, p.W_q, p.W_k, p.W_v, causal=p.causal, temperature=p.temperature)
        return _sa_answer(p, r)

    def reference(self, p: SelfAttentionParams) -> SelfAttentionAnswer:
        Q, K, V, S, allowed, P, T = _np_attention(p)
        r = AttentionResult(
            Q=clean(Q.tolist()), K=clean(K.tolist()), V=clean(V.tolist()), scores=clean(S.tolist()), scaled=None,
            allowed=allowed.tolist(), weights=clean(P.tolist()), output=clean((P @ V).tolist()), temperature=T,
        )
        return _sa_answer(p, r)

    # -- presentation ------------------------------------------------------------------------------
    def answer_latex(self, a: SelfAttentionAnswer) -> str:
        # One query per line: pdftotext reads the table back in order, while two large
        # matrices side by side come out interleaved.
        rows = "".join(
            rf"{i} & ${vec_tex(p)}$ & ${vec_tex(z)}$ \\ " for i, (p, z) in enumerate(zip(a.attention, a.output), 1)
        )
        return rf"\begin{{tabular}}[t]{{@{{}}r l l@{{}}}} query & row of $P$ & row of $Z = PV$ \\ {rows}\end{{tabular}}"

    def key_texts(self, a: SelfAttentionAnswer) -> list[str]:
        return [str(vec_tex(r)) for r in a.attention] + [str(vec_tex(r)) for r in a.output]

    # -- multiple choice --------------------------------------------------------------------------
    def choice_value(self, a: SelfAttentionAnswer):
        return tuple(a.asked_row)

    def choice_latex(self, value) -> str:
        return f"${vec_tex(value)}$"

    def mistakes(self, p: SelfAttentionParams) -> dict[str, tuple[float, ...]]:
        i = p.ask_row - 1
        paths: dict[str, dict] = {}
        if p.causal:
            paths["no_causal_mask"] = dict(causal=False)
            paths["mask_off_by_one"] = dict(offset=1)
        if p.temperature == "zero":
            paths["ties_not_shared"] = dict(ties="first")
            paths["softmax_not_argmax"] = dict(temperature="sqrt_d")
        elif p.temperature == "sqrt_d":
            if p.d_k > 1:
                paths["no_sqrt_dk"] = dict(temperature=1.0)
                paths["divided_by_dk"] = dict(temperature=float(p.d_k))
            paths["argmax_not_softmax"] = dict(temperature="zero")
        else:
            paths["multiplied_by_temperature"] = dict(temperature=1 / float(p.temperature))
            if float(p.temperature) != 1:
                paths["ignored_temperature"] = dict(temperature=1.0)
        paths["softmax_over_rows_wrong_axis"] = dict(axis=0)
        out = {}
        for name, kw in paths.items():
            P = _np_attention(p, **kw)[5]
            out[name] = tuple(clean(P[i].tolist()))
        return out

    def fallback_mistakes(self, p: SelfAttentionParams, a: SelfAttentionAnswer):
        n, i = p.n, p.ask_row - 1
        keys = [j for j in range(n) if (j <= i or not p.causal)]
        return {
            "uniform_over_allowed": tuple(1 / len(keys) if j in keys else 0.0 for j in range(n)),
            "attends_to_itself_only": tuple(1.0 if j == i else 0.0 for j in range(n)),
            "uniform_over_all": tuple(1 / n for _ in range(n)),
            "reversed_row": tuple(reversed(a.asked_row)),
        }


def num_row(row) -> str:
    return str(vec_tex([float(v) for v in row]))


# == attention.multihead_cost ================================================================


_GROWTHS = (2, 4, 8)  # ask complexity: the sequence grows this many times


class MultiheadParams(ParamsModel):
    d_model: Annotated[int, Field(ge=2, le=16384)]
    heads: Annotated[int, Field(ge=2, le=256)]
    seq_len: Annotated[int, Field(ge=1, le=131072)]
    bias: bool = True
    # "params": parameters and multiply-adds against one head; "complexity" (seed 003 Q21, never
    # drawn: a spec asks for it): time and memory in n and d, and how they grow with n
    ask: Literal["params", "complexity"] = "params"
    growth: Literal[2, 4, 8] | None = None  # ask complexity: n grows this many times (None: picked)

    @model_validator(mode="after")
    def _divides(self):
        if self.d_model % self.heads:
            raise ValueError(f"heads {self.heads} must divide d_model {self.d_model} (d_k = d_model / heads)")
        return self

    @property
    def d_k(self) -> int:
        return self.d_model // self.heads

    @property
    def grown(self) -> int:
        """ask complexity: the factor the sequence length grows by."""
        if self.growth is not None:
            return self.growth
        rng = params_rng(self, exclude=("ask", "growth"))
        return _GROWTHS[int(rng.integers(len(_GROWTHS)))]


class Complexity(BaseModel):
    """Time and memory of the layer at n and at g n tokens (ask complexity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    growth: int
    n: int
    grown_n: int
    attention_macs: int  # 2 n^2 d: Q K^T and P V, all heads
    grown_attention_macs: int
    projection_macs: int  # 4 n d^2
    grown_projection_macs: int
    attention_entries: int  # h n^2: the attention matrices
    grown_attention_entries: int
    activation_entries: int  # 4 n d: Q, K, V and the output
    grown_activation_entries: int
    crossover: int  # 2 d: beyond this n, Q K^T and P V cost more than the projections


class MultiheadAnswer(AnswerModel):
    params: int
    head_dim: int
    single_head_params: int
    projection_params: int  # one d x d projection (+ bias): W_O
    per_head_projection_params: int  # one head's W_Q^i (d x d_k, + bias)
    qkv_params: int  # W_Q^i, W_K^i, W_V^i of every head
    score_macs_per_head: int  # n^2 d_k
    mix_macs_per_head: int
    attention_macs: int  # all heads, Q K^T and P V
    single_head_attention_macs: int
    projection_macs: int  # 4 n d^2
    asked: Literal["params", "complexity"] = "params"
    complexity: Complexity | None = None


class MultiheadRanges(RangesModel):
    min_d_model: Annotated[int, Field(ge=16, le=8192)] = 64
    max_d_model: Annotated[int, Field(ge=16, le=8192)] = 1024
    max_heads: Annotated[int, Field(ge=2, le=128)] = 16
    min_seq_len: Annotated[int, Field(ge=1, le=131072)] = 64
    max_seq_len: Annotated[int, Field(ge=1, le=131072)] = 4096

    @model_validator(mode="after")
    def _ordered(self):
        if not [d for d in _D_MODELS if self.min_d_model <= d <= self.max_d_model]:
            raise ValueError(f"no model width in {_D_MODELS} lies in [{self.min_d_model}, {self.max_d_model}]")
        return self


_D_MODELS = (64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096)
_HEADS = (2, 3, 4, 6, 8, 12, 16, 32, 64)
_SEQ_LENS = (32, 64, 100, 128, 256, 500, 512, 1000, 1024, 2048, 4096, 8192)


@register
class MultiheadCost(QuestionType):
    id = "attention.multihead_cost"
    summary = ("Parameters and multiply-adds of multi-head attention with d_k = d/h, and why they "
               "equal single-head attention of width d; ask: complexity asks time and memory in n and d and "
               "their growth with n.")
    mirrors = ("003 Q26 (multi-head vs single-head cost; the seed is symbolic, the example uses Q27's h = 32, d_k = 128) "
               "and Q21 (attention's time and memory, ask: complexity)")
    Params = MultiheadParams
    Answer = MultiheadAnswer
    options = {"ask: complexity": "time and memory in n and d, and their growth when n grows 2, 4 or 8 times "
                                   "(`growth`; 003 Q21)"}
    Ranges = MultiheadRanges
    forms = ("free", "mc", "tf")
    box_height = "4cm"
    seed_example = {"d_model": 4096, "heads": 32, "seq_len": 8192, "bias": False}

    def sample(self, rng: np.random.Generator, r: MultiheadRanges) -> MultiheadParams:
        widths = [d for d in _D_MODELS if r.min_d_model <= d <= r.max_d_model]
        d = int(rng.choice(widths))
        heads = [h for h in _HEADS if h <= r.max_heads and d % h == 0 and d // h >= 8] or [
            h for h in range(2, r.max_heads + 1) if d % h == 0]
        if not heads:
            raise GenerationError(f"{self.id}: no head count <= {r.max_heads} divides d_model {d}")
        lens = [n for n in _SEQ_LENS if r.min_seq_len <= n <= r.max_seq_len] or [r.min_seq_len]
        return MultiheadParams(d_model=d, heads=int(rng.choice(heads)), seq_len=int(rng.choice(lens)),
                               bias=bool(rng.random() < 0.6))

    def solve(self, p: MultiheadParams) -> MultiheadAnswer:
        c = multihead_cost(d_model=p.d_model, heads=p.heads, seq_len=p.seq_len, bias=p.bias)
        complexity = None
        if p.ask == "complexity":
            now, later = (attention_complexity(d_model=p.d_model, heads=p.heads, seq_len=n)
                          for n in (p.seq_len, p.grown * p.seq_len))
            complexity = Complexity(
                growth=p.grown, n=p.seq_len, grown_n=p.grown * p.seq_len,
                attention_macs=now.attention_macs, grown_attention_macs=later.attention_macs,
                projection_macs=now.projection_macs, grown_projection_macs=later.projection_macs,
                attention_entries=now.attention_entries, grown_attention_entries=later.attention_entries,
                activation_entries=now.activation_entries, grown_activation_entries=later.activation_entries,
                crossover=_crossover(p),
            )
        return MultiheadAnswer(
            asked=p.ask, complexity=complexity,
            params=c.params, head_dim=p.d_model // p.heads, single_head_params=c.single_head_params,
            projection_params=c.projection_params, per_head_projection_params=c.per_head_projection_params,
            qkv_params=c.params - c.projection_params,
            score_macs_per_head=c.score_macs_per_head, mix_macs_per_head=c.mix_macs_per_head,
            attention_macs=c.attention_macs, single_head_attention_macs=c.single_head_attention_macs,
            projection_macs=c.projection_macs,
        )

    def reference(self, p: MultiheadParams) -> MultiheadAnswer:
        d, h, n, b = p.d_model, p.heads, p.seq_len, int(p.bias)
        dk = d // h
        proj = d * d + b * d
        complexity = None
        if p.ask == "complexity":
            g, m = p.grown, p.grown * n
            complexity = Complexity(
                growth=g, n=n, grown_n=m, attention_macs=2 * n * n * d, grown_attention_macs=2 * m * m * d,
                projection_macs=4 * n * d * d, grown_projection_macs=4 * m * d * d,
                attention_entries=h * n * n, grown_attention_entries=h * m * m,
                activation_entries=4 * n * d, grown_activation_entries=4 * m * d, crossover=2 * d,
            )
        return MultiheadAnswer(
            asked=p.ask, complexity=complexity,
            params=4 * proj, head_dim=dk, single_head_params=4 * proj, projection_params=proj,
            per_head_projection_params=d * dk + b * dk, qkv_params=3 * h * (d * dk + b * dk),
            score_macs_per_head=n * n * dk, mix_macs_per_head=n * n * dk, attention_macs=2 * n * n * d,
            single_head_attention_macs=2 * n * n * d, projection_macs=4 * n * d * d,
        )

    def answer_latex(self, a: MultiheadAnswer) -> str:
        if a.asked == "complexity":
            c = a.complexity
            return (rf"time $O(n^2 d + n d^2)$, memory $O(h n^2 + n d)$; at $n = {c.grown_n}$: "
                    rf"{c.grown_attention_macs} multiply-adds, {c.grown_attention_entries} attention entries "
                    rf"($\times {c.growth * c.growth}$ each)")
        return (rf"$d_k = {a.head_dim}$; {a.params} parameters (as for one head of width $d$); "
                rf"$QK^\top$ and $PV$: {a.attention_macs} multiply-adds (as for one head)")

    def key_texts(self, a: MultiheadAnswer) -> list[str]:
        if a.asked == "complexity":
            return [str(a.complexity.grown_attention_macs), str(a.complexity.grown_attention_entries)]
        return [str(a.params), str(a.attention_macs)]

    answer_format = AnswerFormat("number")  # parameters; see variant_format

    def variant_format(self, p: MultiheadParams) -> AnswerFormat:
        # ask complexity: two counts, multiply-adds and attention-matrix entries
        return AnswerFormat("vector") if p.ask == "complexity" else self.answer_format

    def choice_value(self, a: MultiheadAnswer):
        if a.asked == "complexity":
            return (a.complexity.grown_attention_macs, a.complexity.grown_attention_entries)
        return a.params

    def choice_latex(self, value) -> str:
        if isinstance(value, tuple):
            return f"${value[0]}$ multiply-adds and ${value[1]}$ attention-matrix entries"
        return f"${int(value)}$"

    def mistakes(self, p: MultiheadParams) -> dict:
        if p.ask == "complexity":
            return _complexity_mistakes(p)
        d, h, dk, b = p.d_model, p.heads, p.d_k, int(p.bias)
        proj = d * d + b * d
        out = {
            "multiplied_by_heads": 4 * proj * h,  # a full d x d projection per head
            "forgot_output_projection": 3 * proj,
            "head_dim_squared": 4 * h * (dk * dk + b * dk),  # d_k x d_k blocks per head
            "one_head_only": 3 * (d * dk + b * dk) + proj,
        }
        if b:
            out["forgot_biases"] = 4 * d * d
        else:
            out["added_biases"] = 4 * proj + 4 * d
        return out


def _crossover(p: MultiheadParams) -> int:
    """The sequence length beyond which Q K^T and P V (2 n^2 d) cost more than the four
    projections (4 n d^2): n = 2d."""
    return 2 * p.d_model


def _complexity_mistakes(p: MultiheadParams) -> dict[str, tuple[int, int]]:
    """Wrong (multiply-adds of Q K^T and P V, attention-matrix entries) at g n tokens."""
    d, h, dk, n, g = p.d_model, p.heads, p.d_k, p.seq_len, p.grown
    m = g * n
    right = (2 * m * m * d, h * m * m)
    wrong = {
        "linear_in_n": (g * 2 * n * n * d, g * h * n * n),
        "memory_linear_in_n": (2 * m * m * d, g * h * n * n),
        "cubic_time": (g ** 3 * 2 * n * n * d, h * m * m),
        "one_head_only": (2 * m * m * dk, m * m),
        "forgot_heads_in_memory": (2 * m * m * d, m * m),
        "projections_instead": (4 * m * d * d, h * m * m),
    }
    return {name: v for name, v in wrong.items() if v != right}
