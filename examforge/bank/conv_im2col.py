"""Convolution as a linear layer: the dimensions of the equivalent fully connected layer, the
im2col view, and the fraction of the weight matrix's entries the convolution constrains."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.bank._options import params_rng

from examforge.drawing import draw_until
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import shape
from examforge.solvers.conv import conv2d_as_matrix, weight_in_matrix

MAX_D_IN = 1024  # flattened input size: keeps torch's A (d_out x d_in) small
MAX_ENTRIES = 2_000_000
Index = Annotated[int, Field(ge=0, le=63)]


class Im2colParams(ParamsModel):
    height: Annotated[int, Field(ge=2, le=64)]
    width: Annotated[int, Field(ge=2, le=64)]
    in_channels: Annotated[int, Field(ge=1, le=16)]
    out_channels: Annotated[int, Field(ge=1, le=64)]
    kernel: Annotated[int, Field(ge=1, le=11)]
    stride: Annotated[int, Field(ge=1, le=4)]
    # "fraction": dimensions, im2col shapes and the constrained fraction; "weight_position" (seed
    # 004 P1(a)iv, never drawn: a spec asks for it): where a weight W[o, c, u, v] sits in A, for the
    # output at position (i, j). Indices from 0; None: picked from the other params.
    ask: Literal["fraction", "weight_position"] = "fraction"
    weight: tuple[Index, Index, Index, Index] | None = None  # (o, c, u, v)
    position: tuple[Index, Index] | None = None  # (i, j) in the output map

    @model_validator(mode="after")
    def _consistent(self):
        k, s = self.kernel, self.stride
        for axis, n in (("height", self.height), ("width", self.width)):
            if k > n:
                raise ValueError(f"kernel {k} is larger than the input {axis} {n}")
            if (n - k) % s:
                raise ValueError(
                    f"input {axis} {n}: ({n} - {k}) is not a multiple of the stride {s}, "
                    f"so ({n} - {k})/{s} + 1 is not a whole number of positions"
                )
        d_in = self.height * self.width * self.in_channels
        if d_in > MAX_D_IN:
            raise ValueError(f"the flattened input has {d_in} entries; at most {MAX_D_IN} are allowed")
        d_out = self.out_hw[0] * self.out_hw[1] * self.out_channels
        if d_in * d_out > MAX_ENTRIES:
            raise ValueError(f"the weight matrix would have {d_in * d_out} entries; at most {MAX_ENTRIES}")
        if self.weight is not None:
            limits = (self.out_channels, self.in_channels, k, k)
            for name, value, limit in zip(("o", "c", "u", "v"), self.weight, limits):
                if value >= limit:
                    raise ValueError(f"weight index {name} = {value} must be below {limit} "
                                     f"(W is {self.out_channels} x {self.in_channels} x {k} x {k}, indices from 0)")
        if self.position is not None:
            for name, value, limit in zip(("i", "j"), self.position, self.out_hw):
                if value >= limit:
                    raise ValueError(f"position {name} = {value} must be below {limit} "
                                     f"(the output is {self.out_hw[0]} x {self.out_hw[1]}, indices from 0)")
        return self

    @property
    def out_hw(self) -> tuple[int, int]:
        k, s = self.kernel, self.stride
        return (self.height - k) // s + 1, (self.width - k) // s + 1

    # -- ask "weight_position" ------------------------------------------------------------------
    def _picks(self) -> list[int]:
        rng = params_rng(self, exclude=("ask", "weight", "position"))
        k, (oh, ow) = self.kernel, self.out_hw
        return [int(rng.integers(n)) for n in (self.out_channels, self.in_channels, k, k, oh, ow)]

    @property
    def asked_weight(self) -> tuple[int, int, int, int]:
        return self.weight if self.weight is not None else tuple(self._picks()[:4])

    @property
    def asked_position(self) -> tuple[int, int]:
        return self.position if self.position is not None else tuple(self._picks()[4:])


class Im2colRanges(RangesModel):
    min_side: Annotated[int, Field(ge=2, le=32)] = 4
    max_side: Annotated[int, Field(ge=2, le=32)] = 10
    max_kernel: Annotated[int, Field(ge=2, le=7)] = 5
    max_stride: Annotated[int, Field(ge=1, le=4)] = 2
    max_in_channels: Annotated[int, Field(ge=1, le=16)] = 3
    max_out_channels: Annotated[int, Field(ge=1, le=64)] = 8

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_kernel >= self.max_side:
            raise ValueError(f"max_kernel {self.max_kernel} leaves no room in inputs of side at most {self.max_side}")
        return self


class WeightPosition(BaseModel):
    """Where W[o, c, u, v] sits in A for the output at (i, j); indices from 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: tuple[int, int, int, int]
    position: tuple[int, int]
    row: int  # o h' w' + i w' + j
    input_row: int  # i S + u: the input row the weight meets
    input_col: int  # j S + v
    column: int  # c h w + (i S + u) w + (j S + v)
    count: int  # entries of A holding this weight: one per output position, h' w'


