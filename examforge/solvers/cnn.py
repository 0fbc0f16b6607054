"""Layer-by-layer shapes and parameter counts of a small CNN, read off torch modules.

Every module is built on the meta device (no weights are computed, the global RNG is never
touched), and torch computes every output shape, raising where a layer does not fit its input.
The probe pushed through the network is an empty batch, a (0, C, H, W) CPU tensor: the same
shapes as for a (1, C, H, W) input, without any arithmetic. Convolutions stay on the meta device
(their meta shape function is C++ and fast; a CPU convolution would copy its weight even for an
empty batch); nn.Linear gets CPU parameters that are one zero broadcast to the parameter's shape
(one scalar of memory whatever the layer's size; `numel()` still counts every weight), and
ReLU, Flatten and pooling run on the CPU probe. A meta-device probe gives the same shapes, but
the meta ReLU and Linear are Python decompositions costing about 0.25 ms per call, which made
this solver the slowest step of a web drill request (about 8 ms for cnn.fix_linear).

A built module depends only on its constructor arguments, so modules are kept in LRU caches and
shared: they are only ever called, never changed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from examforge.solvers import DTYPE


def _probe(input_shape: Sequence[int]) -> torch.Tensor:
    """An empty batch of (C, H, W) inputs: shapes are computed, nothing else is."""
    return torch.empty(0, *input_shape, dtype=DTYPE)


def _materialised(module: nn.Module) -> nn.Module:
    """The meta-device module with every parameter a CPU zero broadcast to its shape (for layers
    whose empty-batch forward pass never reads or copies the weight: nn.Linear)."""
    for name, p in list(module.named_parameters(recurse=False)):
        zero = torch.zeros((), dtype=p.dtype).expand(p.shape)
        setattr(module, name, nn.Parameter(zero, requires_grad=p.requires_grad))
    return module


@lru_cache(maxsize=512)
def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel,
                     stride=stride, padding=padding, device="meta", dtype=DTYPE)


@lru_cache(maxsize=512)
def _linear(in_features: int, out_features: int) -> nn.Linear:
    return _materialised(nn.Linear(in_features, out_features, device="meta", dtype=DTYPE))


@lru_cache(maxsize=64)
def _pool(kind: str, kernel: int, stride: int) -> nn.Module:
    cls = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
    return cls(kernel_size=kernel, stride=stride)


_RELU = nn.ReLU()
_FLATTEN = nn.Flatten()


def _module(spec: Mapping[str, Any], in_shape: torch.Size) -> nn.Module:
    kind = spec["type"]
    if kind == "conv":
        return _conv(in_shape[1], spec["out_channels"], spec["kernel"], spec["stride"], spec["padding"])
    if kind in ("maxpool", "avgpool"):
        return _pool(kind, spec["kernel"], spec["stride"])
    if kind == "relu":
        return _RELU
    if kind == "flatten":
        return _FLATTEN
    if kind == "linear":
        return _linear(in_shape[-1], spec["out_features"])
    raise ValueError(f"unknown layer type {kind!r}")


def _call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x) for the CPU probe; a meta-device module (a convolution) runs on a meta tensor
    of the probe's shape, and its output shape comes back as an empty CPU batch."""
    weight = getattr(module, "weight", None)
    if weight is not None and weight.is_meta:
        out = module(torch.empty(x.shape, device="meta", dtype=x.dtype))
        return torch.empty(out.shape, dtype=x.dtype)
    return module(x)


def _forward(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> tuple[list[nn.Module], list[torch.Size]]:
    x = _probe(input_shape)
    modules, outputs = [], []
    with torch.no_grad():
        for spec in layers:
            module = _module(spec, x.shape)
            x = _call(module, x)
            modules.append(module)
            outputs.append(x.shape)
    return modules, outputs


def trace_shapes(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> tuple[list[list[int]], list[int]]:
    """Per layer: the output shape (batch dimension dropped) and the trainable parameter count
    (weights and biases, p.numel()), from one forward pass of the probe, each module built for
    the shape that reaches it."""
    modules, outputs = _forward(input_shape, layers)
    shapes = [[int(d) for d in out[1:]] for out in outputs]
    params = [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in modules]
    return shapes, params


def run_listed(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]], *, first_linear_in: int
) -> tuple[int, bool]:
    """Build the network as a listing writes it, the first nn.Linear with `first_linear_in`
    in_features (later ones take the previous out_features), and push the probe through it.
    Returns the number of features that reach that Linear and whether the forward pass fails
    there."""
    x = _probe(input_shape)
    reaching: int | None = None
    in_features = first_linear_in
    with torch.no_grad():
        for spec in layers:
            if spec["type"] == "linear":
                if reaching is None:
                    reaching = int(x.shape[-1])
                module = _linear(in_features, spec["out_features"])
                in_features = spec["out_features"]
                try:
                    x = _call(module, x)
                except RuntimeError:
                    return reaching, True
            else:
                x = _call(_module(spec, x.shape), x)
    if reaching is None:
        raise ValueError("the network has no linear layer")
    return reaching, False


def conv_head(in_shape: Sequence[int], out_features: int) -> dict[str, Any]:
    """The convolution that replaces Flatten + Linear(C*H*W, out_features) on a (C, H, W) input:
    out_features filters of size H x W, stride 1, no padding. torch computes its output shape and
    parameter count, and checks it is the linear layer rearranged: with the linear weights
    copied into the filters (both deterministic, no RNG), conv(x) equals linear(flatten(x))."""
    c, h, w = (int(d) for d in in_shape)
    # built on the meta device and given memory without initialisation (no global RNG draw)
    conv = nn.Conv2d(c, out_features, kernel_size=(h, w), stride=1, padding=0, device="meta",
                     dtype=DTYPE).to_empty(device="cpu")
    linear = nn.Linear(c * h * w, out_features, device="meta", dtype=DTYPE).to_empty(device="cpu")
    with torch.no_grad():
        n = out_features * c * h * w
        weight = torch.arange(n, dtype=DTYPE).reshape(out_features, c * h * w).remainder(7) - 3
        bias = torch.arange(out_features, dtype=DTYPE) - 1
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
        conv.weight.copy_(weight.reshape(out_features, c, h, w))
        conv.bias.copy_(bias)
        x = (torch.arange(c * h * w, dtype=DTYPE).reshape(1, c, h, w).remainder(5) - 2) / 2
        out = conv(x)
        if not torch.equal(out.flatten(1), linear(nn.Flatten()(x))):
            raise ArithmeticError("conv_head: the convolution does not reproduce Flatten + Linear")
    return {
        "out_shape": tuple(int(d) for d in out.shape[1:]),
        "kernel": tuple(int(k) for k in conv.kernel_size),
        "filters": int(conv.out_channels),
        "params": sum(p.numel() for p in conv.parameters()),
        "linear_params": sum(p.numel() for p in linear.parameters()),
    }
