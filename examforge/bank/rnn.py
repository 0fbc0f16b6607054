"""Recurrent-network questions: backpropagation through time on a scalar RNN (one SGD step),
and the parameter counts of RNN, LSTM and GRU layers, which do not depend on sequence length."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, nice
from examforge.bank._options import params_rng
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.rnn import recurrent_param_count, recurrent_parameters, scalar_rnn_step


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# == rnn.scalar_bptt ===========================================================================

Scalar = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]

_G = {
    "identity": (lambda z: z, lambda z, h: 1.0),
    "relu": (lambda z: max(0.0, z), lambda z, h: 1.0 if z > 0 else 0.0),
    "tanh": (math.tanh, lambda z, h: 1.0 - h * h),
}


class ScalarBPTTParams(ParamsModel):
    x: Annotated[tuple[Scalar, ...], Field(min_length=2, max_length=4)]
    y: Scalar
    w: Scalar
    a: Scalar
    h0: Scalar = 0.0
    activation: Literal["identity", "relu", "tanh"] = "relu"
    lr: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _off_the_kink(self):
        if self.activation == "relu":
            h = self.h0
            for t, x in enumerate(self.x, start=1):
                z = self.w * h + self.a * x
                if abs(z) < 1e-12:
                    raise ValueError(
                        f"z{t} = w*h{t - 1} + a*x{t} = {fmt(self.w)}*{fmt(h)} + {fmt(self.a)}*{fmt(x)} = 0 "
                        "sits on the ReLU kink, where the derivative is undefined"
                    )
                h = max(0.0, z)
        return self


class ScalarBPTTRanges(RangesModel):
    min_steps: Annotated[int, Field(ge=2, le=4)] = 2
    max_steps: Annotated[int, Field(ge=2, le=4)] = 3


class TimeStep(_Frozen):
    """One time step of the forward and backward pass, for the worked solution."""

    t: int
    x: float
    h_prev: float
    z: float
    h: float
    local: float  # g'(z_t)
    dL_dh: float
    dL_dz: float  # delta_t
    w_term: float  # delta_t * h_{t-1}
    a_term: float  # delta_t * x_t


class ScalarBPTTAnswer(AnswerModel):
    steps: tuple[TimeStep, ...]
    y_hat: float
    loss: float
    dL_dyhat: float
    grad_w: float
    grad_a: float
    new_w: float
    new_a: float
    last_step_grad_w: float  # delta_T * h_{T-1}: what truncating BPTT to one step would give
    tolerance: float  # absolute grading tolerance (0 when every value is exact)


def _bptt_by_hand(p: ScalarBPTTParams) -> dict:
    """Forward pass, then forward-mode sensitivities dh_t/dw and dh_t/da (independent of the
    backward recursion the solver uses) and the backward deltas for the worked solution."""
    g, dg = _G[p.activation]
    hs, zs, locals_ = [p.h0], [], []
    dh_dw, dh_da = 0.0, 0.0  # h0 is a constant
    for x in p.x:
        z = p.w * hs[-1] + p.a * x
        h = g(z)
        local = dg(z, h)
        # dz_t/dw = h_{t-1} + w dh_{t-1}/dw ;  dz_t/da = x_t + w dh_{t-1}/da
        dh_dw, dh_da = local * (hs[-1] + p.w * dh_dw), local * (x + p.w * dh_da)
        zs.append(z)
        hs.append(h)
        locals_.append(local)
    err = hs[-1] - p.y
    n = len(p.x)
    deltas = [0.0] * n
    dL_dh = [0.0] * n
    dL_dh[-1] = err
    for t in reversed(range(n)):
        deltas[t] = dL_dh[t] * locals_[t]
        if t:
            dL_dh[t - 1] = deltas[t] * p.w
    return {
        "z": zs, "h": hs, "local": locals_, "deltas": deltas, "dL_dh": dL_dh, "err": err,
        "grad_w": err * dh_dw, "grad_a": err * dh_da,
    }


def _bptt_answer(p: ScalarBPTTParams, v: dict) -> ScalarBPTTAnswer:
    steps = tuple(
        TimeStep(
            t=t + 1, x=p.x[t], h_prev=clean(v["h"][t]), z=clean(v["z"][t]), h=clean(v["h"][t + 1]),
            local=clean(v["local"][t]), dL_dh=clean(v["dL_dh"][t]), dL_dz=clean(v["deltas"][t]),
            w_term=clean(v["deltas"][t] * v["h"][t]), a_term=clean(v["deltas"][t] * p.x[t]),
        )
        for t in range(len(p.x))
    )
    return ScalarBPTTAnswer(
        steps=steps,
        y_hat=clean(v["h"][-1]),
        loss=clean(0.5 * v["err"] ** 2),
        dL_dyhat=clean(v["err"]),
        grad_w=clean(v["grad_w"]),
        grad_a=clean(v["grad_a"]),
        new_w=clean(p.w - p.lr * v["grad_w"]),
        new_a=clean(p.a - p.lr * v["grad_a"]),
        last_step_grad_w=clean(v["deltas"][-1] * v["h"][-2]),
        tolerance=0.005 if p.activation == "tanh" else 0.0,
    )


_X = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
_W = (-1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)
_A = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
_Y = tuple(v / 2 for v in range(-6, 7))
_LR = (0.1, 0.05, 0.2, 0.01)


@register
class ScalarBPTT(QuestionType):
    id = "rnn.scalar_bptt"
    summary = "Forward pass, backpropagation through time and one SGD step for the recurrent weight of a scalar RNN."
    mirrors = "002 Part 1 MC6 (scalar RNN z_t = w h_{t-1} + a x_t, h_t = g(z_t), y_hat = h_T; SGD update for w)"
    Params = ScalarBPTTParams
    Answer = ScalarBPTTAnswer
    Ranges = ScalarBPTTRanges
    # The seed is symbolic (two steps, h0 = 0, any g). We fix g = ReLU and numbers for which
    # the seed's four options give four different updates.
    seed_example = {"x": [1.0, 2.0], "y": 1.0, "w": 1.5, "a": 0.5, "h0": 0.0, "activation": "relu", "lr": 0.1}
    seed_comment = (
        "The seed's key w <- w - eta (h2 - y) g'(z2) h1 is right (with h0 = 0, "
        "h1 = g(a x1) does not depend on w). The seed is symbolic; our seed example picks g = ReLU, "
        "x = (1, 2), y = 1, w = 1.5, a = 0.5, eta = 0.1: h1 = 0.5, h2 = 1.75, dL/dw = 0.75 * 1 * 0.5 = 0.375, new w = 1.4625. The seed's "
        "other options give 1.2375 (option A, whose gradient 2.625 is dL/da), 1.425 (C) and 1.3875 (D)."
    )
    box_height = "6cm"

    def sample(self, rng: np.random.Generator, ranges: ScalarBPTTRanges) -> ScalarBPTTParams:
        u = rng.random()  # drawn once, so slow-to-accept activations keep their share
        act = "relu" if u < 0.5 else ("identity" if u < 0.8 else "tanh")
        return draw_until(rng, lambda g: self._draw(g, ranges, act), tries=500, type_id=self.id,
                          what="hand-computable sequence and weights", ranges=ranges)

    def _draw(self, rng: np.random.Generator, r: ScalarBPTTRanges, act: str) -> ScalarBPTTParams | None:
        n = int(rng.integers(r.min_steps, r.max_steps + 1))
        x = tuple(float(rng.choice(_X)) for _ in range(n))
        w = float(rng.choice(_W))
        a = float(rng.choice(_A))
        h0 = 0.0 if rng.random() < 0.7 else float(rng.choice((-1.0, 1.0, 0.5)))
        y = float(rng.choice(_Y))
        lr = float(rng.choice(_LR))
        if act == "tanh":
            w, a = w / 2 if abs(w) > 1 else w, a / 2 if abs(a) > 1 else a
            x = tuple(v / 2 if abs(v) > 1 else v for v in x)
        try:
            p = ScalarBPTTParams(x=x, y=y, w=w, a=a, h0=h0, activation=act, lr=lr)
        except ValueError:
            return None  # on the ReLU kink
        v = _bptt_by_hand(p)
        if v["err"] == 0 or abs(v["err"]) > 8 or abs(v["grad_w"]) < 1e-3 or abs(v["grad_w"]) > 40:
            return None
        if abs(v["grad_a"]) > 40:
            return None
        if act == "relu" and (v["z"][-1] < 0 or v["h"][-2] == 0):
            return None  # the last unit is dead, or w sees nothing at the last step
        if act == "tanh":
            if max(abs(z) for z in v["z"]) > 2 or abs(lr * v["grad_w"]) < 0.02:
                return None  # saturated, or a step lost in the rounding
        else:
            a_ = _bptt_answer(p, v)
            values = [s.h for s in a_.steps] + [s.dL_dz for s in a_.steps] + [a_.grad_w, a_.grad_a, a_.new_w, a_.new_a, a_.loss]
            if not all(nice(val) for val in values):
                return None
        return p

    def solve(self, p: ScalarBPTTParams) -> ScalarBPTTAnswer:
        r = scalar_rnn_step(p.x, p.y, w=p.w, a=p.a, h0=p.h0, act=p.activation, lr=p.lr)
        n = len(p.x)
        hs = [p.h0] + [r.values[f"h{t}"] for t in range(1, n + 1)]
        zs = [r.values[f"z{t}"] for t in range(1, n + 1)]
        g = _G[p.activation][1]
        # g'(z_t) from the definition at the recorded z_t, h_t: autograd's dL/dz / dL/dh is
        # undefined where dL/dh = 0.
        locals_ = [g(zs[t], hs[t + 1]) for t in range(n)]
        v = {
            "z": zs, "h": hs, "local": locals_,
            "deltas": [r.value_grads[f"z{t}"] for t in range(1, n + 1)],
            "dL_dh": [r.value_grads[f"h{t}"] for t in range(1, n + 1)],
            "err": r.value_grads[f"h{n}"],
            "grad_w": r.grads["w"], "grad_a": r.grads["a"],
        }
        ans = _bptt_answer(p, v)
        if not math.isclose(ans.new_w, r.new_params["w"], abs_tol=1e-9):
            raise ArithmeticError(f"{self.id}: SGD step disagrees with torch")
        return ans

    def reference(self, p: ScalarBPTTParams) -> ScalarBPTTAnswer:
        return _bptt_answer(p, _bptt_by_hand(p))

    def answer_latex(self, a: ScalarBPTTAnswer) -> str:
        return (
            rf"$\partial L/\partial w = {fmt(a.grad_w)}$, $\partial L/\partial a = {fmt(a.grad_a)}$; "
            rf"new $w = {fmt(a.new_w)}$, new $a = {fmt(a.new_a)}$"
        )

    def key_texts(self, a: ScalarBPTTAnswer) -> list[str]:
        return [f"w = {fmt(a.new_w)}", f"a = {fmt(a.new_a)}"]

    def choice_value(self, a: ScalarBPTTAnswer) -> float:
        return a.new_w

    def mistakes(self, p: ScalarBPTTParams) -> dict[str, float]:
        v = _bptt_by_hand(p)
        err, hs, loc = v["err"], v["h"], v["local"]
        # g' dropped from the backward pass (forward values kept): dz_t/dw = h_{t-1} + w dz_{t-1}/dw
        sens = 0.0
        for t in range(len(p.x)):
            sens = hs[t] + p.w * sens
        # the seed's distractors (002 MC6), generalised to T steps
        input_path = v["grad_a"]  # option A: (h_T - y) g'(z_T) (x_T + w g'(z_{T-1}) x_{T-1} + ...) = dL/da
        product = err * math.prod(loc)  # option C: (h_T - y) g'(z_T) g'(z_{T-1}) ...
        w_for_h = err * loc[-1] * p.w  # option D: (h_T - y) g'(z_T) w
        truncated = err * loc[-1] * hs[-2]  # BPTT stopped after the last step
        g = v["grad_w"]
        wrong = {
            "truncated_bptt": p.w - p.lr * truncated,
            "used_input_path": p.w - p.lr * input_path,
            "product_of_derivatives": p.w - p.lr * product,
            "w_instead_of_h": p.w - p.lr * w_for_h,
            "forgot_activation_derivative": p.w - p.lr * err * sens,
            "ascent_step": p.w + p.lr * g,
            "forgot_lr": p.w - g,
        }
        return _clear_of(wrong, p.w - p.lr * g, p)

    def fallback_mistakes(self, p: ScalarBPTTParams, a: ScalarBPTTAnswer) -> dict[str, float]:
        return _clear_of(super().fallback_mistakes(p, a), a.new_w, p)


def _clear_of(wrong: dict[str, float], right: float, p: ScalarBPTTParams) -> dict[str, float]:
    """Drop distractors a student could not tell from the answer: with 4-decimal tanh values,
    anything within 0.01 of the right value."""
    if p.activation != "tanh":
        return wrong
    return {name: v for name, v in wrong.items() if abs(v - right) >= 0.01}


# == rnn.param_count ===========================================================================

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_CONFUSED_GATES = {"rnn": 4, "lstm": 3, "gru": 4}  # the gate count of the cell most often mixed up


_LONGER = (2, 4, 10)  # ask "length": the other sequence length is this many times T


class ParamCountParams(ParamsModel):
    cell: Literal["rnn", "lstm", "gru"]
    input_size: Annotated[int, Field(ge=1, le=4096)]
    hidden_size: Annotated[int, Field(ge=1, le=4096)]
    num_layers: Annotated[int, Field(ge=1, le=4)] = 1
    bidirectional: bool = False
    seq_len: Annotated[int, Field(ge=1, le=100_000)] = 50
    # "count": how many parameters; "length" (seed 000 1.4, never drawn: a spec asks for it):
    # how many on sequences of another length, i.e. does the count grow with T?
    ask: Literal["count", "length"] = "count"
    longer_len: Annotated[int, Field(ge=2, le=1_000_000)] | None = None  # ask length: T' (None: 2, 4 or 10 times T)

    @model_validator(mode="after")
    def _other_length(self):
        if self.longer_len is not None and self.longer_len == self.seq_len:
            raise ValueError(f"longer_len {self.longer_len} equals seq_len: give a different sequence length")
        return self

    @property
    def other_len(self) -> int:
        """T' for ask length."""
        if self.longer_len is not None:
            return self.longer_len
        rng = params_rng(self, exclude=("ask", "longer_len"))
        return _LONGER[int(rng.integers(len(_LONGER)))] * self.seq_len