class Im2colAnswer(AnswerModel):
    fraction_num: int  # constrained entries / all entries, reduced
    fraction_den: int
    fraction: float
    out_hw: tuple[int, int]
    d_in: int
    d_out: int
    a_shape: tuple[int, int]  # (d_out, d_in)
    im2col_shape: tuple[int, int]  # (k*k*c_in, h'*w')
    kernel_matrix_shape: tuple[int, int]  # (c_out, k*k*c_in)
    row_nonzeros: int  # entries per row that can be nonzero: k*k*c_in
    total_entries: int
    nonzero_entries: int
    zero_entries: int
    free_params: int
    tied_entries: int  # nonzero entries that copy a weight already counted
    constrained_entries: int
    sharing_num: int  # 1 - 1/(h'w'): the tied share of the nonzero entries alone
    sharing_den: int
    asked: Literal["fraction", "weight_position"] = "fraction"
    where: WeightPosition | None = None


def _fraction_answer(p: Im2colParams, *, out_hw, a_shape, nonzero, free, im2col, kmat,
                     where: WeightPosition | None = None) -> Im2colAnswer:
    total = a_shape[0] * a_shape[1]
    constrained = total - free
    frac = Fraction(constrained, total)
    sharing = Fraction(nonzero - free, nonzero)
    return Im2colAnswer(
        fraction_num=frac.numerator, fraction_den=frac.denominator, fraction=constrained / total,
        out_hw=out_hw, d_in=a_shape[1], d_out=a_shape[0], a_shape=a_shape,
        im2col_shape=im2col, kernel_matrix_shape=kmat,
        row_nonzeros=nonzero // a_shape[0],
        total_entries=total, nonzero_entries=nonzero, zero_entries=total - nonzero,
        free_params=free, tied_entries=nonzero - free, constrained_entries=constrained,
        sharing_num=sharing.numerator, sharing_den=sharing.denominator,
        asked=p.ask, where=where,
    )


def _where(p: Im2colParams, row: int, column: int, count: int) -> WeightPosition:
    (o, c, u, v), (i, j) = p.asked_weight, p.asked_position
    return WeightPosition(weight=(o, c, u, v), position=(i, j), row=row, input_row=i * p.stride + u,
                          input_col=j * p.stride + v, column=column, count=count)


def _position_by_formula(p: Im2colParams, *, channel_last: bool = False, stride: bool = True,
                         row_width: int | None = None, swap_uv: bool = False, channel_offset: bool = True):
    """(row, column) of W[o, c, u, v] in A by the index formulas; keywords take the wrong paths."""
    (o, c, u, v), (i, j) = p.asked_weight, p.asked_position
    oh, ow = p.out_hw
    s = p.stride if stride else 1
    if swap_uv:
        u, v = v, u
    row = (i * ow + j) * p.out_channels + o if channel_last else o * oh * ow + i * ow + j
    width = p.width if row_width is None else row_width
    column = (c * p.height * p.width if channel_offset else 0) + (i * s + u) * width + (j * s + v)
    return row, column


def _one_minus(num: int, den: int) -> tuple[int, int]:
    f = 1 - Fraction(num, den)
    return f.numerator, f.denominator



