"""Layer-by-layer shapes and parameter counts of a small CNN, read off torch modules built on
the meta device: no weights are allocated and the global RNG is never touched."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from examforge.solvers import DTYPE


def _module(spec: Mapping[str, Any], in_shape: torch.Size) -> nn.Module:
    kind = spec["type"]
    if kind == "conv":
        return nn.Conv2d(
            in_channels=in_shape[1],
            out_channels=spec["out_channels"],
            kernel_size=spec["kernel"],
            stride=spec["stride"],
            padding=spec["padding"],
            device="meta",
            dtype=DTYPE,
        )
    if kind == "maxpool":
        return nn.MaxPool2d(kernel_size=spec["kernel"], stride=spec["stride"])
    if kind == "avgpool":
        return nn.AvgPool2d(kernel_size=spec["kernel"], stride=spec["stride"])
    if kind == "relu":
        return nn.ReLU()
    if kind == "flatten":
        return nn.Flatten()
    if kind == "linear":
        return nn.Linear(in_shape[-1], spec["out_features"], device="meta", dtype=DTYPE)
    raise ValueError(f"unknown layer type {kind!r}")


def build_sequential(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]) -> nn.Sequential:
    """The nn.Sequential for `layers` on the meta device. Each module's input size (conv
    in_channels, linear in_features) is read off a meta tensor pushed through the ones before."""
    x = torch.empty(1, *input_shape, device="meta", dtype=DTYPE)
    modules = []
    with torch.no_grad():
        for spec in layers:
            module = _module(spec, x.shape)
            x = module(x)
            modules.append(module)
    return nn.Sequential(*modules)


def trace_shapes(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> tuple[list[list[int]], list[int]]:
    """Per layer: the output shape (batch dimension dropped) and the trainable parameter count
    (weights and biases, p.numel()), from a forward pass of a (1, C, H, W) meta tensor."""
    net = build_sequential(input_shape, layers)
    shapes: list[list[int]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _inp, out: shapes.append([int(d) for d in out.shape[1:]]))
        for m in net
    ]
    try:
        with torch.no_grad():
            net(torch.empty(1, *input_shape, device="meta", dtype=DTYPE))
    finally:
        for h in hooks:
            h.remove()
    params = [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in net]
    return shapes, params


def run_listed(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]], *, first_linear_in: int
) -> tuple[int, bool]:
    """Build the network as a listing writes it, the first nn.Linear with `first_linear_in`
    in_features (later ones take the previous out_features), on the meta device, and push one
    (1, C, H, W) input through it. Returns the number of features that reach that Linear and
    whether the forward pass fails there."""
    x = torch.empty(1, *input_shape, device="meta", dtype=DTYPE)
    reaching: int | None = None
    in_features = first_linear_in
    with torch.no_grad():
        for spec in layers:
            if spec["type"] == "linear":
                if reaching is None:
                    reaching = int(x.shape[-1])
                module = nn.Linear(in_features, spec["out_features"], device="meta", dtype=DTYPE)
                in_features = spec["out_features"]
                try:
                    x = module(x)
                except RuntimeError:
                    return reaching, True
            else:
                x = _module(spec, x.shape)(x)
    if reaching is None:
        raise ValueError("the network has no linear layer")
    return reaching, False
