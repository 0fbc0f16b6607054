"""Convolution questions: output shapes and output values."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from examforge.question import AnswerModel, ParamsModel, QuestionType
from examforge.registry import register
from examforge.renderers.latex import shape
from examforge.solvers.conv import conv2d_output_hw

Pos = Annotated[int, Field(ge=1, le=4096)]
NonNeg = Annotated[int, Field(ge=0, le=64)]
Pair = tuple[Pos, Pos]

_SIZES = (28, 32, 48, 56, 64, 96, 100, 112, 128, 224, 227, 256)


def _out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


class OutputShapeParams(ParamsModel):
    input_hw: Pair
    kernel: Pair
    stride: Pair
    padding: tuple[NonNeg, NonNeg]
    in_channels: Annotated[int, Field(ge=1, le=2048)]
    out_channels: Annotated[int, Field(ge=1, le=2048)]

    @model_validator(mode="after")
    def _kernel_fits(self):
        for axis, name in ((0, "height"), (1, "width")):
            n, k, p = self.input_hw[axis], self.kernel[axis], self.padding[axis]
            if k > n + 2 * p:
                raise ValueError(
                    f"kernel {name} {k} is larger than the padded input {name} {n} + 2*{p}"
                )
        return self


class OutputShapeAnswer(AnswerModel):
    output_hw: tuple[int, int]
    output_shape: tuple[int, int, int]
    spans: tuple[int, int]  # H + 2P - K per dimension
    floors: tuple[int, int]  # floor(span / S) per dimension


@register
class ConvOutputShape(QuestionType):
    id = "conv.output_shape"
    summary = "Output height and width of a 2-D convolution with per-axis kernel, stride and padding."
    mirrors = "002 Part 1 Q4 (3x5 filter, strides 1 and 3, 128x128 input)"
    Params = OutputShapeParams
    Answer = OutputShapeAnswer
    box_height = "3cm"

    def sample(self, rng: np.random.Generator) -> OutputShapeParams:
        square = rng.random() < 0.7
        h = int(rng.choice(_SIZES)) if rng.random() < 0.6 else int(rng.integers(7, 65))
        w = h if square else int(rng.integers(7, 65)) if h < 65 else int(rng.choice(_SIZES))
        kernels = (1, 2, 3, 3, 4, 5, 5, 7)
        kh = int(rng.choice(kernels))
        kw = kh if rng.random() < 0.6 else int(rng.choice(kernels))
        sh = int(rng.integers(1, 5))
        sw = sh if rng.random() < 0.6 else int(rng.integers(1, 5))
        ph = int(rng.integers(0, kh // 2 + 1))
        pw = ph if (kw == kh and rng.random() < 0.8) else int(rng.integers(0, kw // 2 + 1))
        return OutputShapeParams(
            input_hw=(h, w),
            kernel=(kh, kw),
            stride=(sh, sw),
            padding=(ph, pw),
            in_channels=int(rng.choice((1, 3, 8, 16, 32, 64))),
            out_channels=int(rng.choice((4, 8, 16, 32, 64, 128))),
        )

    def solve(self, p: OutputShapeParams) -> OutputShapeAnswer:
        out = conv2d_output_hw(
            p.input_hw, p.kernel, p.stride, p.padding,
            in_channels=p.in_channels, out_channels=p.out_channels,
        )
        spans = tuple(p.input_hw[i] + 2 * p.padding[i] - p.kernel[i] for i in (0, 1))
        return OutputShapeAnswer(
            output_hw=out,
            output_shape=(p.out_channels, *out),
            spans=spans,
            floors=(out[0] - 1, out[1] - 1),
        )

    def reference(self, p: OutputShapeParams) -> OutputShapeAnswer:
        spans = [p.input_hw[i] + 2 * p.padding[i] - p.kernel[i] for i in (0, 1)]
        floors = [math.floor(spans[i] / p.stride[i]) for i in (0, 1)]
        out = (floors[0] + 1, floors[1] + 1)
        return OutputShapeAnswer(
            output_hw=out, output_shape=(p.out_channels, *out), spans=tuple(spans), floors=tuple(floors)
        )

    def answer_latex(self, a: OutputShapeAnswer) -> str:
        return f"${shape(a.output_hw)}$"

    def choice_value(self, a: OutputShapeAnswer):
        return tuple(a.output_hw)

    def choice_latex(self, value) -> str:
        return f"${shape(value)}$"

    def mistakes(self, p: OutputShapeParams) -> dict[str, tuple[int, int]]:
        (h, w), (kh, kw), (sh, sw), (ph, pw) = p.input_hw, p.kernel, p.stride, p.padding
        right = (_out(h, kh, sh, ph), _out(w, kw, sw, pw))
        return {
            "forgot_padding": (_out(h, kh, sh, 0), _out(w, kw, sw, 0)),
            "no_floor": (math.ceil((h + 2 * ph - kh) / sh) + 1, math.ceil((w + 2 * pw - kw) / sw) + 1),
            "forgot_plus_one": (right[0] - 1, right[1] - 1),
            "swapped_axes": (right[1], right[0]),
            "padding_once": (_out(h - ph, kh, sh, ph), _out(w - pw, kw, sw, pw)),
            "ignored_stride": (_out(h, kh, 1, ph), _out(w, kw, 1, pw)),
            "stride_swapped": (_out(h, kh, sw, ph), _out(w, kw, sh, pw)),
        }

    def fallback_mistakes(self, p, a):
        h, w = a.output_hw
        return {"off_by_one_up": (h + 1, w + 1), "height_only": (h + 1, w), "doubled": (2 * h, 2 * w)}