@register
class ConvIm2col(QuestionType):
    id = "conv.im2col"
    summary = ("A convolution as a fully connected layer: its dimensions, the im2col matrices, "
               "the fraction of constrained weights, and (ask: weight_position) where a weight sits in A.")
    mirrors = ("004 Problem 1 (convolution as a linear layer: input/output dimensions, im2col, "
               "fraction of constrained entries)")
    Params = Im2colParams
    Answer = Im2colAnswer
    options = {"ask: weight_position": "the row and column of A where W[o, c, u, v] meets the input for out[o, i, j] "
                                       "(004 P1(a)iv); pin them with `weight` and `position`"}
    answer_format = AnswerFormat("choice")  # a fraction a/b the options print as one number: picked, not typed
    Ranges = Im2colRanges
    seed_example = {"height": 6, "width": 6, "in_channels": 3, "out_channels": 2, "kernel": 3, "stride": 1}
    seed_note = (
        "004's key is symbolic and wrong in three places. (1) It gives the linear layer's input "
        "dimension as h'*w'*c_i; the flattened input has h*w*c_i entries (6*6*3 = 108, not 4*4*3 = 48). "
        "(2) It gives A the shape (c_o*h'*w') x (k^2*c_i), which is neither the dense layer's "
        "(c_o*h'*w') x (h*w*c_i) nor the im2col product (the c_o x k^2*c_i filter matrix times the "
        "k^2*c_i x h'*w' patch matrix). (3) Its 'fraction of constrained entries' 1 - 1/(h'*w') only "
        "counts weight sharing among the entries that can be nonzero; the dense matrix has "
        "c_o*h'*w'*h*w*c_i entries of which only c_o*c_i*k^2 are free, so the fraction is "
        "1 - k^2/(h*w*h'*w'): for these numbers 63/64, not 15/16."
    )
    box_height = "7cm"

    def sample(self, rng: np.random.Generator, ranges: Im2colRanges) -> Im2colParams:
        r = ranges
        kernels = [k for k in (2, 3, 3, 3, 5) if k <= r.max_kernel]
        def draw(rng):
            k = int(rng.choice(kernels))
            s = 1 if rng.random() < 0.6 else int(rng.integers(1, r.max_stride + 1))
            sides = [n for n in range(max(r.min_side, k + s), r.max_side + 1) if (n - k) % s == 0]
            if not sides:
                return None
            h = int(rng.choice(sides))
            w = h if rng.random() < 0.7 else int(rng.choice(sides))
            c_in = int(rng.integers(1, r.max_in_channels + 1))
            c_out = int(rng.choice([c for c in (1, 2, 3, 4, 6, 8, 16) if c <= r.max_out_channels] or [1]))
            if h * w * c_in > MAX_D_IN:
                return None
            return Im2colParams(height=h, width=w, in_channels=c_in, out_channels=c_out, kernel=k, stride=s)

        return draw_until(rng, draw, tries=100, type_id=self.id, what="input size that fits the ranges", ranges=r)

    def solve(self, p: Im2colParams) -> Im2colAnswer:
        got = conv2d_as_matrix((p.in_channels, p.height, p.width), p.out_channels, p.kernel, p.stride)
        where = None
        if p.ask == "weight_position":
            at = weight_in_matrix((p.in_channels, p.height, p.width), p.out_channels, p.kernel, p.stride,
                                  p.asked_weight, p.asked_position)
            where = _where(p, at["row"], at["column"], at["count"])
        return _fraction_answer(
            p, out_hw=got["out_hw"], a_shape=got["a_shape"], nonzero=got["nonzero_entries"],
            free=got["free_params"], im2col=got["im2col_shape"], kmat=got["kernel_matrix_shape"], where=where,
        )

    def reference(self, p: Im2colParams) -> Im2colAnswer:
        oh, ow = p.out_hw
        k2c = p.kernel * p.kernel * p.in_channels
        d_in = p.height * p.width * p.in_channels
        d_out = oh * ow * p.out_channels
        where = None
        if p.ask == "weight_position":  # each weight appears once per output position
            where = _where(p, *_position_by_formula(p), count=oh * ow)
        return _fraction_answer(
            p, out_hw=(oh, ow), a_shape=(d_out, d_in), nonzero=d_out * k2c,
            free=p.out_channels * k2c, im2col=(k2c, oh * ow), kmat=(p.out_channels, k2c), where=where,
        )

    # -- presentation ------------------------------------------------------------------------

    def answer_latex(self, a: Im2colAnswer) -> str:
        if a.asked == "weight_position":
            w = a.where
            return (f"row {w.row}, column {w.column} (one entry per output position: "
                    f"{w.count} entries of $A$ hold this weight)")
        return (f"$d_{{\\text{{in}}}} = {a.d_in}$, $d_{{\\text{{out}}}} = {a.d_out}$, $A$ is ${shape(a.a_shape)}$; "
                f"patch matrix ${shape(a.im2col_shape)}$, filter matrix ${shape(a.kernel_matrix_shape)}$; "
                f"constrained fraction ${_tfrac(a.fraction_num, a.fraction_den)} \\approx {a.fraction:.4f}$")

    def key_texts(self, a: Im2colAnswer) -> list[str]:
        if a.asked == "weight_position":
            return [f"row {a.where.row}, column {a.where.column}"]
        return [f"{a.fraction_num}/{a.fraction_den}", f"A is {a.d_out} x {a.d_in}"]

    def choice_value(self, a: Im2colAnswer):
        if a.asked == "weight_position":
            return ("at", a.where.row, a.where.column)
        return (a.fraction_num, a.fraction_den)

    def choice_latex(self, value) -> str:
        if value[0] == "at":
            return f"row ${value[1]}$, column ${value[2]}$"
        return f"${_tfrac(*value)}$"

    def mistakes(self, p: Im2colParams) -> dict:
        if p.ask == "weight_position":
            return _position_mistakes(p)
        oh, ow = p.out_hw
        k2 = p.kernel * p.kernel
        hw, ohw = p.height * p.width, oh * ow
        wrong = {
            "seed_key_sharing_only": _one_minus(1, ohw),
            "zeros_only": _one_minus(k2, hw),
            "output_size_as_input_size": _one_minus(k2, ohw * ohw),
            "free_fraction_instead": (Fraction(k2, hw * ohw).numerator, Fraction(k2, hw * ohw).denominator),
            "forgot_output_channels": _one_minus(k2, p.out_channels * hw * ohw) if p.out_channels > 1 else None,
            "forgot_input_channels": _one_minus(k2, p.in_channels * hw * ohw) if p.in_channels > 1 else None,
            "counted_biases_as_free": _one_minus(
                p.out_channels * (k2 * p.in_channels + 1), p.out_channels * ohw * p.in_channels * hw
            ),
        }
        return {name: v for name, v in wrong.items() if v is not None and 0 <= v[0] < v[1]}

    def fallback_mistakes(self, p: Im2colParams, a: Im2colAnswer) -> dict:
        if a.asked == "weight_position":
            r, c = a.where.row, a.where.column
            return {"next_column": ("at", r, c + 1), "next_row": ("at", r + 1, c), "previous_column": ("at", r, c - 1)}
        total = a.total_entries
        return {
            "assumed_same_padding": _one_minus(p.kernel**2, (p.height * p.width) ** 2),
            "tied_only": (Fraction(a.tied_entries, total).numerator, Fraction(a.tied_entries, total).denominator),
            "one_minus_one_over_d_out": _one_minus(1, a.d_out),
        }


def _tfrac(num: int, den: int) -> str:
    return f"\\tfrac{{{num}}}{{{den}}}" if den != 1 else str(num)



def _position_mistakes(p: Im2colParams) -> dict[str, tuple[str, int, int]]:
    """Wrong (row, column) of W[o, c, u, v] in A, each a wrong index formula."""
    right = _position_by_formula(p)
    (o, c, u, v), _ = p.asked_weight, p.asked_position
    k = p.kernel
    wrong = {
        "channel_last_rows": _position_by_formula(p, channel_last=True),
        "forgot_stride": _position_by_formula(p, stride=False),
        "output_width_as_row_length": _position_by_formula(p, row_width=p.out_hw[1]),
        "swapped_kernel_indices": _position_by_formula(p, swap_uv=True),
        "forgot_channel_offset": _position_by_formula(p, channel_offset=False),
        "patch_index_as_column": (right[0], c * k * k + u * k + v),
        "one_based": (right[0] + 1, right[1] + 1),
    }
    return {name: ("at", *value) for name, value in wrong.items() if value != right}
