"""Whole-network CNN questions: tracing shapes and counting parameters layer by layer."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import escape, shape
from examforge.solvers.cnn import conv_head, trace_shapes

# -- params ------------------------------------------------------------------------------------


class ConvLayer(ParamsModel):
    type: Literal["conv"]
    out_channels: Annotated[int, Field(ge=1, le=1024)]
    kernel: Annotated[int, Field(ge=1, le=11)]
    stride: Annotated[int, Field(ge=1, le=8)] = 1
    padding: Annotated[int, Field(ge=0, le=8)] = 0


class PoolLayer(ParamsModel):
    type: Literal["maxpool", "avgpool"]
    kernel: Annotated[int, Field(ge=1, le=8)]
    stride: Annotated[int, Field(ge=1, le=8)]

    @model_validator(mode="before")
    @classmethod
    def _stride_defaults_to_kernel(cls, data):
        # As in PyTorch: a pooling layer without a stride moves by its window size.
        if isinstance(data, dict) and "stride" not in data and "kernel" in data:
            data = {**data, "stride": data["kernel"]}
        return data


class ReluLayer(ParamsModel):
    type: Literal["relu"]


class FlattenLayer(ParamsModel):
    type: Literal["flatten"]


class LinearLayer(ParamsModel):
    type: Literal["linear"]
    out_features: Annotated[int, Field(ge=1, le=4096)]


Layer = Annotated[
    Union[ConvLayer, PoolLayer, ReluLayer, FlattenLayer, LinearLayer], Field(discriminator="type")
]

_DISPLAY = {
    "conv": "Conv",
    "maxpool": "MaxPool",
    "avgpool": "AvgPool",
    "relu": "ReLU",
    "flatten": "Flatten",
    "linear": "Linear",
}
_MODULE = {
    "conv": "nn.Conv2d",
    "maxpool": "nn.MaxPool2d",
    "avgpool": "nn.AvgPool2d",
    "relu": "nn.ReLU",
    "flatten": "nn.Flatten",
    "linear": "nn.Linear",
}


def layer_names(layers) -> tuple[str, ...]:
    """Conv-1, AvgPool-1, ReLU-1, ..., numbered per kind only when a kind occurs more than once."""
    totals: dict[str, int] = {}
    for layer in layers:
        totals[layer.type] = totals.get(layer.type, 0) + 1
    seen: dict[str, int] = {}
    names = []
    for layer in layers:
        seen[layer.type] = seen.get(layer.type, 0) + 1
        base = _DISPLAY[layer.type]
        names.append(f"{base}-{seen[layer.type]}" if totals[layer.type] > 1 else base)
    return tuple(names)


def _spatial(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class NetworkParams(ParamsModel):
    """A small CNN: an input shape and its layers (shared with cnn.fix_linear)."""

    input_shape: tuple[
        Annotated[int, Field(ge=1, le=512)],
        Annotated[int, Field(ge=1, le=1024)],
        Annotated[int, Field(ge=1, le=1024)],
    ]
    layers: Annotated[tuple[Layer, ...], Field(min_length=2, max_length=24)]

    @model_validator(mode="after")
    def _network_is_consistent(self):
        c, h, w = self.input_shape
        flat_at: int | None = None
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}] ({layer.type})"
            if layer.type == "flatten":
                if flat_at is not None:
                    raise ValueError(f"{where}: only one flatten is allowed; layers[{flat_at}] already flattens")
                flat_at = i
            elif layer.type == "linear":
                if flat_at is None:
                    raise ValueError(f"{where}: a linear layer must come after the flatten layer")
            elif layer.type in ("conv", "maxpool", "avgpool"):
                if flat_at is not None:
                    raise ValueError(
                        f"{where}: conv and pooling layers need a CxHxW input, "
                        f"but layers[{flat_at}] already flattened it"
                    )
                pad = layer.padding if layer.type == "conv" else 0
                nh, nw = (_spatial(n, layer.kernel, layer.stride, pad) for n in (h, w))
                if nh < 1 or nw < 1:
                    raise ValueError(
                        f"{where}: kernel {layer.kernel} with padding {pad} does not fit its "
                        f"{h}x{w} input ({h}+2*{pad}-{layer.kernel} < 0), the output would be {nh}x{nw}"
                    )
                h, w = nh, nw
        if not any(layer.type == "linear" for layer in self.layers):
            raise ValueError("the network needs a flatten followed by at least one linear layer")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return layer_names(self.layers)

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(_MODULE[layer.type] for layer in self.layers)

    @property
    def first_linear(self) -> int:
        return next(i for i, layer in enumerate(self.layers) if layer.type == "linear")

    @property
    def n_classes(self) -> int:
        return self.layers[-1].out_features if self.layers[-1].type == "linear" else 0

    @property
    def flatten_at(self) -> int:
        return next(i for i, layer in enumerate(self.layers) if layer.type == "flatten")


class ShapeTraceParams(NetworkParams):
    # "trace": shapes, parameters, in_features; "conv_head" (seed 002 Problem 1.4, never drawn:
    # a spec asks for it): the convolution that replaces Flatten and the first Linear
    ask: Literal["trace", "conv_head"] = "trace"


# -- answer ------------------------------------------------------------------------------------


class ConvHead(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    in_shape: tuple[int, int, int]  # what Flatten receives
    filters: int
    kernel: tuple[int, int]
    out_shape: tuple[int, int, int]  # filters x 1 x 1
    linear: str  # the name of the Linear it replaces
    params: int  # filters * (C*H*W + 1)
    linear_params: int  # the replaced Linear's: the same


class TraceAnswer(AnswerModel):
    """The layer-by-layer trace of a network (shared with cnn.fix_linear)."""

    shapes: tuple[tuple[int, ...], ...]  # output shape after each layer, batch dimension dropped
    params: tuple[int, ...]  # trainable parameters per layer, biases included
    flatten_dim: int  # in_features of the first linear layer
    total_params: int
    names: tuple[str, ...]
    in_shapes: tuple[tuple[int, ...], ...]  # input shape of each layer
    spans: tuple[tuple[int, int] | None, ...]  # N + 2P - K per spatial axis (conv and pool)
    floors: tuple[tuple[int, int] | None, ...]  # floor(span / S) per spatial axis


class ShapeTraceAnswer(TraceAnswer):
    asked: Literal["trace", "conv_head"] = "trace"
    # ask conv_head: the convolution replacing Flatten and the first Linear, on the C x H x W map
    # Flatten receives: H x W filters, one per output feature, stride 1, no padding
    head: ConvHead | None = None


def _steps(layer, in_shape: tuple[int, ...]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    if layer.type not in ("conv", "maxpool", "avgpool"):
        return None, None
    pad = layer.padding if layer.type == "conv" else 0
    spans = (in_shape[1] + 2 * pad - layer.kernel, in_shape[2] + 2 * pad - layer.kernel)
    return spans, (spans[0] // layer.stride, spans[1] // layer.stride)


# -- sampling ----------------------------------------------------------------------------------

_CONV1 = ((3, 1, 0), (3, 1, 1), (5, 1, 0), (5, 1, 2), (5, 1, 1), (7, 1, 0), (3, 2, 1), (5, 2, 2))  # k, s, p
_POOL1 = ((2, 2), (3, 3), (4, 4), (3, 2))  # k, s
_CONV2 = ((3, 1, 0), (3, 1, 1), (4, 1, 1), (5, 1, 0), (5, 1, 2), (4, 1, 0), (2, 1, 0))
_POOL2 = ((2, 2), (3, 3))


@lru_cache(maxsize=8)
def _architectures(
    min_side: int = 28, max_side: int = 64, min_final: int = 2, max_final: int = 7, max_floored: int = 1
) -> tuple[tuple[tuple, ...], tuple[tuple, ...]]:
    """All (side, conv1, pool1, conv2, pool2) whose spatial sizes stay hand-computable: the final
    side is min_final..max_final; split into those where every division is exact and those with
    1..max_floored floors. The defaults are cnn.shape_trace's default ranges."""
    exact, floored = [], []
    for n in range(min_side, max_side + 1):
        for c1 in _CONV1:
            for p1 in _POOL1:
                for c2 in _CONV2:
                    for p2 in _POOL2:
                        side, inexact = n, 0
                        for k, s, pad in (c1, (*p1, 0), c2, (*p2, 0)):
                            span = side + 2 * pad - k
                            if span < 0:
                                break
                            inexact += span % s != 0
                            side = span // s + 1
                        else:
                            if min_final <= side <= max_final and inexact <= max_floored:
                                (floored if inexact else exact).append((n, c1, p1, c2, p2))
    return tuple(exact), tuple(floored)


