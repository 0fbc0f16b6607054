"""examforge/solvers/cnn.py: modules built on the meta device (convolutions run there; nn.Linear
gets broadcast-zero CPU parameters), probed with an empty CPU batch. Same shapes and counts as a
meta-device forward pass, no global RNG, no memory for large layers, and the listing's wrong
nn.Linear still fails."""

from __future__ import annotations

import resource

import torch
from torch import nn

from examforge.bank.cnn import CnnShapeTrace
from examforge.seeding import variant_rngs
from examforge.solvers import DTYPE
from examforge.solvers import cnn as solver

QT = CnnShapeTrace()


def _meta_forward(input_shape, layers):
    """The old path, kept here as the check: a (1, C, H, W) meta tensor through meta modules."""
    x = torch.empty(1, *input_shape, device="meta", dtype=DTYPE)
    shapes, params = [], []
    with torch.no_grad():
        for spec in layers:
            kind = spec["type"]
            if kind == "conv":
                m = nn.Conv2d(x.shape[1], spec["out_channels"], spec["kernel"], stride=spec["stride"],
                              padding=spec["padding"], device="meta", dtype=DTYPE)
            elif kind == "linear":
                m = nn.Linear(x.shape[-1], spec["out_features"], device="meta", dtype=DTYPE)
            elif kind == "maxpool":
                m = nn.MaxPool2d(spec["kernel"], spec["stride"])
            elif kind == "avgpool":
                m = nn.AvgPool2d(spec["kernel"], spec["stride"])
            else:
                m = nn.ReLU() if kind == "relu" else nn.Flatten()
            x = m(x)
            shapes.append([int(d) for d in x.shape[1:]])
            params.append(sum(p.numel() for p in m.parameters()))
    return shapes, params


def test_same_shapes_and_counts_as_a_meta_device_forward_pass():
    for seed in range(60):
        p = QT.sample(variant_rngs(seed)[0], QT.Ranges())
        layers = [layer.model_dump() for layer in p.layers]
        assert solver.trace_shapes(p.input_shape, layers) == _meta_forward(p.input_shape, layers), seed


def test_building_modules_leaves_the_global_rng_alone():
    for cached in (solver._conv, solver._linear, solver._pool):
        cached.cache_clear()
    state = torch.get_rng_state()
    solver.trace_shapes((3, 32, 32), [
        {"type": "conv", "out_channels": 6, "kernel": 5, "stride": 1, "padding": 0},
        {"type": "maxpool", "kernel": 2, "stride": 2}, {"type": "relu"}, {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ])
    assert torch.equal(state, torch.get_rng_state())


def test_large_layers_take_no_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    shapes, params = solver.trace_shapes((512, 1024, 1024), [
        {"type": "conv", "out_channels": 1024, "kernel": 11, "stride": 1, "padding": 0},
        {"type": "flatten"}, {"type": "linear", "out_features": 4096},
    ])
    assert shapes[0] == [1024, 1014, 1014] and shapes[2] == [4096]
    assert params[2] == 4096 * (1024 * 1014 * 1014 + 1)  # 4.3e12 weights, none allocated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_the_listed_linear_fails_only_with_the_wrong_in_features():
    layers = [{"type": "conv", "out_channels": 16, "kernel": 5, "stride": 1, "padding": 0},
              {"type": "avgpool", "kernel": 4, "stride": 4}, {"type": "flatten"},
              {"type": "linear", "out_features": 32}, {"type": "relu"}, {"type": "linear", "out_features": 10}]
    # 32-5+1 = 28; 28/4 = 7; 16*7*7 = 784
    assert solver.run_listed((1, 32, 32), layers, first_linear_in=784) == (784, False)
    assert solver.run_listed((1, 32, 32), layers, first_linear_in=120) == (784, True)
