"""Convolution questions: output shapes and output values."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, matrix_dims
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import matrix, shape
from examforge.solvers.conv import conv2d_output_hw, conv2d_values, conv2d_windows

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


class OutputShapeRanges(RangesModel):
    min_size: Annotated[int, Field(ge=3, le=1024)] = 7
    max_size: Annotated[int, Field(ge=3, le=1024)] = 256
    max_kernel: Annotated[int, Field(ge=1, le=11)] = 7
    max_stride: Annotated[int, Field(ge=1, le=8)] = 4

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_kernel > self.min_size:
            raise ValueError(f"max_kernel {self.max_kernel} is larger than min_size {self.min_size}")
        return self


class OutputShapeAnswer(AnswerModel):
    output_hw: tuple[int, int]
    output_shape: tuple[int, int, int]
    spans: tuple[int, int]  # H + 2P - K per dimension
    floors: tuple[int, int]  # floor(span / S) per dimension


@register
class ConvOutputShape(QuestionType):
    id = "conv.output_shape"
    mistake_sentences = {
        "forgot_padding": "You left out the padding: the input grows by 2p along each side before the kernel slides over it.",
        "no_floor": "You rounded up: a window that does not fit completely is dropped, so the division is rounded down (floor).",
        "forgot_plus_one": "You forgot the +1: the kernel's first position counts too, so there are (H + 2p - k)/s + 1 positions.",
        "swapped_axes": "You swapped height and width: the first number is the height (rows), the second the width (columns).",
        "padding_once": "You padded only one side: padding p adds p rows on top and p at the bottom (2p in all).",
        "ignored_stride": "You ignored the stride: with stride s the kernel jumps s pixels, so divide by s before adding 1.",
        "stride_swapped": "You used the width's stride for the height (and the other way round).",
    }
    summary = "Output height and width of a 2-D convolution with per-axis kernel, stride and padding."
    mirrors = "002 Part 1 Q4 (3x5 filter, strides 1 and 3, 128x128 input)"
    Params = OutputShapeParams
    Answer = OutputShapeAnswer
    answer_format = AnswerFormat("shape")
    Ranges = OutputShapeRanges
    forms = ("free", "mc", "tf")
    seed_example = {"input_hw": [128, 128], "kernel": [3, 5], "stride": [1, 3], "padding": [0, 0],
                    "in_channels": 1, "out_channels": 1}
    box_height = "3cm"

    def sample(self, rng: np.random.Generator, ranges: "OutputShapeRanges") -> OutputShapeParams:
        r = ranges
        sizes = [n for n in _SIZES if r.min_size <= n <= r.max_size]
        small_hi = min(64, r.max_size)

        def side() -> int:
            if sizes and (rng.random() < 0.6 or small_hi < r.min_size):
                return int(rng.choice(sizes))
            return int(rng.integers(r.min_size, max(r.min_size, small_hi) + 1))

        h = side()
        w = h if rng.random() < 0.7 else side()
        kernels = [k for k in (1, 2, 3, 3, 4, 5, 5, 7) if k <= r.max_kernel] or [r.max_kernel]
        kh = int(rng.choice(kernels))
        kw = kh if rng.random() < 0.6 else int(rng.choice(kernels))
        sh = int(rng.integers(1, r.max_stride + 1))
        sw = sh if rng.random() < 0.6 else int(rng.integers(1, r.max_stride + 1))
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
        return f"$H' \\times W' = {shape(a.output_hw)}$; output shape ${shape(a.output_shape)}$"

    def key_texts(self, a: OutputShapeAnswer) -> list[str]:
        return [shape(a.output_hw).replace(r"\times", "x"), shape(a.output_shape).replace(r"\times", "x")]

    def choice_value(self, a: OutputShapeAnswer):
        return tuple(a.output_hw)

    def choice_latex(self, value) -> str:
        return f"${shape(value)}$"

    def mistakes(self, p: OutputShapeParams) -> dict[str, tuple[int, int]]:
        (h, w), (kh, kw), (sh, sw), (ph, pw) = p.input_hw, p.kernel, p.stride, p.padding
        right = (_out(h, kh, sh, ph), _out(w, kw, sw, pw))
        wrong = {
            "forgot_padding": (_out(h, kh, sh, 0), _out(w, kw, sw, 0)),
            "no_floor": (math.ceil((h + 2 * ph - kh) / sh) + 1, math.ceil((w + 2 * pw - kw) / sw) + 1),
            "forgot_plus_one": (right[0] - 1, right[1] - 1),
            "swapped_axes": (right[1], right[0]),
            "padding_once": (_out(h - ph, kh, sh, ph), _out(w - pw, kw, sw, pw)),
            "ignored_stride": (_out(h, kh, 1, ph), _out(w, kw, 1, pw)),
            "stride_swapped": (_out(h, kh, sw, ph), _out(w, kw, sh, pw)),
        }
        # A feature map with a zero or negative side is not a believable option.
        return {name: dims for name, dims in wrong.items() if min(dims) >= 1}

    def fallback_mistakes(self, p, a):
        h, w = a.output_hw
        return {"off_by_one_up": (h + 1, w + 1), "height_only": (h + 1, w), "doubled": (2 * h, 2 * w),
                "width_only": (h, w + 1)}  # distinct from the rest even for a 1 x 1 output


# -- conv.forward_values ---------------------------------------------------------------------

Entry = Annotated[int, Field(ge=-20, le=20)]
IntMatrix = tuple[tuple[Entry, ...], ...]

MAX_INPUT_SIDE = 8
MAX_KERNEL_SIDE = 5
MAX_OUTPUT_SIDE = 6


def _pad(m, p: int) -> list[list[int]]:
    w = len(m[0]) + 2 * p
    zeros = [[0] * w for _ in range(p)]
    return zeros + [[0] * p + list(row) + [0] * p for row in m] + [list(z) for z in zeros]


def _correlate(padded, kernel, stride: int) -> tuple[tuple[int, ...], ...] | None:
    """Plain loops over an already padded input; None when the kernel does not fit."""
    kh, kw = len(kernel), len(kernel[0])
    h, w = len(padded), len(padded[0])
    if kh > h or kw > w:
        return None
    rows = []
    for top in range(0, h - kh + 1, stride):
        row = []
        for left in range(0, w - kw + 1, stride):
            row.append(sum(padded[top + a][left + b] * kernel[a][b] for a in range(kh) for b in range(kw)))
        rows.append(tuple(row))
    return tuple(rows)


def _transpose(m) -> tuple[tuple[int, ...], ...]:
    return tuple(zip(*m))


def _rot180(m) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(reversed(row)) for row in reversed(m))


class ForwardValuesParams(ParamsModel):
    input: IntMatrix
    kernel: IntMatrix
    stride: Annotated[int, Field(ge=1, le=4)]
    padding: Annotated[int, Field(ge=0, le=3)]

    @model_validator(mode="after")
    def _consistent(self):
        h, w = matrix_dims(self.input, "input")
        kh, kw = matrix_dims(self.kernel, "kernel")
        if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
            raise ValueError(f"input is {h}x{w}; at most {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} keeps it hand-computable")
        if kh > MAX_KERNEL_SIDE or kw > MAX_KERNEL_SIDE:
            raise ValueError(f"kernel is {kh}x{kw}; at most {MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE} is allowed")
        p = self.padding
        if p >= min(kh, kw):
            raise ValueError(
                f"padding {p} must be smaller than the kernel ({kh}x{kw}), "
                "otherwise some outputs see only padding zeros"
            )
        if kh > h + 2 * p or kw > w + 2 * p:
            raise ValueError(
                f"kernel {kh}x{kw} does not fit the padded input "
                f"{h + 2 * p}x{w + 2 * p} (input {h}x{w} + 2*{p})"
            )
        oh, ow = _out(h, kh, self.stride, p), _out(w, kw, self.stride, p)
        if oh > MAX_OUTPUT_SIDE or ow > MAX_OUTPUT_SIDE:
            raise ValueError(
                f"the output would be {oh}x{ow}; at most {MAX_OUTPUT_SIDE}x{MAX_OUTPUT_SIDE} "
                "keeps it hand-computable"
            )
        return self


class ConvWindow(BaseModel):
    """One output entry: 1-based position, the (input, weight) pairs multiplied, their sum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    i: int
    j: int
    products: tuple[tuple[int, int], ...]
    value: int


