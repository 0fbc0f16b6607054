"""Pooling questions: max- and average-pooling values, and how max-pool backward routes the
upstream gradient (to the first maximum of each window in row-major order, as PyTorch does)."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import matrix_dims
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.figures import CellGrid, Window
from examforge.registry import register
from examforge.formatting import matrix
from examforge.solvers.conv import conv2d_windows, pool2d_values
from examforge.solvers.pool import max_pool_backward, max_pool_with_argmax

Entry = Annotated[int, Field(ge=-20, le=20)]
IntMatrix = tuple[tuple[Entry, ...], ...]
Cell = tuple[int, int]

MAX_INPUT_SIDE = 8
MAX_OUTPUT_SIDE = 4


def _out(n: int, k: int, s: int) -> int:
    return (n - k) // s + 1


def _windows(x, k: int, s: int):
    """Row-major list of (top, left, values row-major) for every pooling window."""
    h, w = len(x), len(x[0])
    return [
        [(top, left, [x[top + a][left + b] for a in range(k) for b in range(k)])
         for left in range(0, w - k + 1, s)]
        for top in range(0, h - k + 1, s)
    ]


def _pick(values, *, key, last: bool = False) -> int:
    """Index (row-major in the window) of the first (or last) entry where `key` is extreme."""
    best = key(values)
    hits = [i for i, v in enumerate(values) if v == best]
    return hits[-1] if last else hits[0]


class PoolParams(ParamsModel):
    input: IntMatrix
    kernel: Annotated[int, Field(ge=2, le=4)]
    stride: Annotated[int, Field(ge=1, le=4)]

    @model_validator(mode="after")
    def _consistent(self):
        h, w = matrix_dims(self.input, "input")
        k, s = self.kernel, self.stride
        if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
            raise ValueError(f"input is {h}x{w}; at most {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} keeps it hand-computable")
        if k > h or k > w:
            raise ValueError(f"the {k}x{k} window does not fit the {h}x{w} input")
        if s > k:
            raise ValueError(f"stride {s} is larger than the window {k}: some inputs would be skipped")
        oh, ow = _out(h, k, s), _out(w, k, s)
        if oh > MAX_OUTPUT_SIDE or ow > MAX_OUTPUT_SIDE:
            raise ValueError(f"the output would be {oh}x{ow}; at most {MAX_OUTPUT_SIDE}x{MAX_OUTPUT_SIDE} is allowed")
        for axis, n in (("height", h), ("width", w)):
            if (n - k) % s:
                raise ValueError(
                    f"input {axis} {n}: the windows do not tile it ({n} - {k} is not a multiple of the stride {s})"
                )
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.input), len(self.input[0])

    @property
    def output_shape(self) -> tuple[int, int]:
        h, w = self.shape
        return _out(h, self.kernel, self.stride), _out(w, self.kernel, self.stride)

    @property
    def overlapping(self) -> bool:
        return self.stride < self.kernel


class PoolRanges(RangesModel):
    min_kernel: Annotated[int, Field(ge=2, le=4)] = 2
    max_kernel: Annotated[int, Field(ge=2, le=4)] = 3
    max_stride: Annotated[int, Field(ge=1, le=4)] = 3
    max_output_side: Annotated[int, Field(ge=2, le=MAX_OUTPUT_SIDE)] = 3
    min_entry: Annotated[int, Field(ge=-20, le=20)] = 0
    max_entry: Annotated[int, Field(ge=-20, le=20)] = 9

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_entry - self.min_entry < 3:
            raise ValueError(
                f"entries {self.min_entry}..{self.max_entry}: need at least 4 different values for distinct maxima"
            )
        if not _combos(self):
            raise ValueError("no window, stride and input size satisfy these ranges")
        return self


def _combos(r: PoolRanges) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    """(kernel, stride, input sides): windows tile the input and the output is 2..max_output_side.
    Non-overlapping windows (stride = kernel, the seed's case) are listed twice."""
    out = []
    for k in range(r.min_kernel, r.max_kernel + 1):
        for s in range(1, min(k, r.max_stride) + 1):
            sides = tuple(n for n in range(k, MAX_INPUT_SIDE + 1)
                          if (n - k) % s == 0 and 2 <= _out(n, k, s) <= r.max_output_side)
            if sides:
                out.extend([(k, s, sides)] * (2 if s == k else 1))
    return tuple(out)


def _draw_input(rng: np.random.Generator, r: PoolRanges) -> tuple[int, int, list[list[int]]]:
    k, s, sides = _combos(r)[int(rng.integers(len(_combos(r))))]
    h = int(rng.choice(sides))
    w = h if rng.random() < 0.6 else int(rng.choice(sides))
    x = rng.integers(r.min_entry, r.max_entry + 1, size=(h, w)).tolist()
    return k, s, x


class PoolWindow(BaseModel):
    """One output entry: 1-based position, the window's values (row-major), max, sum, mean,
    and where the max sits in the input (1-based row and column)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    i: int
    j: int
    values: tuple[int, ...]
    max: int
    total: int
    mean: float
    mean_reduces: bool  # total / count is an integer or a smaller fraction
    argmax: Cell
    ties: int  # how many entries of the window equal its maximum


def _window_models(p: PoolParams, argmax) -> tuple[PoolWindow, ...]:
    out = []
    for r, row in enumerate(_windows(p.input, p.kernel, p.stride)):
        for c, (_top, _left, values) in enumerate(row):
            m = max(values)
            out.append(PoolWindow(
                i=r + 1, j=c + 1, values=tuple(values), max=m, total=sum(values),
                mean=sum(values) / len(values),
                mean_reduces=Fraction(sum(values), len(values)).denominator != len(values),
                argmax=(argmax[r][c][0] + 1, argmax[r][c][1] + 1),
                ties=values.count(m),
            ))
    return tuple(out)


def _reference_argmax(p: PoolParams, *, last: bool = False, key=max) -> list[list[Cell]]:
    k = p.kernel
    return [
        [(top + idx // k, left + idx % k)
         for top, left, values in row
         for idx in [_pick(values, key=key, last=last)]]
        for row in _windows(p.input, k, p.stride)
    ]


def _cells(windows) -> tuple[Cell, ...]:
    """The 0-based input cells holding a routed maximum, for the figures."""
    return tuple(sorted({(w.argmax[0] - 1, w.argmax[1] - 1) for w in windows}))


def _input_figure(p: PoolParams, baseline: str) -> CellGrid:
    """X with the first window (solid) and the next one, one stride to the right (dashed)."""
    h, w = p.shape
    k, s = p.kernel, p.stride
    windows = [Window(top=0, left=0, rows=k, cols=k, colour="red!75!black", width_pt=1.2)]
    if s + k <= w:  # a single window per row (possible with given params) has no next one
        windows.append(Window(top=0, left=s, rows=k, cols=k, colour="blue!70!black", width_pt=0.8,
                              dashed=True, inset=0.08))
    return CellGrid(rows=h, cols=w, cell_cm=0.6, values=_cell_values(p.input), windows=tuple(windows),
                    left="$X = {}$", baseline=baseline)


def _routed_figure(values, cells) -> CellGrid:
    """`values` with the cells holding a routed maximum shaded."""
    return CellGrid(rows=len(values), cols=len(values[0]), cell_cm=0.5, values=_cell_values(values),
                    font="\\small", shaded=cells)


def _cell_values(rows) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(f"${v}$" for v in row) for row in rows)


def _as_int_matrix(rows, what: str) -> tuple[tuple[int, ...], ...]:
    out = []
    for row in rows:
        ints = []
        for v in row:
            n = int(round(v))
            if abs(v - n) > 1e-9:
                raise ArithmeticError(f"{what} entry {v} is not an integer")
            ints.append(n)
        out.append(tuple(ints))
    return tuple(out)


def _bumped(m, d: int, where: tuple[int, int] = (0, 0)):
    rows = [list(row) for row in m]
    rows[where[0]][where[1]] += d
    return tuple(map(tuple, rows))


# -- pool.values -------------------------------------------------------------------------------


class PoolValuesAnswer(AnswerModel):
    max_output: tuple[tuple[int, ...], ...]
    avg_output: tuple[tuple[float, ...], ...]
    output_shape: tuple[int, int]
    spans: tuple[int, int]  # N - K per axis
    windows: tuple[PoolWindow, ...]
    argmax_cells: tuple[Cell, ...]  # where the maxima sit (0-based), for the figure


@register
class PoolValues(QuestionType):
    id = "pool.values"
    summary = "Max- and average-pooling outputs of a small integer feature map (window and stride given)."
    mirrors = "001 Q3(c) (2x2 max-pool, stride 2, on the 4x4 input I: every maximum is 2)"
    Params = PoolParams
    Answer = PoolValuesAnswer
    answer_format = AnswerFormat("matrix")
    Ranges = PoolRanges
    seed_example = {"input": [[1, 0, 2, 1], [2, 1, 0, 0], [1, 2, 1, 2], [0, 1, 2, 1]], "kernel": 2, "stride": 2}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: PoolRanges) -> PoolParams:
        k, s, x = _draw_input(rng, ranges)
        return PoolParams(input=x, kernel=k, stride=s)

    def solve(self, p: PoolParams) -> PoolValuesAnswer:
        k, s = p.kernel, p.stride
        max_out = _as_int_matrix(pool2d_values(p.input, kernel=k, stride=s, mode="max"), "max-pool")
        avg_out = tuple(tuple(row) for row in pool2d_values(p.input, kernel=k, stride=s, mode="avg"))
        _, argmax = max_pool_with_argmax(p.input, kernel=k, stride=s)
        _, grid = conv2d_windows(p.input, [[1] * k] * k, stride=s, padding=0)
        windows = _window_models(p, argmax)
        unfolded = [tuple(_as_int_matrix([w], "window")[0]) for row in grid for w in row]
        if unfolded != [w.values for w in windows]:
            raise ArithmeticError(f"{self.id}: torch's unfolded windows disagree with the window slices")
        return PoolValuesAnswer(
            max_output=max_out,
            avg_output=avg_out,
            output_shape=(len(max_out), len(max_out[0])),
            spans=(p.shape[0] - k, p.shape[1] - k),
            windows=windows,
            argmax_cells=_cells(windows),
        )

    def reference(self, p: PoolParams) -> PoolValuesAnswer:
        wins = _windows(p.input, p.kernel, p.stride)
        argmax = _reference_argmax(p)
        windows = _window_models(p, argmax)
        return PoolValuesAnswer(
            max_output=tuple(tuple(max(v) for _, _, v in row) for row in wins),
            avg_output=tuple(tuple(float(Fraction(sum(v), len(v))) for _, _, v in row) for row in wins),
            output_shape=p.output_shape,
            spans=(p.shape[0] - p.kernel, p.shape[1] - p.kernel),
            windows=windows,
            argmax_cells=_cells(windows),
        )

    def input_figure(self, p: PoolParams) -> CellGrid:
        return _input_figure(p, baseline="bottom")

    def argmax_figure(self, p: PoolParams, a: PoolValuesAnswer) -> CellGrid:
        return _routed_figure(p.input, a.argmax_cells)

    def answer_latex(self, a: PoolValuesAnswer) -> str:
        return (f"max pooling ${matrix(a.max_output)}$, "
                f"average pooling ${matrix(a.avg_output, fractions=True)}$")

    def key_texts(self, a: PoolValuesAnswer) -> list[str]:
        return [" ".join(str(v) for v in row) for row in a.max_output]

    def choice_value(self, a: PoolValuesAnswer):
        return a.max_output

    def choice_latex(self, value) -> str:
        return f"${matrix(value, fractions=True)}$"

    def mistakes(self, p: PoolParams) -> dict:
        k, s = p.kernel, p.stride

        def pooled(fn, stride=s):
            return tuple(tuple(fn(v) for _, _, v in row) for row in _windows(p.input, k, stride))

        right = pooled(max)
        wrong = {
            "min_pooling": pooled(min),
            "average_pooling": pooled(lambda v: Fraction(sum(v), len(v))),
            "ignored_stride": pooled(max, 1) if s > 1 else None,
            "stride_as_window": pooled(max, k) if s < k and all((n - k) % k == 0 for n in p.shape) else None,
            "output_transposed": tuple(zip(*right)),
            "second_largest": pooled(lambda v: sorted(v)[-2]),
        }
        out = {}
        for name, value in wrong.items():
            if value is None:
                continue
            out[name] = tuple(tuple(int(x) if Fraction(x).denominator == 1 else float(x) for x in row) for row in value)
        return out

    def fallback_mistakes(self, p: PoolParams, a: PoolValuesAnswer) -> dict:
        y = a.max_output
        return {
            "corner_plus_one": _bumped(y, 1),
            "corner_minus_one": _bumped(y, -1),
            "last_entry_plus_one": _bumped(y, 1, (-1, -1)),
            "all_plus_one": tuple(tuple(v + 1 for v in row) for row in y),
            "all_minus_one": tuple(tuple(v - 1 for v in row) for row in y),
        }


# -- pool.max_backward -------------------------------------------------------------------------

Grad = Annotated[int, Field(ge=-20, le=20)]


class MaxBackwardParams(PoolParams):
    upstream: tuple[tuple[Grad, ...], ...]  # dL/dY, one entry per pooled output

    @model_validator(mode="after")
    def _upstream_matches(self):
        gh, gw = matrix_dims(self.upstream, "upstream")
        oh, ow = self.output_shape
        if (gh, gw) != (oh, ow):
            raise ValueError(f"upstream is {gh}x{gw} but the pooled output is {oh}x{ow}")
        return self


class MaxBackwardRanges(PoolRanges):
    min_grad: Annotated[int, Field(ge=-20, le=20)] = -3
    max_grad: Annotated[int, Field(ge=-20, le=20)] = 6

    @model_validator(mode="after")
    def _grads(self):
        if len([g for g in range(self.min_grad, self.max_grad + 1) if g]) < 2:
            raise ValueError(f"gradients {self.min_grad}..{self.max_grad}: need at least 2 nonzero values")
        return self


class MaxBackwardAnswer(AnswerModel):
    output: tuple[tuple[int, ...], ...]  # the max-pooled Y
    grad_input: tuple[tuple[int, ...], ...]  # dL/dX
    output_shape: tuple[int, int]
    windows: tuple[PoolWindow, ...]
    argmax_cells: tuple[Cell, ...]  # 0-based, for the figure
    tied_windows: tuple[tuple[int, int], ...]  # 1-based (i, j) of windows whose maximum occurs twice or more
    shared_cells: tuple[Cell, ...]  # 1-based input cells that receive gradient from two or more windows


def _route(p: MaxBackwardParams, argmax, *, add: bool = True, every_tie: bool = False, ones: bool = False):
    h, w = p.shape
    grad = [[0] * w for _ in range(h)]
    wins = _windows(p.input, p.kernel, p.stride)
    for r, row in enumerate(wins):
        for c, (top, left, values) in enumerate(row):
            g = 1 if ones else p.upstream[r][c]
            if every_tie:
                m = max(values)
                cells = [(top + i // p.kernel, left + i % p.kernel) for i, v in enumerate(values) if v == m]
            else:
                cells = [argmax[r][c]]
            for y, x in cells:
                grad[y][x] = grad[y][x] + g if add else g
    return tuple(map(tuple, grad))


@register
class PoolMaxBackward(QuestionType):
    id = "pool.max_backward"
    summary = "Max-pool backward: route an upstream gradient to each window's argmax (ties and overlaps as PyTorch)."
    mirrors = "001 Q3(c) (max-pool is a router: the upstream gradient goes to the argmax only)"
    Params = MaxBackwardParams
    Answer = MaxBackwardAnswer
    answer_format = AnswerFormat("matrix")
    Ranges = MaxBackwardRanges
    seed_example = {"input": [[1, 0, 2, 1], [2, 1, 0, 0], [1, 2, 1, 2], [0, 1, 2, 1]], "kernel": 2, "stride": 2,
                    "upstream": [[1, 1], [1, 1]]}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: MaxBackwardRanges) -> MaxBackwardParams:
        k, s, x = _draw_input(rng, ranges)
        oh, ow = _out(len(x), k, s), _out(len(x[0]), k, s)
        grads = np.array([g for g in range(ranges.min_grad, ranges.max_grad + 1) if g])
        upstream = rng.choice(grads, size=(oh, ow)).tolist()
        return MaxBackwardParams(input=x, kernel=k, stride=s, upstream=upstream)

    def solve(self, p: MaxBackwardParams) -> MaxBackwardAnswer:
        k, s = p.kernel, p.stride
        values, argmax = max_pool_with_argmax(p.input, kernel=k, stride=s)
        grad = _as_int_matrix(max_pool_backward(p.input, p.upstream, kernel=k, stride=s), "dL/dX")
        return self._answer(p, _as_int_matrix(values, "max-pool"), grad, argmax)

    def reference(self, p: MaxBackwardParams) -> MaxBackwardAnswer:
        argmax = _reference_argmax(p)
        output = tuple(tuple(max(v) for _, _, v in row) for row in _windows(p.input, p.kernel, p.stride))
        return self._answer(p, output, _route(p, argmax), argmax)

    @staticmethod
    def _answer(p, output, grad, argmax) -> MaxBackwardAnswer:
        windows = _window_models(p, argmax)
        counts: dict = {}
        for w in windows:
            counts[w.argmax] = counts.get(w.argmax, 0) + 1
        return MaxBackwardAnswer(
            output=output,
            grad_input=grad,
            output_shape=(len(output), len(output[0])),
            windows=windows,
            argmax_cells=_cells(windows),
            tied_windows=tuple((w.i, w.j) for w in windows if w.ties > 1),
            shared_cells=tuple(sorted(c for c, n in counts.items() if n > 1)),
        )

    def input_figure(self, p: MaxBackwardParams) -> CellGrid:
        return _input_figure(p, baseline="middle")  # beside G, centred on it

    def gradient_figure(self, p: MaxBackwardParams, a: MaxBackwardAnswer) -> CellGrid:
        return _routed_figure(a.grad_input, a.argmax_cells)

    def answer_latex(self, a: MaxBackwardAnswer) -> str:
        return f"$Y = {matrix(a.output)}$, $\\dfrac{{\\partial L}}{{\\partial X}} = {matrix(a.grad_input)}$"

    def key_texts(self, a: MaxBackwardAnswer) -> list[str]:
        return [" ".join(str(v) for v in row) for row in a.grad_input]

    def choice_value(self, a: MaxBackwardAnswer):
        return a.grad_input

    def choice_latex(self, value) -> str:
        return f"${matrix(value, fractions=True)}$"

    def mistakes(self, p: MaxBackwardParams) -> dict:
        argmax = _reference_argmax(p)
        k = p.kernel
        everywhere = [[0] * p.shape[1] for _ in range(p.shape[0])]
        split = [[Fraction(0)] * p.shape[1] for _ in range(p.shape[0])]
        for r, row in enumerate(_windows(p.input, k, p.stride)):
            for c, (top, left, _values) in enumerate(row):
                for a in range(k):
                    for b in range(k):
                        everywhere[top + a][left + b] += p.upstream[r][c]
                        split[top + a][left + b] += Fraction(p.upstream[r][c], k * k)
        wrong = {
            "routed_to_every_entry": tuple(map(tuple, everywhere)),
            "split_evenly_like_average": tuple(
                tuple(int(v) if v.denominator == 1 else float(v) for v in row) for row in split
            ),
            "last_max_on_ties": _route(p, _reference_argmax(p, last=True)),
            "every_tied_max": _route(p, argmax, every_tie=True),
            "overwritten_not_added": _route(p, argmax, add=False),
            "routed_to_min": _route(p, _reference_argmax(p, key=min)),
            "gradient_ignored_mask_only": _route(p, argmax, ones=True),
        }
        right = _route(p, argmax)
        seen = {right}
        out = {}
        for name, value in wrong.items():  # drop the paths that coincide here (no ties, no overlap)
            if value not in seen:
                seen.add(value)
                out[name] = value
        return out

    def fallback_mistakes(self, p: MaxBackwardParams, a: MaxBackwardAnswer) -> dict:
        g = a.grad_input
        first = a.argmax_cells[0]  # 0-based
        out = {
            "first_route_plus_one": _bumped(g, 1, first),
            "first_route_negated": _bumped(g, -2 * g[first[0]][first[1]], first) if g[first[0]][first[1]] else None,
            "transposed": tuple(zip(*g)) if len(g) == len(g[0]) else None,
            "all_routes_plus_one": _route_plus(g, a.argmax_cells, 1),
            "all_routes_doubled": tuple(tuple(2 * v for v in row) for row in g),
        }
        return {name: v for name, v in out.items() if v is not None}


def _route_plus(g, cells, d: int):
    rows = [list(row) for row in g]
    for r, c in cells:
        rows[r][c] += d
    return tuple(map(tuple, rows))
