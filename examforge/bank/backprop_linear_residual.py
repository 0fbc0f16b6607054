"""backprop.linear_residual: gradients through a residual connection y = vW + v (seed 000 MC2.1),
through a linear layer y = Wx + b (dL/dW = g x^T, dL/dx = W^T g; seed 003 Q3), and the Jacobian
of y = V tanh(Wx + b) (seed 003 Q6).

Which of the three is asked is the Params field `kind`, so a spec pins it with
`overrides: {kind: linear}`. Every draw fills the numbers of all three kinds (W always; the
input and upstream gradient for `residual` and `linear`; the activations h and the output
matrix V for `tanh_jacobian`), from the same lists whichever is asked, so a pinned slot gives
every student the same kind of question at the same difficulty. The statement shows only what
its kind uses; params written by hand need only that.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import draw_until, pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt, matrix
from examforge.solvers import clean
from examforge.solvers.linear_backward import linear_backward, residual_row_backward, tanh_layer_jacobian

Kind = Literal["residual", "linear", "tanh_jacobian"]
KINDS: tuple[str, ...] = ("residual", "linear", "tanh_jacobian")
Entry = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
Activation = Annotated[float, Field(gt=-1, lt=1, allow_inf_nan=False)]
Vec = tuple[float, ...]
Mat = tuple[tuple[float, ...], ...]

_GRADS = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)
_HIDDEN = (-0.8, -0.6, -0.5, 0.0, 0.5, 0.6, 0.8)  # 1 - h^2 = 0.36, 0.64, 0.75, 1
MAX_DIM = 4


def _matvec(m, v) -> list[float]:
    return [sum(a * b for a, b in zip(row, v)) for row in m]


def _vecmat(v, m) -> list[float]:
    return [sum(v[i] * m[i][j] for i in range(len(v))) for j in range(len(m[0]))]


def _matmul(a, b) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def _transpose(m) -> list[list[float]]:
    return [list(col) for col in zip(*m)]


def _outer(u, v) -> list[list[float]]:
    return [[a * b for b in v] for a in u]


def _transpose_matters(W, g) -> bool:
    skew = [[W[j][i] - W[i][j] for j in range(len(W))] for i in range(len(W))]
    return any(abs(c) > 1e-12 for c in _vecmat(g, skew))


def _vec(values) -> Vec:
    return tuple(clean(v) for v in values)


def _mat(rows) -> Mat:
    return tuple(_vec(row) for row in rows)


class LinearResidualParams(ParamsModel):
    kind: Kind
    W: tuple[tuple[Entry, ...], ...]  # m x n; square for residual (and always square when drawn)
    x: tuple[Entry, ...] | None = None  # the layer input: the row v (residual) or the column x (linear)
    g: tuple[Entry, ...] | None = None  # the upstream gradient dL/dy
    h: tuple[Activation, ...] | None = None  # tanh(Wx + b) at the current input (tanh_jacobian)
    V: tuple[tuple[Entry, ...], ...] | None = None  # k x m output matrix (tanh_jacobian)

    @model_validator(mode="after")
    def _consistent(self):
        m, widths = len(self.W), sorted({len(row) for row in self.W})
        if len(widths) != 1 or not 1 <= m <= MAX_DIM or not 1 <= widths[0] <= MAX_DIM or m * widths[0] < 2:
            raise ValueError(f"W must be a rectangular matrix with 1 to {MAX_DIM} rows and columns (not 1 x 1), "
                             f"got {m} rows of lengths {widths}")
        n = widths[0]
        needs = ("x", "g") if self.kind in ("residual", "linear") else ("h", "V")
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} question needs {' and '.join(missing)}")
        if self.kind == "residual" and m != n:
            raise ValueError(f"a residual connection y = vW + v needs a square W, got {m} x {n}")
        # x feeds W's columns, g and h live on its rows (the residual's row vector v: W is square)
        for name, size, side in (("x", n, "columns"), ("g", m, "rows"), ("h", m, "rows")):
            value = getattr(self, name)
            if value is not None and len(value) != size:
                raise ValueError(f"{name} has {len(value)} entries; W has {size} {side}, so it needs {size}")
        if self.V is not None and (not 1 <= len(self.V) <= MAX_DIM or any(len(row) != m for row in self.V)):
            raise ValueError(f"V must have 1 to {MAX_DIM} rows of {m} entries (one per hidden unit), "
                             f"got rows of lengths {[len(row) for row in self.V]}")
        for name in ("W", "x", "g", "h", "V"):
            value = getattr(self, name)
            for entry in (value or ()):
                for v in (entry if isinstance(entry, tuple) else (entry,)):
                    short_decimal(v, name, 2)
        return self

    @property
    def d(self) -> int:
        """The residual's width (W is square there)."""
        return len(self.W)

    @property
    def square(self) -> bool:
        return len(self.W) == len(self.W[0])

    @property
    def WT(self) -> Mat:
        return _mat(_transpose(self.W))


