"""Jacobians computed by torch autograd, and their structural zeros.

An entry is a structural zero when it is zero for any inputs. The inputs used here are
fixed and free of randomness: two different points whose entries are all nonzero (1, 2, 3, ...
and its reverse), and an entry counts as structurally zero only if it is zero at both."""

from __future__ import annotations

from typing import Sequence

import torch
from torch.autograd.functional import jacobian

from examforge.solvers import DTYPE


def _points(shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    n = 1
    for d in shape:
        n *= d
    forward = torch.arange(1, n + 1, dtype=DTYPE).reshape(*shape)
    return forward, forward.flip(tuple(range(len(shape))))


def matmul_jacobians(a_shape: Sequence[int], b_shape: Sequence[int]) -> tuple[list[list[int]], list[list[int]]]:
    """The nonzero patterns (1 = can be nonzero, 0 = structural zero) of dC/dA and dC/dB for
    C = A B, as matrices with one row per C_ij and one column per A_kl (resp. B_kl), both in
    row-major order: the (#outputs) x (#inputs) Jacobian."""
    masks = []
    for wrt in (0, 1):
        nonzero = None
        for a, b in zip(_points(a_shape), _points(b_shape)):
            if wrt == 0:
                jac = jacobian(lambda x: x @ b, a)  # (m, n, m, k)
            else:
                jac = jacobian(lambda x: a @ x, b)  # (m, n, k, n)
            flat = jac.reshape(a.shape[0] * b.shape[1], -1) != 0
            nonzero = flat if nonzero is None else (nonzero | flat)
        masks.append(nonzero.to(torch.int64).tolist())
    return masks[0], masks[1]
