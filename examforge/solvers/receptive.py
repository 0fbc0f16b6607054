"""Receptive fields and parameter counts of stacked convolutions, computed by torch.

The receptive field is read off autograd: push a 1-D signal through the stack with all-ones
weights (every path through the stack then carries a positive weight, so nothing cancels),
backpropagate from one output unit and take the span of the input positions whose gradient
is nonzero. Parameter counts come from modules built on the meta device."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from examforge.solvers import DTYPE


def _layer(x: torch.Tensor, layer: Mapping[str, Any]) -> torch.Tensor:
    """One layer as a 1-D operation on a (1, 1, L) signal; pooling windows average."""
    k, s = int(layer["kernel"]), int(layer["stride"])
    if layer.get("type", "conv") == "conv":
        d = int(layer.get("dilation", 1))
        return F.conv1d(x, torch.ones(1, 1, k, dtype=DTYPE), stride=s, dilation=d)
    # max and average pooling see the same window; the average keeps every path
    return F.avg_pool1d(x, kernel_size=k, stride=s)


def _input_length(layers: Sequence[Mapping[str, Any]]) -> int:
    """Long enough for two output units of the whole stack (a generous bound, not the answer)."""
    strides = math.prod(int(layer["stride"]) for layer in layers)
    reach = sum((int(layer["kernel"]) - 1) * int(layer.get("dilation", 1)) for layer in layers)
    return strides * (reach + 2) + 1


def receptive_fields(layers: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[int]]:
    """For every prefix of the stack (after layer 1, 2, ...): the receptive field of one output
    unit on the input (span of nonzero input gradients) and the jump, the input distance between
    the receptive fields of two neighbouring output units."""
    length = _input_length(layers)
    x = torch.zeros(1, 1, length, dtype=DTYPE, requires_grad=True)
    rfs, jumps = [], []
    y = x
    for layer in layers:
        y = _layer(y, layer)
        units = y[0, 0]
        if units.numel() < 2:
            raise ArithmeticError(f"receptive_fields: input length {length} gives {units.numel()} output units")
        first, last = [], []
        for unit in (0, 1):
            (grad,) = torch.autograd.grad(units[unit], x, retain_graph=True)
            hit = torch.nonzero(grad.flatten()).flatten()
            first.append(int(hit[0]))
            last.append(int(hit[-1]))
        rfs.append(last[0] - first[0] + 1)
        jumps.append(first[1] - first[0])
    return rfs, jumps


def conv_stack_params(channels: int, kernels: Sequence[int], *, bias: bool) -> int:
    """Trainable parameters of stride-1 `channels`->`channels` k x k convolutions in a row."""
    net = nn.Sequential(
        *(nn.Conv2d(channels, channels, k, bias=bias, device="meta", dtype=DTYPE) for k in kernels)
    )
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def conv_stack_params_poly(kernels: Sequence[int], *, bias: bool) -> tuple[int, int]:
    """The parameter count a*D^2 + b*D of D->D convolutions as (a, b), read off torch's count
    at D = 1 and D = 2 (a + b and 4a + 2b)."""
    one = conv_stack_params(1, kernels, bias=bias)
    two = conv_stack_params(2, kernels, bias=bias)
    a = (two - 2 * one) // 2
    return a, one - a
