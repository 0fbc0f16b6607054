"""Pooling forward and backward, computed by torch (float64, CPU).

Max-pool backward is torch autograd itself: the upstream gradient of each window goes to the
input position max_pool2d recorded as the window's argmax. On CPU that is the first maximum
in row-major order when a window holds its maximum more than once, and gradients that
reach one input position from several (overlapping) windows add up."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE

Matrix = Sequence[Sequence[float]]


def max_pool_with_argmax(
    image: Matrix, *, kernel: int, stride: int
) -> tuple[list[list[float]], list[list[tuple[int, int]]]]:
    """Max-pool output and, per output entry, the (row, column) of the input it came from (0-based)."""
    with torch.no_grad():
        x = torch.tensor(image, dtype=DTYPE)[None, None]
        y, idx = F.max_pool2d(x, kernel_size=kernel, stride=stride, return_indices=True)
    width = x.shape[-1]
    argmax = [[(int(i) // width, int(i) % width) for i in row] for row in idx[0, 0].tolist()]
    return y[0, 0].tolist(), argmax


def max_pool_backward(image: Matrix, upstream: Matrix, *, kernel: int, stride: int) -> list[list[float]]:
    """dL/dX for Y = max_pool2d(X) given dL/dY, by autograd."""
    x = torch.tensor(image, dtype=DTYPE, requires_grad=True)
    y = F.max_pool2d(x[None, None], kernel_size=kernel, stride=stride)[0, 0]
    g = torch.tensor(upstream, dtype=DTYPE)
    if g.shape != y.shape:
        raise ValueError(f"upstream gradient is {tuple(g.shape)}, the pooled output is {tuple(y.shape)}")
    (grad,) = torch.autograd.grad(y, x, grad_outputs=g)
    return grad.tolist()
