"""Receptive-field questions: the receptive field of a stack of convolutions and pooling
layers, and stacked small convolutions against one large one (parameters and receptive field)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import draw_until
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.solvers.receptive import conv_stack_params, conv_stack_params_poly, receptive_fields

# -- conv.receptive_field ---------------------------------------------------------------------

MAX_RECEPTIVE_FIELD = 512


class RFLayer(ParamsModel):
    type: Literal["conv", "maxpool", "avgpool"] = "conv"
    kernel: Annotated[int, Field(ge=1, le=11)]
    stride: Annotated[int, Field(ge=1, le=4)] = 1
    dilation: Annotated[int, Field(ge=1, le=4)] = 1

    @model_validator(mode="after")
    def _pool_not_dilated(self):
        if self.type != "conv" and self.dilation != 1:
            raise ValueError(f"a {self.type} layer has no dilation, got dilation {self.dilation}")
        return self


def _rf_recurrence(layers, *, use_stride=True, use_dilation=True, jump_after=False):
    """(rfs, jumps_in, jumps_out) by r += (k-1)*d*jump; switches give the named mistakes."""
    r, jump = 1, 1
    rfs, jumps_in, jumps_out = [], [], []
    for layer in layers:
        d = layer.dilation if use_dilation else 1
        out_jump = jump * (layer.stride if use_stride else 1)
        r += (layer.kernel - 1) * d * (out_jump if jump_after else jump)
        jumps_in.append(jump)
        jumps_out.append(out_jump)
        rfs.append(r)
        jump = out_jump
    return rfs, jumps_in, jumps_out


class ReceptiveFieldParams(ParamsModel):
    layers: Annotated[tuple[RFLayer, ...], Field(min_length=1, max_length=8)]

    @model_validator(mode="after")
    def _hand_sized(self):
        rfs, _, _ = _rf_recurrence(self.layers)
        if rfs[-1] > MAX_RECEPTIVE_FIELD:
            raise ValueError(
                f"the receptive field would be {rfs[-1]}; at most {MAX_RECEPTIVE_FIELD} keeps it hand-computable"
            )
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"Layer {i + 1}" for i in range(len(self.layers)))

    @property
    def has_dilation(self) -> bool:
        return any(layer.dilation != 1 for layer in self.layers)


class ReceptiveFieldRanges(RangesModel):
    min_layers: Annotated[int, Field(ge=1, le=8)] = 2
    max_layers: Annotated[int, Field(ge=1, le=8)] = 4
    max_kernel: Annotated[int, Field(ge=2, le=11)] = 7
    max_stride: Annotated[int, Field(ge=1, le=4)] = 2
    max_dilation: Annotated[int, Field(ge=1, le=4)] = 3
    max_receptive_field: Annotated[int, Field(ge=3, le=MAX_RECEPTIVE_FIELD)] = 64

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_stride == 1 and self.max_dilation == 1:
            raise ValueError(
                "max_stride 1 with max_dilation 1 makes every receptive field a plain sum of kernel sizes"
            )
        return self


class ReceptiveFieldAnswer(AnswerModel):
    receptive_field: int
    rfs: tuple[int, ...]  # receptive field after each layer
    rfs_in: tuple[int, ...]  # the same before each layer (1 before the first)
    jumps: tuple[int, ...]  # input distance between neighbouring units after each layer
    jumps_in: tuple[int, ...]  # the same before each layer
    increments: tuple[int, ...]  # (k - 1) * d * jump_in, what each layer adds
    effective_kernels: tuple[int, ...]  # (k - 1) * d + 1, the dilated kernel's extent



@register
class ConvReceptiveField(QuestionType):
    id = "conv.receptive_field"
    summary = "Receptive field of one output unit of a stack of convolutions (stride, dilation) and pooling layers."
    mirrors = ("000 1.1 (two stacked 3x3 convolutions see a 5x5 window); "
               "002 Problem 1.1 (pooling grows the receptive field)")
    Params = ReceptiveFieldParams
    Answer = ReceptiveFieldAnswer
    Ranges = ReceptiveFieldRanges
    forms = ("free", "mc", "tf")
    seed_example = {"layers": [{"type": "conv", "kernel": 3, "stride": 1, "dilation": 1},
                               {"type": "conv", "kernel": 3, "stride": 1, "dilation": 1}]}
    box_height = "4cm"

    def sample(self, rng: np.random.Generator, ranges: ReceptiveFieldRanges) -> ReceptiveFieldParams:
        r = ranges
        kernels = [k for k in (2, 3, 3, 3, 5, 5, 7) if k <= r.max_kernel]
        def draw(rng):
            n = int(rng.integers(r.min_layers, r.max_layers + 1))
            layers = []
            for i in range(n):
                if i > 0 and r.max_stride >= 2 and rng.random() < 0.25:
                    k = int(rng.choice([k for k in (2, 3) if k <= r.max_kernel]))
                    s = int(rng.choice([s for s in (2, k) if s <= r.max_stride]))
                    kind = str(rng.choice(("maxpool", "avgpool")))
                    layers.append({"type": kind, "kernel": k, "stride": s, "dilation": 1})
                    continue
                k = int(rng.choice(kernels))
                s = 1 if rng.random() < 0.65 else int(rng.integers(1, r.max_stride + 1))
                d = 1 if (rng.random() < 0.7 or k == 1) else int(rng.integers(1, r.max_dilation + 1))
                layers.append({"type": "conv", "kernel": k, "stride": s, "dilation": d})
            p = ReceptiveFieldParams.model_validate({"layers": layers})
            a = self.reference(p)
            naive = 1 + sum(layer.kernel - 1 for layer in p.layers)
            if a.receptive_field <= r.max_receptive_field and (a.receptive_field != naive or n == 1):
                return p

        return draw_until(rng, draw, tries=200, type_id=self.id, what=f"stack within max_receptive_field "
                          f"{r.max_receptive_field} where stride or dilation matters")

    def solve(self, p: ReceptiveFieldParams) -> ReceptiveFieldAnswer:
        rfs, jumps = receptive_fields([layer.model_dump() for layer in p.layers])
        jumps_in = [1] + jumps[:-1]
        previous = [1] + rfs[:-1]
        return ReceptiveFieldAnswer(
            receptive_field=rfs[-1],
            rfs=tuple(rfs),
            rfs_in=tuple(previous),
            jumps=tuple(jumps),
            jumps_in=tuple(jumps_in),
            increments=tuple(r - q for r, q in zip(rfs, previous)),
            effective_kernels=tuple((layer.kernel - 1) * layer.dilation + 1 for layer in p.layers),
        )

    def reference(self, p: ReceptiveFieldParams) -> ReceptiveFieldAnswer:
        rfs, jumps_in, jumps_out = _rf_recurrence(p.layers)
        return ReceptiveFieldAnswer(
            receptive_field=rfs[-1],
            rfs=tuple(rfs),
            rfs_in=(1, *rfs[:-1]),
            jumps=tuple(jumps_out),
            jumps_in=tuple(jumps_in),
            increments=tuple((layer.kernel - 1) * layer.dilation * j for layer, j in zip(p.layers, jumps_in)),
            effective_kernels=tuple((layer.kernel - 1) * layer.dilation + 1 for layer in p.layers),
        )

    def answer_latex(self, a: ReceptiveFieldAnswer) -> str:
        return f"receptive field ${a.receptive_field} \\times {a.receptive_field}$"

    def choice_value(self, a: ReceptiveFieldAnswer) -> int:
        return a.receptive_field

    def choice_latex(self, value) -> str:
        return f"${value} \\times {value}$"

    def mistakes(self, p: ReceptiveFieldParams) -> dict[str, int]:
        layers = p.layers
        wrong = {
            "ignored_stride": _rf_recurrence(layers, use_stride=False)[0][-1],
            "ignored_dilation": _rf_recurrence(layers, use_dilation=False)[0][-1] if p.has_dilation else None,
            "current_stride_in_jump": _rf_recurrence(layers, jump_after=True)[0][-1],
            "added_kernel_sizes": sum((layer.kernel - 1) * layer.dilation + 1 for layer in layers),
            "dilation_times_kernel": (
                1 + sum((layer.kernel * layer.dilation - 1) * j
                        for layer, j in zip(layers, _rf_recurrence(layers)[1]))
                if p.has_dilation else None
            ),
            "multiplied_kernels": math.prod(layer.kernel for layer in layers),
        }
        return {name: v for name, v in wrong.items() if v is not None and v >= 1}


# -- conv.stacked_vs_single -------------------------------------------------------------------

_PARAM_PHRASES = {-1: "fewer parameters", 0: "the same number of parameters", 1: "more parameters"}
_RF_PHRASES = {-1: "a smaller receptive field", 0: "the same receptive field", 1: "a larger receptive field"}


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _phrase(params_sign: int, rf_sign: int) -> str:
    return f"{_PARAM_PHRASES[params_sign]} and {_RF_PHRASES[rf_sign]}"


class StackedParams(ParamsModel):
    n_layers: Annotated[int, Field(ge=2, le=6)]
    small_kernel: Annotated[int, Field(ge=1, le=7)]
    big_kernel: Annotated[int, Field(ge=2, le=15)]
    channels: Annotated[int, Field(ge=1, le=1024)] | None = None  # None: a symbol D, as in the seed
    bias: bool = False

    @model_validator(mode="after")
    def _consistent(self):
        if self.big_kernel <= self.small_kernel:
            raise ValueError(
                f"big_kernel {self.big_kernel} must be larger than small_kernel {self.small_kernel}"
            )
        if self.channels is None and self.bias:
            raise ValueError(
                "bias needs a number of channels: with a symbolic D the comparison could depend on D"
            )
        return self


class StackedRanges(RangesModel):
    min_layers: Annotated[int, Field(ge=2, le=6)] = 2
    max_layers: Annotated[int, Field(ge=2, le=6)] = 4
    max_small_kernel: Annotated[int, Field(ge=2, le=7)] = 5
    max_big_kernel: Annotated[int, Field(ge=3, le=15)] = 11
    min_channels: Annotated[int, Field(ge=1, le=1024)] = 16
    max_channels: Annotated[int, Field(ge=1, le=1024)] = 256

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_big_kernel <= 2:
            raise ValueError(f"max_big_kernel {self.max_big_kernel} leaves no kernel larger than 2x2")
        return self


class StackedAnswer(AnswerModel):
    stack_d2: int  # stack parameters = stack_d2 * D^2 + stack_d1 * D
    stack_d1: int
    single_d2: int
    single_d1: int
    stack_params: int | None  # the counts when the channels are a number
    single_params: int | None
    per_layer_params: int | None
    stack_rf: int
    single_rf: int
    params_sign: int  # sign(stack - single)
    rf_sign: int
    comparison: str


@register
class ConvStackedVsSingle(QuestionType):
    id = "conv.stacked_vs_single"
    summary = "n stacked kxk convolutions against one KxK convolution: parameter counts and receptive fields."
    mirrors = "000 1.1 (two 3x3 convolutions vs one 5x5, D input and D output channels: 18D^2 < 25D^2)"
    Params = StackedParams
    Answer = StackedAnswer
    answer_format = AnswerFormat("choice")  # the options compare in words
    Ranges = StackedRanges
    forms = ("free", "mc", "tf")
    seed_example = {"n_layers": 2, "small_kernel": 3, "big_kernel": 5, "channels": None, "bias": False}
    box_height = "4.5cm"

    def sample(self, rng: np.random.Generator, ranges: StackedRanges) -> StackedParams:
        r = ranges
        n = int(rng.integers(r.min_layers, r.max_layers + 1))
        smalls = [k for k in (2, 3, 3, 3, 5) if k <= r.max_small_kernel and k < r.max_big_kernel]
        k = int(rng.choice(smalls))
        matched = n * (k - 1) + 1
        if matched <= r.max_big_kernel and rng.random() < 0.4:
            big = matched  # the seed's case: the same receptive field
        else:
            big = int(rng.integers(k + 1, min(r.max_big_kernel, matched + 2) + 1))
        sizes = [c for c in (16, 32, 64, 128, 256, 512) if r.min_channels <= c <= r.max_channels]
        if rng.random() < 0.4 or not sizes:
            channels, bias = None, False
        else:
            channels, bias = int(rng.choice(sizes)), bool(rng.random() < 0.5)
        return StackedParams(n_layers=n, small_kernel=k, big_kernel=big, channels=channels, bias=bias)

    def solve(self, p: StackedParams) -> StackedAnswer:
        small = [p.small_kernel] * p.n_layers
        stack = conv_stack_params_poly(small, bias=p.bias)
        single = conv_stack_params_poly([p.big_kernel], bias=p.bias)
        conv = {"type": "conv", "stride": 1, "dilation": 1}
        stack_rf = receptive_fields([{**conv, "kernel": p.small_kernel}] * p.n_layers)[0][-1]
        single_rf = receptive_fields([{**conv, "kernel": p.big_kernel}])[0][-1]
        counts = None
        if p.channels is not None:
            counts = (
                conv_stack_params(p.channels, small, bias=p.bias),
                conv_stack_params(p.channels, [p.big_kernel], bias=p.bias),
                conv_stack_params(p.channels, [p.small_kernel], bias=p.bias),
            )
        return self._answer(p, stack, single, stack_rf, single_rf, counts)

    def reference(self, p: StackedParams) -> StackedAnswer:
        b = 1 if p.bias else 0
        stack = (p.n_layers * p.small_kernel**2, p.n_layers * b)
        single = (p.big_kernel**2, b)
        counts = None
        if p.channels is not None:
            c = p.channels
            per_layer = p.small_kernel**2 * c * c + b * c
            counts = (p.n_layers * per_layer, p.big_kernel**2 * c * c + b * c, per_layer)
        return self._answer(p, stack, single, p.n_layers * (p.small_kernel - 1) + 1, p.big_kernel, counts)

    @staticmethod
    def _answer(p, stack, single, stack_rf, single_rf, counts) -> StackedAnswer:
        if counts is not None:
            params_sign = _sign(counts[0] - counts[1])
        else:  # no bias with a symbolic D: the D^2 coefficients decide
            params_sign = _sign(stack[0] - single[0])
        rf_sign = _sign(stack_rf - single_rf)
        return StackedAnswer(
            stack_d2=stack[0], stack_d1=stack[1], single_d2=single[0], single_d1=single[1],
            stack_params=counts[0] if counts else None,
            single_params=counts[1] if counts else None,
            per_layer_params=counts[2] if counts else None,
            stack_rf=stack_rf, single_rf=single_rf,
            params_sign=params_sign, rf_sign=rf_sign,
            comparison=_phrase(params_sign, rf_sign),
        )

    def answer_latex(self, a: StackedAnswer) -> str:
        if a.stack_params is not None:
            counts = f"{a.stack_params} vs.\\ {a.single_params} parameters"
        else:
            counts = f"${a.stack_d2}D^2$ vs.\\ ${a.single_d2}D^2$ parameters"
        return (f"{counts}; receptive field ${a.stack_rf} \\times {a.stack_rf}$ vs.\\ "
                f"${a.single_rf} \\times {a.single_rf}$: the stack has {a.comparison}.")

    def key_texts(self, a: StackedAnswer) -> list[str]:
        if a.stack_params is not None:
            counts = [str(a.stack_params), str(a.single_params)]
        else:
            counts = [f"{a.stack_d2}D^2", f"{a.single_d2}D^2"]
        return counts + [a.comparison]

    def choice_value(self, a: StackedAnswer) -> tuple[int, int]:
        return (a.params_sign, a.rf_sign)

    def choice_latex(self, value) -> str:
        return _phrase(*value)

    def mistakes(self, p: StackedParams) -> dict[str, tuple[int, int]]:
        n, k, big = p.n_layers, p.small_kernel, p.big_kernel
        right = self.reference(p)
        rf = right.rf_sign
        ps = right.params_sign
        wrong = {
            "forgot_layer_count": (_sign(k * k - big * big), rf),
            "kernel_not_squared": (_sign(n * k - big), rf),
            "rf_added_kernel_sizes": (ps, _sign(n * k - big)),
            "rf_of_one_layer": (ps, _sign(k - big)),
            "rf_multiplied_kernels": (ps, _sign(k**n - big)),
            "forgot_bias": (_sign(n * k * k - big * big), rf) if p.bias else None,
        }
        return {name: v for name, v in wrong.items() if v is not None}

    def fallback_mistakes(self, p: StackedParams, a: StackedAnswer) -> dict[str, tuple[int, int]]:
        names = {-1: "fewer", 0: "same", 1: "more"}
        rf_names = {-1: "smaller", 0: "same", 1: "larger"}
        return {
            f"claimed_{names[ps]}_params_{rf_names[rs]}_rf": (ps, rs)
            for ps in (-1, 1, 0) for rs in (0, -1, 1)
        }

    def generic_mistakes(self, p: StackedParams, a: StackedAnswer):
        return iter(())  # the fallbacks name every other pair of signs already
