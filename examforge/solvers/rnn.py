"""Recurrent networks: a scalar RNN unrolled through time (autograd BPTT and one SGD step) and
the parameter counts of torch's nn.RNN / nn.LSTM / nn.GRU, read off modules built on the meta
device (no weights allocated, no global RNG touched)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from examforge.solvers import DTYPE
from examforge.solvers.mlp import LOSSES, StepResult, activation, sgd_step


def scalar_rnn_step(
    x: Sequence[float], y: float, *, w: float, a: float, h0: float, act: str, lr: float
) -> StepResult:
    """Seed 002 MC6: z_t = w h_{t-1} + a x_t, h_t = g(z_t), y_hat = h_T, L = 1/2 (y_hat - y)^2.

    The loop is unrolled and autograd differentiates through every time step (full BPTT).
    Values record z1, h1, z2, h2, ...; value_grads hold dL/dz_t and dL/dh_t."""
    g = activation(act)
    xs = [torch.tensor(float(v), dtype=DTYPE) for v in x]
    y_t = torch.tensor(float(y), dtype=DTYPE)

    def forward(p: dict[str, torch.Tensor]):
        h = torch.tensor(float(h0), dtype=DTYPE)
        record: dict[str, torch.Tensor] = {}
        for t, x_t in enumerate(xs, start=1):
            z = p["w"] * h + p["a"] * x_t
            h = g(z)
            record[f"z{t}"], record[f"h{t}"] = z, h
        return LOSSES["half_sse"](h, y_t), record

    return sgd_step({"w": w, "a": a}, forward, lr=lr)


_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def recurrent_parameters(
    cell: str,
    *,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    bias: bool = True,
) -> dict[str, tuple[int, ...]]:
    """Every parameter tensor's name and shape, as torch builds the module (two bias vectors
    b_ih and b_hh per layer and direction when `bias`)."""
    try:
        cls = _CELLS[cell]
    except KeyError:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(_CELLS)}") from None
    module = cls(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        bias=bias,
        device="meta",
        dtype=DTYPE,
    )
    return {name: tuple(int(d) for d in p.shape) for name, p in module.named_parameters() if p.requires_grad}


def recurrent_param_count(cell: str, **kwargs) -> int:
    """The number of trainable parameters, sum of p.numel() (sequence length plays no part)."""
    total = 0
    for shape in recurrent_parameters(cell, **kwargs).values():
        n = 1
        for d in shape:
            n *= d
        total += n
    return total