class LinearResidualRanges(RangesModel):
    min_dim: Annotated[int, Field(ge=2, le=MAX_DIM)] = 2
    max_dim: Annotated[int, Field(ge=2, le=MAX_DIM)] = 3
    max_weight: Annotated[int, Field(ge=1, le=9)] = 3  # |W_ij|, |x_i|
    min_outputs: Annotated[int, Field(ge=1, le=MAX_DIM)] = 1  # rows of V
    max_outputs: Annotated[int, Field(ge=1, le=MAX_DIM)] = 2


class LinearResidualAnswer(AnswerModel):
    kind: Kind
    # residual: y = vW + v
    output: Vec | None = None
    skip_path: Vec | None = None  # g
    weight_path: Vec | None = None  # g W^T
    grad_v: Vec | None = None  # g (I + W^T)
    # residual (v^T g) and linear (g x^T)
    grad_W: Mat | None = None
    # linear: y = Wx + b
    grad_x: Vec | None = None  # W^T g
    grad_b: Vec | None = None  # g
    # tanh_jacobian: y = V tanh(Wx + b)
    local: Vec | None = None  # 1 - h^2
    scaled_W: Mat | None = None  # diag(1 - h^2) W
    jacobian: Mat | None = None  # V diag(1 - h^2) W
    grading_tol = 0.01