class ParamCountRanges(RangesModel):
    min_input: Annotated[int, Field(ge=1, le=4096)] = 3
    max_input: Annotated[int, Field(ge=1, le=4096)] = 300
    min_hidden: Annotated[int, Field(ge=1, le=4096)] = 4
    max_hidden: Annotated[int, Field(ge=1, le=4096)] = 256
    min_layers: Annotated[int, Field(ge=1, le=4)] = 1
    max_layers: Annotated[int, Field(ge=1, le=4)] = 2


class LayerCount(_Frozen):
    layer: int  # 1-based
    input_size: int  # what this layer reads: I for layer 1, H (or 2H) above
    w_ih: tuple[int, int]
    w_hh: tuple[int, int]
    bias: int  # length of each of b_ih and b_hh
    per_direction: int
    directions: int
    count: int


class ParamCountAnswer(AnswerModel):
    total: int
    gates: int
    layers: tuple[LayerCount, ...]
    single_bias_total: int  # the same network with one bias vector per gate
    asked: Literal["count", "length"] = "count"
    other_len: int = 0  # ask length: T'
    other_total: int = 0  # ask length: the parameters trained on sequences of length T'


def _count_by_formula(p: ParamCountParams, *, gates: int | None = None, biases: int = 2,
                      recurrent: bool = True, layer_input_is_x: bool = False,
                      directions: int | None = None) -> tuple[int, list[LayerCount]]:
    """gates * (H*I_l + H*H + biases*H) per layer and direction; keyword flags make the
    deliberately wrong variants used as distractors."""
    g = _GATES[p.cell] if gates is None else gates
    d = (2 if p.bidirectional else 1) if directions is None else directions
    h = p.hidden_size
    layers, total = [], 0
    for k in range(1, p.num_layers + 1):
        inp = p.input_size if (k == 1 or layer_input_is_x) else d * h
        per = g * (h * inp + (h * h if recurrent else 0) + biases * h)
        layers.append(LayerCount(layer=k, input_size=inp, w_ih=(g * h, inp), w_hh=(g * h, h), bias=g * h,
                                 per_direction=per, directions=d, count=d * per))
        total += d * per
    return total, layers


