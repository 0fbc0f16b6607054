"""Tiny multilayer perceptrons with explicit weights: forward pass, autograd gradients and
one plain SGD step, computed by torch in float64.

Nothing here draws random numbers: every parameter is given explicitly and becomes a leaf
tensor, so the results depend only on the arguments (no global RNG, no initialisers).

`sgd_step` is the general engine: it takes named parameters and a forward function over
them, and returns the recorded intermediate values, the loss, every gradient and the updated
parameters. `dense_mlp_step` (a stack of dense layers with optional biases) and
`two_neuron_step` (the scalar network of seed 001 Problem 2, with a shared output weight)
are built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE, clean

Tensor = torch.Tensor
Nested = Any  # a float or (nested) lists of floats

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda t: t,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": lambda t: F.leaky_relu(t, negative_slope=0.01),
}

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    # L = 1/2 * sum (y_hat - y)^2, the textbook loss whose derivative is y_hat - y.
    "half_sse": lambda y_hat, y: 0.5 * ((y_hat - y) ** 2).sum(),
    "sse": lambda y_hat, y: ((y_hat - y) ** 2).sum(),
    "mse": lambda y_hat, y: ((y_hat - y) ** 2).mean(),
}


def activation(name: str) -> Callable[[Tensor], Tensor]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None


def _to_python(t: Tensor, digits: int) -> Nested:
    return clean(t.detach().tolist(), digits)


@dataclass(frozen=True)
class StepResult:
    """What one forward/backward pass and one SGD step produced, as Python floats."""

    values: dict[str, Nested]  # intermediate values recorded by the forward function
    value_grads: dict[str, Nested]  # dL/d(value) for each recorded value (the backward pass)
    loss: float
    grads: dict[str, Nested]  # dL/dparam, same shape as the parameter
    new_params: dict[str, Nested]  # param - lr * grad


def sgd_step(
    params: Mapping[str, Nested],
    forward: Callable[[dict[str, Tensor]], tuple[Tensor, Mapping[str, Tensor]]],
    *,
    lr: float,
    digits: int = 12,
) -> StepResult:
    """Differentiate `forward` with respect to every named parameter and take one SGD step.

    `forward(leaves)` receives float64 leaf tensors (requires_grad) keyed like `params` and
    returns `(loss, record)`: a scalar loss and a dict of tensors to report (pre-activations,
    activations, outputs...). The loss is differentiated with respect to the parameters and to
    every recorded tensor (the upstream gradients of the backward pass); anything the loss
    does not depend on gets a zero gradient.
    """
    with torch.enable_grad():
        leaves = {
            name: torch.tensor(value, dtype=DTYPE, requires_grad=True) for name, value in params.items()
        }
        loss, record = forward(leaves)
        if loss.dim() != 0:
            raise ValueError(f"forward must return a scalar loss, got shape {tuple(loss.shape)}")
        recorded = list(record.values())
        grads = torch.autograd.grad(loss, list(leaves.values()) + recorded, allow_unused=True)
    grads, record_grads = grads[: len(leaves)], grads[len(leaves):]
    grad_map = {
        name: (g if g is not None else torch.zeros_like(leaf))
        for (name, leaf), g in zip(leaves.items(), grads)
    }
    with torch.no_grad():
        new = {name: leaves[name] - lr * grad_map[name] for name in leaves}
    return StepResult(
        values={k: _to_python(v, digits) for k, v in record.items()},
        value_grads={
            k: _to_python(g if g is not None else torch.zeros_like(v), digits)
            for (k, v), g in zip(record.items(), record_grads)
        },
        loss=clean(loss.item(), digits),
        grads={k: _to_python(g, digits) for k, g in grad_map.items()},
        new_params={k: _to_python(v, digits) for k, v in new.items()},
    )


def dense_mlp_step(
    x: Sequence[float],
    y: Sequence[float],
    weights: Sequence[Sequence[Sequence[float]]],
    activations: Sequence[str | Callable[[Tensor], Tensor]],
    *,
    lr: float,
    biases: Sequence[Sequence[float] | None] | None = None,
    loss: str = "half_sse",
) -> StepResult:
    """A stack of dense layers h_{k} = act_k(W_k h_{k-1} + b_k) with W_k of shape (out, in).
    Activations are names from ACTIVATIONS or functions (e.g. `leaky_relu(0.1)`).

    Parameters are named W1, b1, W2, b2, ... (1-based); values record z1, a1, z2, a2, ...
    and y_hat (the last activation). Use activation "identity" for a linear output layer.
    """
    if len(weights) != len(activations):
        raise ValueError(f"{len(weights)} weight matrices but {len(activations)} activations")
    biases = list(biases) if biases is not None else [None] * len(weights)
    if len(biases) != len(weights):
        raise ValueError(f"{len(weights)} weight matrices but {len(biases)} bias vectors")
    acts = [a if callable(a) else activation(a) for a in activations]
    loss_fn = LOSSES[loss]
    params: dict[str, Nested] = {}
    for k, (w, b) in enumerate(zip(weights, biases), start=1):
        params[f"W{k}"] = [list(map(float, row)) for row in w]
        if b is not None:
            params[f"b{k}"] = list(map(float, b))
    x_t = torch.tensor(list(map(float, x)), dtype=DTYPE)
    y_t = torch.tensor(list(map(float, y)), dtype=DTYPE)

    def forward(p: dict[str, Tensor]):
        h = x_t
        record: dict[str, Tensor] = {}
        for k, act in enumerate(acts, start=1):
            z = p[f"W{k}"] @ h
            if f"b{k}" in p:
                z = z + p[f"b{k}"]
            h = act(z)
            record[f"z{k}"], record[f"a{k}"] = z, h
        record["y_hat"] = h
        return loss_fn(h, y_t), record

    return sgd_step(params, forward, lr=lr)


def two_neuron_step(
    x: float, y: float, w1: float, w2: float, w3: float, *, act: str, lr: float
) -> StepResult:
    """Seed 001 Problem 2: z_i = w_i x, a_i = act(z_i), y_hat = w3 (a1 + a2), L = 1/2 (y_hat - y)^2.

    The output weight w3 is shared by both hidden units, so its gradient sums both paths;
    autograd does that for us. Values record z1, a1, z2, a2, h = a1 + a2 and y_hat.
    """
    f = activation(act)
    x_t = torch.tensor(float(x), dtype=DTYPE)
    y_t = torch.tensor(float(y), dtype=DTYPE)

    def forward(p: dict[str, Tensor]):
        z1, z2 = p["w1"] * x_t, p["w2"] * x_t
        a1, a2 = f(z1), f(z2)
        h = a1 + a2
        y_hat = p["w3"] * h
        record = {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "h": h, "y_hat": y_hat}
        return LOSSES["half_sse"](y_hat, y_t), record

    return sgd_step({"w1": w1, "w2": w2, "w3": w3}, forward, lr=lr)


def leaky_relu(negative_slope: float) -> Callable[[Tensor], Tensor]:
    """LeakyReLU with a chosen slope (ACTIVATIONS["leaky_relu"] keeps torch's default 0.01)."""
    if not 0 < negative_slope < 1:
        raise ValueError(f"negative_slope must be in (0, 1), got {negative_slope}")
    return lambda t: F.leaky_relu(t, negative_slope=negative_slope)


def dense_mlp_step_custom(
    x: Sequence[float],
    y: Sequence[float],
    weights: Sequence[Sequence[Sequence[float]]],
    activations: Sequence[Callable[[Tensor], Tensor]],
    *,
    lr: float,
    biases: Sequence[Sequence[float] | None] | None = None,
    loss: str = "half_sse",
) -> StepResult:
    """`dense_mlp_step` with activation functions instead of names (e.g. `leaky_relu(0.1)`)."""
    return dense_mlp_step(x, y, weights, activations, lr=lr, biases=biases, loss=loss)