@register
class BackpropLinearResidual(QuestionType):
    id = "backprop.linear_residual"
    kind_field = "kind"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("Backward pass through a residual connection y = vW + v, a linear layer y = Wx + b "
               "(dL/dW = g x^T, dL/dx = W^T g), or the Jacobian of V tanh(Wx + b) (the kind is a Params field).")
    mirrors = ("000 MC2.1 (y = vW + v: dL/dv = dL/dy (I + W^T)); 003 Q3 (dL/dW = g x^T, dL/dx = W^T g) "
               "and Q6 (dy/dx = V diag(1 - h^2) W)")
    Params = LinearResidualParams
    Answer = LinearResidualAnswer
    answer_format = AnswerFormat("vector")  # the residual ask; see variant_format
    Ranges = LinearResidualRanges
    forms = ("free", "mc", "tf")
    seed_example = {"kind": "residual", "W": [[2, -1], [1, 3]], "x": [1, 2], "g": [1, -1]}
    seed_comment = ("The seed questions are symbolic: 000 MC2.1 (answer C, dL/dy (I + W^T)) with d = 2 here; "
                    "examples/params/linear_residual_seed.json also has 003 Q3 (kind linear) and Q6 "
                    "(kind tanh_jacobian) with numbers.")
    box_height = "5.5cm"

    def sample(self, rng: np.random.Generator, ranges: LinearResidualRanges) -> LinearResidualParams:
        r = ranges
        kind = pick(rng, KINDS, "kind", self.id)
        d = int(rng.integers(r.min_dim, r.max_dim + 1))
        weights = list(range(-r.max_weight, r.max_weight + 1))
        inputs = [v for v in weights if v != 0]
        g = [float(rng.choice(_GRADS)) for _ in range(d)]
        # Transposes must matter: g (W^T - W) != 0 (fails for about 1 draw in 7 at d = 2).
        def draw_w(rng):
            W = [[int(rng.choice(weights)) for _ in range(d)] for _ in range(d)]
            return W if _transpose_matters(W, g) else None

        W = draw_until(rng, draw_w, tries=50, type_id=self.id, what="W with g (W^T - W) != 0", ranges=r)
        x = [int(rng.choice(inputs)) for _ in range(d)]
        if all(x[i] * g[j] == x[j] * g[i] for i in range(d) for j in range(d)):
            x[0] = -x[0]  # x parallel to g would make g x^T = x g^T
        h = [float(rng.choice(_HIDDEN)) for _ in range(d)]
        if all(v == 0 for v in h):
            h[int(rng.integers(d))] = float(rng.choice((-0.8, -0.6, -0.5, 0.5, 0.6, 0.8)))
        k = int(rng.integers(r.min_outputs, r.max_outputs + 1))
        small = (-2, -1, 0, 1, 2)
        V = [[int(rng.choice(small)) for _ in range(d)] for _ in range(k)]
        for row in V:
            if not any(row):
                row[int(rng.integers(d))] = int(rng.choice((-2, -1, 1, 2)))
        return LinearResidualParams(kind=kind, W=W, x=x, g=g, h=h, V=V)

    # -- solving -----------------------------------------------------------------------------
    def solve(self, p: LinearResidualParams) -> LinearResidualAnswer:
        if p.kind == "residual":
            r = residual_row_backward(p.W, p.x, p.g)
            return LinearResidualAnswer(kind=p.kind, output=_vec(r.output), skip_path=_vec(r.skip_path),
                                        weight_path=_vec(r.weight_path), grad_v=_vec(r.grad_v), grad_W=_mat(r.grad_w))
        if p.kind == "linear":
            r = linear_backward(p.W, p.x, p.g)
            return LinearResidualAnswer(kind=p.kind, grad_W=_mat(r.grad_w), grad_x=_vec(r.grad_x), grad_b=_vec(r.grad_b))
        r = tanh_layer_jacobian(p.W, p.V, p.h)
        return LinearResidualAnswer(kind=p.kind, local=_vec(r.local), scaled_W=_mat(r.scaled_w), jacobian=_mat(r.jacobian))

    def reference(self, p: LinearResidualParams) -> LinearResidualAnswer:
        """The closed forms, in plain Python."""
        if p.kind == "residual":
            through = _vecmat(p.g, _transpose(p.W))
            return LinearResidualAnswer(
                kind=p.kind, output=_vec(a + b for a, b in zip(_vecmat(p.x, p.W), p.x)), skip_path=_vec(p.g),
                weight_path=_vec(through), grad_v=_vec(a + b for a, b in zip(p.g, through)),
                grad_W=_mat(_outer(p.x, p.g)))
        if p.kind == "linear":
            return LinearResidualAnswer(kind=p.kind, grad_W=_mat(_outer(p.g, p.x)),
                                        grad_x=_vec(_matvec(_transpose(p.W), p.g)), grad_b=_vec(p.g))
        local = [1 - v * v for v in p.h]
        scaled = [[local[i] * w for w in row] for i, row in enumerate(p.W)]
        return LinearResidualAnswer(kind=p.kind, local=_vec(local), scaled_W=_mat(scaled),
                                    jacobian=_mat(_matmul(p.V, scaled)))

    # -- presentation --------------------------------------------------------------------------
    def answer_latex(self, a: LinearResidualAnswer) -> str:
        if a.kind == "residual":
            return (rf"$\partial L/\partial \mathbf{{v}} = {fmt(a.grad_v)}$; $\partial L/\partial W$ has rows "
                    + ", ".join(f"${fmt(row)}$" for row in a.grad_W))
        if a.kind == "linear":
            return (r"$\partial L/\partial W$ has rows " + ", ".join(f"${fmt(row)}$" for row in a.grad_W)
                    + rf"; $\partial L/\partial \mathbf{{x}} = {fmt(a.grad_x)}^\top$, "
                    + rf"$\partial L/\partial \mathbf{{b}} = {fmt(a.grad_b)}^\top$")
        return r"$\partial \mathbf{y}/\partial \mathbf{x}$ has rows " + ", ".join(f"${fmt(row)}$" for row in a.jacobian)

    def key_texts(self, a: LinearResidualAnswer) -> list[str]:
        if a.kind == "residual":
            return [str(fmt(a.grad_v))]
        if a.kind == "linear":
            return [str(fmt(row)) for row in a.grad_W] + [str(fmt(a.grad_x))]
        return [str(fmt(row)) for row in a.jacobian]

    # -- multiple choice -------------------------------------------------------------------------
    def variant_format(self, p: LinearResidualParams) -> AnswerFormat:
        # the residual gradient is a row vector, the tanh Jacobian a matrix; the linear layer's
        # answer is a matrix and a vector together: picked among the options
        return {"residual": AnswerFormat("vector"), "tanh_jacobian": AnswerFormat("matrix")}.get(p.kind, AnswerFormat("choice"))

    def choice_value(self, a: LinearResidualAnswer):
        if a.kind == "residual":
            return a.grad_v
        if a.kind == "linear":
            return (a.grad_W, a.grad_x)
        return a.jacobian

    def choice_latex(self, value) -> str:
        if isinstance(value[0], (int, float)):  # residual: a row vector
            return f"${fmt(tuple(value))}$"
        if isinstance(value[0][0], (int, float)):  # tanh_jacobian: a matrix
            return f"${matrix(value)}$"
        grad_w, grad_x = value
        return (rf"$\partial L/\partial W = {matrix(grad_w)}$, "
                rf"$\partial L/\partial \mathbf{{x}} = {fmt(tuple(grad_x))}^\top$")

    def mistakes(self, p: LinearResidualParams) -> dict:
        if p.kind == "residual":
            g, W, v = list(p.g), [list(r) for r in p.W], list(p.x)
            through = _vecmat(g, _transpose(W))
            wrong = {
                "forgot_skip_path": through,
                "forgot_transpose": [a + b for a, b in zip(g, _vecmat(g, W))],
                "identity_added_as_ones": [c + 1 for c in through],
                "skip_path_only": g,
                "multiplied_the_input": [a + b for a, b in zip(v, _vecmat(v, _transpose(W)))],
            }
            return {name: _vec(value) for name, value in wrong.items()}
        if p.kind == "linear":
            g, W, x = list(p.g), [list(r) for r in p.W], list(p.x)
            right_w, wrong_w = _outer(g, x), _outer(x, g)
            right_x = _matvec(_transpose(W), g)
            wrong = {"outer_product_transposed": (wrong_w, right_x)}
            if p.square:  # W g and diag(g * x) have the right shapes only for a square W
                diagonal = [[g[i] * x[i] if i == j else 0.0 for j in range(p.d)] for i in range(p.d)]
                wrong.update({
                    "forgot_transpose_of_W": (right_w, _matvec(W, g)),
                    "both_transposed": (wrong_w, _matvec(W, g)),
                    "elementwise_product": (diagonal, right_x),
                })
            wrong["forgot_W"] = (right_w, g)
            return {name: (_mat(m), _vec(v)) for name, (m, v) in wrong.items()}
        W, V, h = [list(r) for r in p.W], [list(r) for r in p.V], list(p.h)

        def through(scale):
            return _mat(_matmul(V, [[scale[i] * w for w in row] for i, row in enumerate(W)]))

        right = through([1 - v * v for v in h])
        wrong = {
            "forgot_tanh_derivative": through([1.0] * p.d),
            "used_tanh_not_its_derivative": through(h),
            "derivative_one_minus_h": through([1 - v for v in h]),
            "sigmoid_derivative": through([v * (1 - v) for v in h]),
            "transposed_layout": _mat(_transpose(right)),
        }
        return wrong

    def fallback_mistakes(self, p: LinearResidualParams, a: LinearResidualAnswer) -> dict:
        value = self.choice_value(a)

        def scale(v, c):
            if isinstance(v, (int, float)):
                return clean(c * v)
            return tuple(scale(e, c) for e in v)

        return {"sign_flipped": scale(value, -1), "doubled": scale(value, 2), "halved": scale(value, 0.5)}