class ShapeTraceRanges(RangesModel):
    min_side: Annotated[int, Field(ge=8, le=256)] = 28
    max_side: Annotated[int, Field(ge=8, le=256)] = 64
    min_final_side: Annotated[int, Field(ge=1, le=16)] = 2
    max_final_side: Annotated[int, Field(ge=1, le=16)] = 7
    max_floored_layers: Annotated[int, Field(ge=0, le=4)] = 1

    @model_validator(mode="after")
    def _ordered(self):
        if not any(_architectures(*self.bounds)):
            raise ValueError(
                f"no two-block network maps an input side in {self.min_side}..{self.max_side} "
                f"to a final side in {self.min_final_side}..{self.max_final_side}"
            )
        return self

    @property
    def bounds(self) -> tuple[int, int, int, int, int]:
        return (self.min_side, self.max_side, self.min_final_side, self.max_final_side, self.max_floored_layers)


def _block(rng: np.random.Generator, conv, pool, channels: int) -> list[dict]:
    k, s, pad = conv
    pk, ps = pool
    conv_layer = {"type": "conv", "out_channels": channels, "kernel": k, "stride": s, "padding": pad}
    pool_layer = {"type": str(rng.choice(("maxpool", "avgpool"))), "kernel": pk, "stride": ps}
    relu = str(rng.choice(("before_pool", "after_pool", "none"), p=(0.45, 0.4, 0.15)))
    if relu == "before_pool":
        return [conv_layer, {"type": "relu"}, pool_layer]
    if relu == "after_pool":
        return [conv_layer, pool_layer, {"type": "relu"}]
    return [conv_layer, pool_layer]