_INPUTS = (3, 4, 8, 10, 16, 20, 32, 50, 64, 100, 128, 300)
_HIDDEN = (4, 8, 10, 16, 20, 32, 50, 64, 100, 128, 256)
_SEQ = (10, 20, 25, 50, 100, 200)


@register
class RecurrentParamCount(QuestionType):
    id = "rnn.param_count"
    mistake_sentences = {
        "single_bias": "You counted one bias vector per gate, but PyTorch's RNN layers have two (b_ih and b_hh).",
        "depends_on_length": "You multiplied by the sequence length: the same weights are reused at every time step.",
        "forgot_recurrent_weights": "You left out the hidden-to-hidden weights W_hh, which every gate also has.",
        "wrong_gate_count": "You used the wrong number of gates for this cell (an LSTM has 4, a GRU 3, a plain RNN 1).",
        "no_bias": "You left out the biases.",
        "every_layer_reads_input": "You gave every layer the input size; layers after the first read the previous layer's hidden state (twice its size when bidirectional).",
        "one_direction_only": "You counted one direction: a bidirectional layer has a second, independent set of weights.",
        "scaled_with_length": "You scaled the count with the sequence length: the same weights are reused at every time step.",
        "per_time_step": "You counted a copy of the weights per time step: an RNN reuses one set at every step.",
        "counted_hidden_states": "You counted the hidden states of every step: they are activations (memory), not parameters.",
    }
    summary = ("Trainable parameters of a (stacked, optionally bidirectional) RNN, LSTM or GRU; independent of "
               "sequence length (ask: length asks the count on longer sequences).")
    mirrors = "000 1.4 (the number of parameters in an RNN does not grow with the sequence length)"
    Params = ParamCountParams
    Answer = ParamCountAnswer
    Ranges = ParamCountRanges
    forms = ("free", "mc", "tf")
    # 000 1.4 has no sizes (its key, False, is right): a one-layer vanilla RNN with our own
    # sizes, run on length-50 and then length-200 sequences: 640 parameters for any length,
    # not the 2560 that "grows linearly with the sequence length" claims.
    seed_example = {"cell": "rnn", "input_size": 10, "hidden_size": 20, "num_layers": 1,
                    "bidirectional": False, "seq_len": 50, "ask": "length", "longer_len": 200}
    options = {"ask: length": "the count on sequences 2, 4 or 10 times longer (`longer_len`): does it grow with T? (000 1.4)"}
    box_height = "3.5cm"

    def sample(self, rng: np.random.Generator, ranges: ParamCountRanges) -> ParamCountParams:
        r = ranges

        def pick(options: tuple[int, ...], lo: int, hi: int) -> int:
            inside = [v for v in options if lo <= v <= hi]
            return int(rng.choice(inside)) if inside else int(rng.integers(lo, hi + 1))

        cell = str(rng.choice(("rnn", "lstm", "gru")))
        layers = int(rng.integers(r.min_layers, r.max_layers + 1)) if rng.random() < 0.4 else r.min_layers
        return ParamCountParams(
            cell=cell,
            input_size=pick(_INPUTS, r.min_input, r.max_input),
            hidden_size=pick(_HIDDEN, r.min_hidden, r.max_hidden),
            num_layers=layers,
            bidirectional=bool(rng.random() < 0.25),
            seq_len=int(rng.choice(_SEQ)),
        )

    def solve(self, p: ParamCountParams) -> ParamCountAnswer:
        kw = dict(input_size=p.input_size, hidden_size=p.hidden_size, num_layers=p.num_layers,
                  bidirectional=p.bidirectional)
        total = recurrent_param_count(p.cell, **kw)
        shapes = recurrent_parameters(p.cell, **kw)
        d = 2 if p.bidirectional else 1
        layers = []
        for k in range(p.num_layers):
            w_ih, w_hh, b = shapes[f"weight_ih_l{k}"], shapes[f"weight_hh_l{k}"], shapes[f"bias_ih_l{k}"]
            per = w_ih[0] * w_ih[1] + w_hh[0] * w_hh[1] + 2 * b[0]
            layers.append(LayerCount(layer=k + 1, input_size=w_ih[1], w_ih=w_ih, w_hh=w_hh, bias=b[0],
                                     per_direction=per, directions=d, count=d * per))
        if sum(layer.count for layer in layers) != total:
            raise ArithmeticError(f"{self.id}: per-layer counts disagree with torch's total")
        single = total - sum(d * layer.bias for layer in layers)  # drop one of b_ih, b_hh
        other = {}
        if p.ask == "length":
            # torch's module takes no sequence length: the parameters exist before any input is
            # seen, and a sequence of any length runs through the same ones (tests/test_rnn.py
            # runs forward and backward at several lengths and counts the gradients).
            other = dict(asked="length", other_len=p.other_len, other_total=recurrent_param_count(p.cell, **kw))
        return ParamCountAnswer(total=total, gates=w_hh[0] // p.hidden_size, layers=tuple(layers),
                                single_bias_total=single, **other)

    def reference(self, p: ParamCountParams) -> ParamCountAnswer:
        total, layers = _count_by_formula(p)
        single, _ = _count_by_formula(p, biases=1)
        # the formula has no T in it: the same weights serve every time step
        other = dict(asked="length", other_len=p.other_len, other_total=total) if p.ask == "length" else {}
        return ParamCountAnswer(total=total, gates=_GATES[p.cell], layers=tuple(layers), single_bias_total=single,
                                **other)

    def answer_latex(self, a: ParamCountAnswer) -> str:
        return rf"{fmt(a.total)} trainable parameters, whatever the sequence length"

    def key_texts(self, a: ParamCountAnswer) -> list[str]:
        return [f"{a.total} trainable parameters"]

    def choice_value(self, a: ParamCountAnswer) -> int:
        return a.other_total if a.asked == "length" else a.total

    def mistakes(self, p: ParamCountParams) -> dict[str, int]:
        total, _ = _count_by_formula(p)
        if p.ask == "length":
            d = 2 if p.bidirectional else 1
            wrong = {
                "scaled_with_length": round(total * p.other_len / p.seq_len),
                "per_time_step": total * p.other_len,
                "counted_hidden_states": total + p.other_len * d * p.hidden_size * p.num_layers,
                "single_bias": _count_by_formula(p, biases=1)[0],
            }
            return {name: v for name, v in wrong.items() if v != total}
        wrong = {
            "single_bias": _count_by_formula(p, biases=1)[0],
            "depends_on_length": total * p.seq_len,
            "forgot_recurrent_weights": _count_by_formula(p, recurrent=False)[0],
            "wrong_gate_count": _count_by_formula(p, gates=_CONFUSED_GATES[p.cell])[0],
            "no_bias": _count_by_formula(p, biases=0)[0],
        }
        if p.num_layers > 1:
            wrong["every_layer_reads_input"] = _count_by_formula(p, layer_input_is_x=True)[0]
        if p.bidirectional:
            wrong["one_direction_only"] = _count_by_formula(p, directions=1)[0]
        return {name: v for name, v in wrong.items() if v != total}

    def fallback_mistakes(self, p: ParamCountParams, a: ParamCountAnswer) -> dict[str, int]:
        h = p.hidden_size
        return {"missing_one_bias_vector": a.total - h, "extra_hidden_row": a.total + h * (p.input_size + h)}