class ForwardValuesAnswer(AnswerModel):
    output: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, int]
    input_shape: tuple[int, int]
    kernel_shape: tuple[int, int]
    spans: tuple[int, int]  # N + 2P - K per axis
    padded_input: tuple[tuple[int, ...], ...]
    windows: tuple[ConvWindow, ...]  # row-major over the output


def _exact_int(x: float, what: str) -> int:
    n = int(round(x))
    if abs(x - n) > 1e-9:
        raise ArithmeticError(f"conv.forward_values: {what} = {x} is not an integer")
    return n


def _fv_shapes(p: ForwardValuesParams) -> dict:
    """Sizes for the worked solution: input, kernel, N + 2P - K per axis and the output size."""
    h, w = len(p.input), len(p.input[0])
    kh, kw = len(p.kernel), len(p.kernel[0])
    spans = (h + 2 * p.padding - kh, w + 2 * p.padding - kw)
    return {
        "output_shape": (spans[0] // p.stride + 1, spans[1] // p.stride + 1),
        "input_shape": (h, w),
        "kernel_shape": (kh, kw),
        "spans": spans,
    }


# (kernel, stride, padding) -> input sides whose output is 2..cap per axis; cap 4 for 2x2
# kernels and 3 for larger ones, so at most 16 four-term or 9 nine-term sums by hand.
def _fv_combos(
    min_kernel: int = 2, max_kernel: int = 3, max_stride: int = 2, max_padding: int = 1,
    min_side: int = 4, max_side: int = 6,
) -> tuple[tuple[int, int, int, tuple[int, ...]], ...]:
    return tuple(
        (k, s, p, sizes)
        for k in range(min_kernel, max_kernel + 1)
        for s in range(1, max_stride + 1)
        for p in range(0, min(max_padding, k - 1) + 1)
        if (sizes := tuple(n for n in range(min_side, max_side + 1)
                           if 2 <= _out(n, k, s, p) <= (4 if k == 2 else 3)))
    )


class ForwardValuesRanges(RangesModel):
    min_kernel: Annotated[int, Field(ge=2, le=MAX_KERNEL_SIDE)] = 2
    max_kernel: Annotated[int, Field(ge=2, le=MAX_KERNEL_SIDE)] = 3
    max_stride: Annotated[int, Field(ge=1, le=4)] = 2
    max_padding: Annotated[int, Field(ge=0, le=3)] = 1
    min_side: Annotated[int, Field(ge=1, le=MAX_INPUT_SIDE)] = 4
    max_side: Annotated[int, Field(ge=1, le=MAX_INPUT_SIDE)] = 6
    min_entry: Annotated[int, Field(ge=-20, le=20)] = -2
    max_entry: Annotated[int, Field(ge=-20, le=20)] = 3
    min_weight: Annotated[int, Field(ge=-20, le=20)] = -1
    max_weight: Annotated[int, Field(ge=-20, le=20)] = 2

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_weight == self.max_weight == 0:
            raise ValueError("min_weight = max_weight = 0 gives all-zero kernels")
        if self.min_entry == self.max_entry == 0:
            raise ValueError("min_entry = max_entry = 0 gives all-zero inputs")
        if not self.combos:
            raise ValueError(
                f"no kernel {self.min_kernel}..{self.max_kernel}, stride 1..{self.max_stride} and padding "
                f"0..{self.max_padding} gives a 2..4 output from an input side {self.min_side}..{self.max_side}"
            )
        return self

    @property
    def combos(self) -> tuple[tuple[int, int, int, tuple[int, ...]], ...]:
        return _fv_combos(self.min_kernel, self.max_kernel, self.max_stride, self.max_padding,
                          self.min_side, self.max_side)



@register
class ConvForwardValues(QuestionType):
    id = "conv.forward_values"
    summary = "Output values of a single-channel 2-D convolution (cross-correlation) with stride and padding."
    mirrors = "001 Q3 (4x4 input, 2x2 filter, stride 1 / padding 1 stride 2)"
    seed_example = {"input": [[1, 0, 2, 1], [2, 1, 0, 0], [1, 2, 1, 2], [0, 1, 2, 1]],
                    "kernel": [[1, -1], [0, 1]], "stride": 1, "padding": 0}
    Params = ForwardValuesParams
    Answer = ForwardValuesAnswer
    answer_format = AnswerFormat("matrix")
    Ranges = ForwardValuesRanges
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: ForwardValuesRanges) -> ForwardValuesParams:
        r = ranges
        combos = r.combos
        k, s, p, sizes = combos[int(rng.integers(len(combos)))]
        h = int(rng.choice(sizes))
        w = h if rng.random() < 0.7 else int(rng.choice(sizes))
        # Mostly non-negative inputs (when the range allows), sometimes the full range.
        low = min(max(0, r.min_entry), r.max_entry) if rng.random() < 0.6 else r.min_entry
        def draw(rng):
            image = rng.integers(low, r.max_entry + 1, size=(h, w))
            kernel = rng.integers(r.min_weight, r.max_weight + 1, size=(k, k))
            if np.count_nonzero(kernel) < 2:
                return None
            out = _correlate(_pad(image.tolist(), p), kernel.tolist(), s)
            if out is None or not any(any(row) for row in out):
                return None
            return ForwardValuesParams(
                input=tuple(map(tuple, image.tolist())),
                kernel=tuple(map(tuple, kernel.tolist())),
                stride=s,
                padding=p,
            )

        return draw_until(rng, draw, tries=100, type_id=self.id, what="non-degenerate input/kernel", ranges=r)

    def solve(self, p: ForwardValuesParams) -> ForwardValuesAnswer:
        values = conv2d_values(p.input, p.kernel, stride=p.stride, padding=p.padding)
        padded, grid = conv2d_windows(p.input, p.kernel, stride=p.stride, padding=p.padding)
        output = tuple(tuple(_exact_int(v, "an output entry") for v in row) for row in values)
        flat_kernel = [w for row in p.kernel for w in row]
        windows = []
        for r, row in enumerate(grid):
            for c, window in enumerate(row):
                xs = [_exact_int(x, "an input entry") for x in window]
                if sum(x * w for x, w in zip(xs, flat_kernel)) != output[r][c]:
                    raise ArithmeticError(f"{self.id}: window ({r}, {c}) disagrees with conv2d")
                windows.append(
                    ConvWindow(i=r + 1, j=c + 1, products=tuple(zip(xs, flat_kernel)), value=output[r][c])
                )
        shapes = _fv_shapes(p)
        if shapes["output_shape"] != (len(output), len(output[0])):
            raise ArithmeticError(f"{self.id}: conv2d output {len(output)}x{len(output[0])} disagrees with the formula")
        return ForwardValuesAnswer(
            output=output,
            **shapes,
            padded_input=tuple(tuple(_exact_int(x, "a padded entry") for x in row) for row in padded),
            windows=tuple(windows),
        )

    def reference(self, p: ForwardValuesParams) -> ForwardValuesAnswer:
        padded = np.pad(np.array(p.input, dtype=np.int64), p.padding)
        ker = np.array(p.kernel, dtype=np.int64)
        kh, kw = ker.shape
        oh = (padded.shape[0] - kh) // p.stride + 1
        ow = (padded.shape[1] - kw) // p.stride + 1
        out = np.zeros((oh, ow), dtype=np.int64)
        windows = []
        for r in range(oh):
            for c in range(ow):
                patch = padded[r * p.stride : r * p.stride + kh, c * p.stride : c * p.stride + kw]
                out[r, c] = int((patch * ker).sum())
                pairs = tuple((int(x), int(w)) for x, w in zip(patch.ravel(), ker.ravel()))
                windows.append(ConvWindow(i=r + 1, j=c + 1, products=pairs, value=int(out[r, c])))
        return ForwardValuesAnswer(
            output=tuple(map(tuple, out.tolist())),
            output_shape=(oh, ow),
            input_shape=(len(p.input), len(p.input[0])),
            kernel_shape=(kh, kw),
            spans=(padded.shape[0] - kh, padded.shape[1] - kw),
            padded_input=tuple(map(tuple, padded.tolist())),
            windows=tuple(windows),
        )

    def answer_latex(self, a: ForwardValuesAnswer) -> str:
        return f"$Y = {matrix(a.output)}$"

    def key_texts(self, a: ForwardValuesAnswer) -> list[str]:
        # pdftotext reads a matrix row by row: each row's entries, in order.
        return [" ".join(str(v) for v in row) for row in a.output]

    def choice_value(self, a: ForwardValuesAnswer):
        return tuple(tuple(row) for row in a.output)

    def choice_latex(self, value) -> str:
        return f"${matrix(value)}$"

    def mistakes(self, p: ForwardValuesParams) -> dict:
        padded = _pad(p.input, p.padding)
        right = _correlate(padded, p.kernel, p.stride)
        wrong = {
            "flipped_kernel": _correlate(padded, _rot180(p.kernel), p.stride),
            "forgot_padding": _correlate(p.input, p.kernel, p.stride) if p.padding else None,
            "kernel_transposed": _correlate(padded, _transpose(p.kernel), p.stride),
            "ignored_stride": _correlate(padded, p.kernel, 1) if p.stride > 1 else None,
            "output_transposed": _transpose(right),
            "dropped_minus_signs": _correlate(padded, [[abs(w) for w in row] for row in p.kernel], p.stride),
        }
        return {name: value for name, value in wrong.items() if value is not None}

    def fallback_mistakes(self, p: ForwardValuesParams, a: ForwardValuesAnswer) -> dict:
        y = [list(row) for row in a.output]

        def bumped(r: int, c: int, d: int):
            m = [list(row) for row in y]
            m[r][c] += d
            return tuple(map(tuple, m))

        return {
            "corner_plus_one": bumped(0, 0, 1),
            "corner_minus_one": bumped(0, 0, -1),
            "last_entry_plus_one": bumped(-1, -1, 1),
            "all_plus_one": tuple(tuple(v + 1 for v in row) for row in y),
            "doubled": tuple(tuple(2 * v for v in row) for row in y),
            "negated": tuple(tuple(-v for v in row) for row in y),
            "corner_plus_two": bumped(0, 0, 2),
        }
