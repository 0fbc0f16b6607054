"""Jacobian questions: the size and the structural zeros of the Jacobians of a matrix product."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from examforge.figures import CellGrid
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import shape
from examforge.solvers.jacobian import matmul_jacobians

Dim = Annotated[int, Field(ge=1, le=6)]


class MatmulParams(ParamsModel):
    a_shape: tuple[Dim, Dim]
    b_shape: tuple[Dim, Dim]

    @model_validator(mode="after")
    def _inner_dims_agree(self):
        if self.a_shape[1] != self.b_shape[0]:
            raise ValueError(
                f"a_shape[1] = {self.a_shape[1]} must equal b_shape[0] = {self.b_shape[0]} "
                "(C = A B needs the inner dimensions to agree)"
            )
        return self

    @property
    def m(self) -> int:
        return self.a_shape[0]

    @property
    def k(self) -> int:
        return self.a_shape[1]

    @property
    def n(self) -> int:
        return self.b_shape[1]

    @property
    def figure_unit(self) -> float:
        """Side of one Jacobian cell in the figure (cm): both patterns fit side by side."""
        widest = max(self.m * self.k + self.k * self.n, 2 * self.m * self.n)
        return math.floor(min(0.3, 13.0 / widest) * 1000) / 1000


class MatmulRanges(RangesModel):
    min_dim: Annotated[int, Field(ge=1, le=6)] = 2
    max_dim: Annotated[int, Field(ge=1, le=6)] = 6


Cell = tuple[int, int]


class MatmulAnswer(AnswerModel):
    dC_dA_entries: int
    dC_dA_zeros: int
    dC_dB_entries: int
    dC_dB_zeros: int
    dC_dA_nonzeros: int
    dC_dB_nonzeros: int
    c_shape: tuple[int, int]
    dC_dA_shape: tuple[int, int]  # (#outputs, #inputs)
    dC_dB_shape: tuple[int, int]
    dC_dA_cells: tuple[Cell, ...]  # (row, column) of every entry that can be nonzero, 0-based
    dC_dB_cells: tuple[Cell, ...]


def _cells(mask) -> tuple[Cell, ...]:
    return tuple((r, c) for r, row in enumerate(mask) for c, v in enumerate(row) if v)


@register
class JacobianMatmul(QuestionType):
    id = "jacobian.matmul"
    summary = "Size and structural zeros of the Jacobians dC/dA and dC/dB of a matrix product C = AB."
    mirrors = "001 Problem 1 (A 2x3, B 3x5: dC/dA 60 entries, 30 zero; dC/dB 150 entries, 120 zero)"
    Params = MatmulParams
    Answer = MatmulAnswer
    answer_format = AnswerFormat("vector", labels=("∂C/∂A: ", " entries, ", " always zero; ∂C/∂B: ", " entries, ", " always zero"))
    Ranges = MatmulRanges
    seed_example = {"a_shape": [2, 3], "b_shape": [3, 5]}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: MatmulRanges) -> MatmulParams:
        lo, hi = ranges.min_dim, ranges.max_dim
        m, k, n = (int(rng.integers(lo, hi + 1)) for _ in range(3))
        if m == n and hi > lo and rng.random() < 0.7:  # m != n tells the two Jacobians apart
            n = int(rng.choice([d for d in range(lo, hi + 1) if d != m]))
        return MatmulParams(a_shape=(m, k), b_shape=(k, n))

    def solve(self, p: MatmulParams) -> MatmulAnswer:
        mask_a, mask_b = matmul_jacobians(p.a_shape, p.b_shape)
        cells_a, cells_b = _cells(mask_a), _cells(mask_b)
        shape_a = (len(mask_a), len(mask_a[0]))
        shape_b = (len(mask_b), len(mask_b[0]))
        ea, eb = shape_a[0] * shape_a[1], shape_b[0] * shape_b[1]
        return MatmulAnswer(
            dC_dA_entries=ea, dC_dA_zeros=ea - len(cells_a),
            dC_dB_entries=eb, dC_dB_zeros=eb - len(cells_b),
            dC_dA_nonzeros=len(cells_a), dC_dB_nonzeros=len(cells_b),
            c_shape=(p.m, p.n), dC_dA_shape=shape_a, dC_dB_shape=shape_b,
            dC_dA_cells=cells_a, dC_dB_cells=cells_b,
        )

    def reference(self, p: MatmulParams) -> MatmulAnswer:
        m, k, n = p.m, p.k, p.n
        # dC_ij/dA_rl = B_lj if r == i; dC_ij/dB_rl = A_ir if l == j (rows i*n + j, columns row-major)
        cells_a = tuple((i * n + j, r * k + l) for i in range(m) for j in range(n)
                        for r in range(m) for l in range(k) if r == i)
        cells_b = tuple((i * n + j, r * n + l) for i in range(m) for j in range(n)
                        for r in range(k) for l in range(n) if l == j)
        return MatmulAnswer(
            dC_dA_entries=m * n * m * k, dC_dA_zeros=m * n * m * k - m * n * k,
            dC_dB_entries=m * n * k * n, dC_dB_zeros=m * n * k * n - m * n * k,
            dC_dA_nonzeros=m * n * k, dC_dB_nonzeros=m * n * k,
            c_shape=(m, n), dC_dA_shape=(m * n, m * k), dC_dB_shape=(m * n, k * n),
            dC_dA_cells=cells_a, dC_dB_cells=cells_b,
        )

    # -- presentation ------------------------------------------------------------------------

    def pattern_figures(self, p: MatmulParams, a: MatmulAnswer) -> tuple[CellGrid, CellGrid]:
        """The two Jacobians' patterns: the entries that can be nonzero shaded, one block per row of
        A (left) and per column of B (right)."""
        def pattern(name, dims, cells, blocks):
            return CellGrid(rows=dims[0], cols=dims[1], cell_cm=p.figure_unit, shaded=cells, shade="blue!45",
                            rule="gray!40", rule_pt=0.2, blocks=blocks, font="\\small",
                            above=rf"$\partial C/\partial {name}$ (${shape(dims)}$)")

        return (pattern("A", a.dC_dA_shape, a.dC_dA_cells, (p.n, p.k)),
                pattern("B", a.dC_dB_shape, a.dC_dB_cells, (p.n, p.n)))

    def answer_latex(self, a: MatmulAnswer) -> str:
        return self.choice_latex(self.choice_value(a))

    def key_texts(self, a: MatmulAnswer) -> list[str]:
        return [f"{a.dC_dA_entries} entries, {a.dC_dA_zeros} always zero",
                f"{a.dC_dB_entries} entries, {a.dC_dB_zeros} always zero"]

    def choice_value(self, a: MatmulAnswer) -> tuple[int, int, int, int]:
        return (a.dC_dA_entries, a.dC_dA_zeros, a.dC_dB_entries, a.dC_dB_zeros)

    def choice_latex(self, value) -> str:
        ea, za, eb, zb = value
        return (f"$\\partial C/\\partial A$: {ea} entries, {za} always zero; "
                f"$\\partial C/\\partial B$: {eb} entries, {zb} always zero")

    def mistakes(self, p: MatmulParams) -> dict[str, tuple[int, int, int, int]]:
        m, k, n = p.m, p.k, p.n
        ea, eb, nz = m * n * m * k, m * n * k * n, m * n * k
        wrong = {
            "zeros_and_nonzeros_swapped": (ea, nz, eb, nz),
            "no_structural_zeros": (ea, 0, eb, 0),
            "one_nonzero_per_output": (ea, ea - m * n, eb, eb - m * n),
            "a_and_b_patterns_swapped": (ea, nz * (n - 1), eb, nz * (m - 1)),
            "entries_as_inputs_only": (m * k, m * k - k, k * n, k * n - k),
        }
        return {name: v for name, v in wrong.items() if min(v) >= 0}

    def fallback_mistakes(self, p: MatmulParams, a: MatmulAnswer) -> dict[str, tuple[int, int, int, int]]:
        m, k, n = p.m, p.k, p.n
        ea, eb = a.dC_dA_entries, a.dC_dB_entries
        out = {
            "jacobians_swapped": (eb, a.dC_dB_zeros, ea, a.dC_dA_zeros),
            "nonzeros_counted_per_row_of_c": (ea, ea - m * k, eb, eb - n * k),
            "doubled_counts": (2 * ea, 2 * a.dC_dA_zeros, 2 * eb, 2 * a.dC_dB_zeros),
            "zeros_plus_one_block": (ea, a.dC_dA_zeros + n * k, eb, a.dC_dB_zeros + m * k),
        }
        return {name: v for name, v in out.items() if min(v) >= 0}
