"""Backward passes through a linear layer, a residual connection and a tanh layer, by torch autograd
in float64 on the CPU.

An upstream gradient g = dL/dy is turned into a loss whose gradient with respect to y is exactly g,
L = <g, y>, and autograd gives dL/d(input) and dL/dW. The Jacobian of y = V tanh(W x + b) is taken
with `torch.autograd.functional.jacobian` at a point whose hidden activations are given: x = 0 and
b = artanh(h), so that tanh(W x + b) = h.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch.autograd.functional import jacobian

from examforge.solvers import DTYPE, clean


Vector = Sequence[float]
Matrix = Sequence[Sequence[float]]


def _py(t: torch.Tensor):
    """Nested Python floats, cleaned."""
    return clean(t.detach().tolist())


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


@dataclass(frozen=True)
class ResidualGrads:
    output: list[float]  # y = v W + v
    skip_path: list[float]  # dL/dy through the identity: g
    weight_path: list[float]  # dL/dy through f(v) = v W: g W^T
    grad_v: list[float]  # their sum, g (I + W^T)
    grad_w: list[list[float]]  # v^T g


def residual_row_backward(w: Matrix, v: Vector, g: Vector) -> ResidualGrads:
    """y = v W + v for a row vector v (1 x d) and W (d x d); g = dL/dy (1 x d)."""
    with torch.enable_grad():
        weight = _t(w).requires_grad_(True)
        row = _t([list(v)]).requires_grad_(True)
        upstream = _t([list(g)])
        through_w = row @ weight
        y = through_w + row
        # the path through f alone, then both paths together
        (via_weight,) = torch.autograd.grad((upstream * through_w).sum(), row, retain_graph=True)
        grad_v, grad_w = torch.autograd.grad((upstream * y).sum(), (row, weight))
    return ResidualGrads(_py(y[0]), _py(upstream[0]), _py(via_weight[0]), _py(grad_v[0]), _py(grad_w))


@dataclass(frozen=True)
class LinearGrads:
    output_without_bias: list[float]  # W x
    grad_w: list[list[float]]  # g x^T
    grad_x: list[float]  # W^T g
    grad_b: list[float]  # g


def linear_backward(w: Matrix, x: Vector, g: Vector) -> LinearGrads:
    """y = W x + b for a column vector x; g = dL/dy. The bias is zero here: no gradient depends on it."""
    with torch.enable_grad():
        weight = _t(w).requires_grad_(True)
        inp = _t(list(x)).requires_grad_(True)
        bias = torch.zeros(len(w), dtype=DTYPE, requires_grad=True)
        y = weight @ inp + bias
        grad_w, grad_x, grad_b = torch.autograd.grad((_t(list(g)) * y).sum(), (weight, inp, bias))
    return LinearGrads(_py(y - bias), _py(grad_w), _py(grad_x), _py(grad_b))


@dataclass(frozen=True)
class TanhJacobian:
    local: list[float]  # tanh'(z) = 1 - h^2 per hidden unit
    scaled_w: list[list[float]]  # diag(1 - h^2) W = dh/dx
    jacobian: list[list[float]]  # V diag(1 - h^2) W = dy/dx


def tanh_layer_jacobian(w: Matrix, v: Matrix, h: Vector) -> TanhJacobian:
    """dy/dx for y = V tanh(W x + b) at the point where tanh(W x + b) = h (x = 0, b = artanh h)."""
    weight, out = _t(w), _t(v)
    hidden = _t(list(h))
    bias = torch.atanh(hidden)
    x0 = torch.zeros(weight.shape[1], dtype=DTYPE)
    dh_dx = jacobian(lambda x: torch.tanh(weight @ x + bias), x0)
    dy_dx = jacobian(lambda x: out @ torch.tanh(weight @ x + bias), x0)
    z = (weight @ x0 + bias).requires_grad_(True)
    with torch.enable_grad():
        (local,) = torch.autograd.grad(torch.tanh(z).sum(), z)  # elementwise derivative of tanh at z
    return TanhJacobian(_py(local), _py(dh_dx), _py(dy_dx))