# -- the question type -------------------------------------------------------------------------


@register
class CnnShapeTrace(QuestionType):
    id = "cnn.shape_trace"
    summary = "Trace a small CNN layer by layer: output shapes, trainable parameters and the Linear in_features."
    mirrors = "002 Problem 1 (SVHN CNN: conv/avgpool blocks, flatten 144, Conv params 208 and 2064)"
    seed_example = {"input_shape": [1, 32, 32], "layers": [{"type": "conv", "out_channels": 8, "kernel": 5, "stride": 1, "padding": 0}, {"type": "avgpool", "kernel": 4, "stride": 4}, {"type": "relu"}, {"type": "conv", "out_channels": 16, "kernel": 4, "stride": 1, "padding": 1}, {"type": "avgpool", "kernel": 2, "stride": 2}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out_features": 10}]}
    Params = ShapeTraceParams
    Answer = ShapeTraceAnswer
    options = {"ask: conv_head": "the convolution that replaces Flatten and the first Linear (002 Problem 1.4)"}
    Ranges = ShapeTraceRanges
    box_height = "7cm"

    def sample(self, rng: np.random.Generator, ranges: ShapeTraceRanges) -> ShapeTraceParams:
        exact, floored = _architectures(*ranges.bounds)
        pool = floored if rng.random() < 0.3 else exact
        pool = pool or exact or floored  # one of them may be empty under narrow ranges
        n, c1, p1, c2, p2 = pool[int(rng.integers(len(pool)))]
        in_channels = int(rng.choice((1, 3)))
        ch1 = int(rng.choice((4, 6, 8, 10, 12, 16)))
        ch2 = int(rng.choice((8, 12, 16, 20, 24, 32)))
        layers = _block(rng, c1, p1, ch1) + _block(rng, c2, p2, ch2) + [{"type": "flatten"}]
        classes = int(rng.choice((10, 10, 10, 5, 26, 100)))
        if rng.random() < 0.3:
            hidden = int(rng.choice((32, 64, 84, 120, 128)))
            layers += [
                {"type": "linear", "out_features": hidden},
                {"type": "relu"},
                {"type": "linear", "out_features": classes},
            ]
        else:
            layers.append({"type": "linear", "out_features": classes})
        return ShapeTraceParams(input_shape=(in_channels, n, n), layers=layers)

    def solve(self, p: ShapeTraceParams) -> ShapeTraceAnswer:
        shapes, params = trace_shapes(p.input_shape, [layer.model_dump() for layer in p.layers])
        in_shapes = [tuple(p.input_shape)] + [tuple(s) for s in shapes[:-1]]
        steps = [_steps(layer, s) for layer, s in zip(p.layers, in_shapes)]
        for layer, (spans, floors), out in zip(p.layers, steps, shapes):
            if floors is not None and (floors[0] + 1, floors[1] + 1) != tuple(out[1:]):
                raise ArithmeticError(f"{self.id}: torch shape {out} disagrees with the floor formula")
        head = None
        ask = getattr(p, "ask", "trace")  # cnn.fix_linear's networks have no ask
        if ask == "conv_head":
            c, h, w = in_shapes[p.flatten_at]
            got = conv_head((c, h, w), p.layers[p.first_linear].out_features)
            head = ConvHead(in_shape=(c, h, w), filters=got["filters"], kernel=got["kernel"],
                            out_shape=got["out_shape"], linear=p.names[p.first_linear], params=got["params"],
                            linear_params=got["linear_params"])
        return ShapeTraceAnswer(
            shapes=tuple(tuple(s) for s in shapes),
            params=tuple(params),
            flatten_dim=in_shapes[p.first_linear][0],
            total_params=sum(params),
            names=p.names,
            in_shapes=tuple(in_shapes),
            spans=tuple(s for s, _ in steps),
            floors=tuple(f for _, f in steps),
            asked=ask,
            head=head,
        )

    def reference(self, p: ShapeTraceParams) -> ShapeTraceAnswer:
        shape_now: tuple[int, ...] = tuple(p.input_shape)
        shapes, params, in_shapes, spans, floors = [], [], [], [], []
        flatten_dim = None
        for layer in p.layers:
            in_shapes.append(shape_now)
            span = floor = None
            count = 0
            if layer.type in ("conv", "maxpool", "avgpool"):
                c, h, w = shape_now
                pad = layer.padding if layer.type == "conv" else 0
                span = (h + 2 * pad - layer.kernel, w + 2 * pad - layer.kernel)
                floor = (math.floor(span[0] / layer.stride), math.floor(span[1] / layer.stride))
                if layer.type == "conv":
                    count = layer.out_channels * (layer.kernel * layer.kernel * c + 1)
                    c = layer.out_channels
                shape_now = (c, floor[0] + 1, floor[1] + 1)
            elif layer.type == "flatten":
                shape_now = (math.prod(shape_now),)
            elif layer.type == "linear":
                if flatten_dim is None:
                    flatten_dim = shape_now[0]
                count = layer.out_features * (shape_now[0] + 1)
                shape_now = (layer.out_features,)
            shapes.append(shape_now)
            params.append(count)
            spans.append(span)
            floors.append(floor)
        head = None
        ask = getattr(p, "ask", "trace")  # cnn.fix_linear's networks have no ask
        if ask == "conv_head":
            # a kernel as large as the map fits once: a 1 x 1 output per filter, whose C*H*W
            # weights and bias are one row of the Linear's weight matrix and its bias
            c, h, w = in_shapes[p.flatten_at]
            out = p.layers[p.first_linear].out_features
            head = ConvHead(in_shape=(c, h, w), filters=out, kernel=(h, w), out_shape=(out, 1, 1),
                            linear=layer_names(p.layers)[p.first_linear], params=out * (c * h * w + 1),
                            linear_params=params[p.first_linear])
        return ShapeTraceAnswer(
            shapes=tuple(shapes),
            params=tuple(params),
            flatten_dim=flatten_dim,
            total_params=sum(params),
            names=layer_names(p.layers),
            in_shapes=tuple(in_shapes),
            spans=tuple(spans),
            floors=tuple(floors),
            asked=ask,
            head=head,
        )

    # -- presentation ------------------------------------------------------------------------

    def answer_latex(self, a: ShapeTraceAnswer) -> str:
        if a.asked == "conv_head":
            hd = a.head
            return (f"{_conv_text((hd.filters, *hd.kernel))}: output ${shape(hd.out_shape)}$, "
                    f"{hd.params} parameters, as many as {escape(hd.linear)}")
        shapes = ", ".join(f"{escape(name)} ${shape(s)}$" for name, s in zip(a.names, a.shapes))
        counts = ", ".join(f"{escape(name)} {n}" for name, n in zip(a.names, a.params) if n)
        return (
            rf"in\_features $= {a.flatten_dim}$. Output shapes: {shapes}. "
            rf"Parameters: {counts} (the other layers have none); "
            f"total {a.total_params} trainable parameters."
        )

    def key_texts(self, a: ShapeTraceAnswer) -> list[str]:
        if a.asked == "conv_head":
            kh, kw = a.head.kernel
            return [f"{a.head.filters} filters of size {kh} x {kw}", f"{a.head.params} parameters"]
        return [f"in_features = {a.flatten_dim}", f"{a.total_params} trainable parameters"]

    answer_format = AnswerFormat("number")  # in_features; see variant_format

    def variant_format(self, p: ShapeTraceParams) -> AnswerFormat:
        # the convolution that replaces Flatten and Linear is described in words and numbers: picked
        return AnswerFormat("choice") if getattr(p, "ask", "trace") == "conv_head" else AnswerFormat("number")

    def choice_value(self, a: ShapeTraceAnswer):
        if a.asked == "conv_head":
            return (a.head.filters, *a.head.kernel)
        return a.flatten_dim

    def choice_latex(self, value) -> str:
        if isinstance(value, tuple):
            return _conv_text(value)
        return super().choice_latex(value)

    def mistakes(self, p: ShapeTraceParams) -> dict:
        if getattr(p, "ask", "trace") == "conv_head":
            return _head_mistakes(p)
        pools = [i for i, layer in enumerate(p.layers) if layer.type in ("maxpool", "avgpool")]
        has_padding = any(layer.type == "conv" and layer.padding for layer in p.layers)
        final = _wrong_trace(p)
        wrong = {
            "forgot_padding": _wrong_trace(p, padding=False) if has_padding else None,
            "no_floor": _wrong_trace(p, rounding=math.ceil),
            "forgot_last_pool": _wrong_trace(p, skip=pools[-1:]) if pools else None,
            "used_input_channels": (
                p.input_shape[0] * final[1] * final[2] if final is not None else None
            ),
            "forgot_pool": _wrong_trace(p, skip=pools) if len(pools) > 1 else None,
            "forgot_channels": final[1] * final[2] if final is not None else None,
            "forgot_plus_one": _wrong_trace(p, plus_one=False),
        }
        return {
            name: (v if isinstance(v, int) else math.prod(v))
            for name, v in wrong.items()
            if v is not None
        }

    def fallback_mistakes(self, p: ShapeTraceParams, a: ShapeTraceAnswer) -> dict:
        if getattr(a, "asked", "trace") == "conv_head":  # cnn.fix_linear's answers have no asked
            f, kh, kw = self.choice_value(a)
            out = {"kernel_one_too_large": (f, kh + 1, kw + 1), "doubled_filters": (2 * f, kh, kw)}
            if kh > 1 and kw > 1:
                out["kernel_one_too_small"] = (f, kh - 1, kw - 1)
            return out
        c, h, w = a.in_shapes[next(i for i, layer in enumerate(p.layers) if layer.type == "flatten")]
        out = {
            "spatial_plus_one": c * (h + 1) * (w + 1),
            "doubled": 2 * a.flatten_dim,
            "spatial_minus_one": c * (h - 1) * (w - 1),
            "one_side_only": c * h,
            "plus_one_feature": a.flatten_dim + 1,
        }
        return {name: v for name, v in out.items() if v > 0}


def _wrong_trace(
    p: ShapeTraceParams,
    *,
    padding: bool = True,
    rounding=math.floor,
    skip: list[int] = (),
    plus_one: bool = True,
) -> tuple[int, int, int] | None:
    """The C x H x W reaching the flatten along a deliberately wrong path; None if it breaks."""
    c, h, w = p.input_shape
    for i, layer in enumerate(p.layers):
        if layer.type == "flatten":
            return c, h, w
        if layer.type not in ("conv", "maxpool", "avgpool") or i in skip:
            continue
        pad = layer.padding if (layer.type == "conv" and padding) else 0
        sides = []
        for n in (h, w):
            n = rounding((n + 2 * pad - layer.kernel) / layer.stride) + (1 if plus_one else 0)
            if n < 1:
                return None
            sides.append(int(n))
        h, w = sides
        if layer.type == "conv":
            c = layer.out_channels
    return None


def _conv_text(value) -> str:
    """'10 filters of size 3 x 3, stride 1, no padding' for (filters, kernel height, kernel width)."""
    filters, kh, kw = value
    return rf"{filters} filters of size ${kh} \times {kw}$, stride 1, no padding"


def _head_mistakes(p: ShapeTraceParams) -> dict[str, tuple[int, int, int]]:
    """Wrong convolutions for Flatten + the first Linear (seed 002 Problem 1.4)."""
    shapes, _ = trace_shapes(p.input_shape, [layer.model_dump() for layer in p.layers])
    ins = [tuple(p.input_shape)] + [tuple(s) for s in shapes[:-1]]
    c, h, w = ins[p.flatten_at]
    out = p.layers[p.first_linear].out_features
    right = (out, h, w)
    wrong = {
        "one_by_one_kernel": (out, 1, 1),  # keeps the h x w map: out x h x w, not out x 1 x 1
        "filters_as_input_channels": (c, h, w),
        "filters_as_flattened_size": (c * h * w, h, w),
        "kernel_is_the_image": (out, p.input_shape[1], p.input_shape[2]),
    }
    pools = [i for i in range(p.flatten_at) if p.layers[i].type in ("maxpool", "avgpool")]
    if pools:
        _, h0, w0 = ins[pools[-1]]
        wrong["kernel_before_last_pool"] = (out, h0, w0)
    if p.first_linear != len(p.layers) - 1:
        wrong["classes_not_hidden_width"] = (p.n_classes, h, w)
    return {name: v for name, v in wrong.items() if v != right}
