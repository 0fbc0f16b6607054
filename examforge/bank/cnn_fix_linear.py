"""'Fix the code': an nn.Sequential listing whose first nn.Linear has the wrong in_features."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from examforge.bank.cnn import CnnShapeTrace, NetworkParams, ShapeTraceRanges, TraceAnswer
from examforge.question import QuestionType, generic_fallbacks
from examforge.registry import register
from examforge.formatting import Latex, escape
from examforge.solvers.cnn import run_listed

_TRACE = CnnShapeTrace()
_INDENT = "    "


def linear_line(in_features: int, out_features: int) -> str:
    return f"nn.Linear({in_features}, {out_features})"


def _module_lines(layer, in_channels: int, in_features: int) -> list[str]:
    """The listing lines of one layer, wrapped like the seed's (continuations under the '(')."""
    if layer.type == "conv":
        head = "nn.Conv2d("
        return [
            f"{head}in_channels={in_channels}, out_channels={layer.out_channels}, kernel_size={layer.kernel},",
            " " * len(head) + f"stride={layer.stride}, padding={layer.padding}),",
        ]
    if layer.type in ("maxpool", "avgpool"):
        module = "nn.MaxPool2d" if layer.type == "maxpool" else "nn.AvgPool2d"
        return [f"{module}(kernel_size={layer.kernel}, stride={layer.stride}, padding=0),"]
    if layer.type == "relu":
        return ["nn.ReLU(),"]
    if layer.type == "flatten":
        return ["nn.Flatten(),"]
    return [linear_line(in_features, layer.out_features) + ","]


class FixLinearParams(NetworkParams):
    listed_in_features: Annotated[int, Field(ge=1, le=1_000_000)]  # what the buggy listing says

    @model_validator(mode="after")
    def _listing_has_the_bug(self):
        right = _TRACE.reference(self).flatten_dim
        if self.listed_in_features == right:
            raise ValueError(
                f"listed_in_features {self.listed_in_features} is already the right in_features; "
                "the listing must contain the bug"
            )
        return self

    @property
    def code_lines(self) -> tuple[str, ...]:
        """The listing the student sees, one string per line, indentation as spaces."""
        lines = ["model = nn.Sequential("]
        channels = self.input_shape[0]
        features = self.listed_in_features
        for layer in self.layers:
            lines += [_INDENT + line for line in _module_lines(layer, channels, features)]
            if layer.type == "conv":
                channels = layer.out_channels
            if layer.type == "linear":
                features = layer.out_features
        lines.append(")")
        return tuple(lines)

    @property
    def listing(self) -> tuple[Latex, ...]:
        """code_lines as LaTeX for a typewriter font: escaped, leading spaces as ~ (one
        character wide in a monospaced font)."""
        out = []
        for line in self.code_lines:
            body = line.lstrip(" ")
            out.append(Latex("~" * (len(line) - len(body)) + escape(body)))
        return tuple(out)

    @property
    def wrong_line(self) -> int:
        """1-based number of the listing line holding the first nn.Linear."""
        target = linear_line(self.listed_in_features, self.layers[self.first_linear].out_features)
        return next(i + 1 for i, line in enumerate(self.code_lines) if line.strip().startswith(target))


class FixLinearAnswer(TraceAnswer):
    fixed_line: str  # e.g. nn.Linear(144, 10)
    listed_line: str
    wrong_line: int  # 1-based line number in the listing
    fails_as_listed: bool


@register
class CnnFixLinear(QuestionType):
    id = "cnn.fix_linear"
    summary = "Fix the code: an nn.Sequential CNN whose nn.Linear has the wrong in_features; give the corrected line."
    mirrors = "002 Problem 1.3 (SVHN CNN listed with nn.Linear(120, 10); the flatten gives 3x3x16 = 144)"
    Params = FixLinearParams
    Answer = FixLinearAnswer
    Ranges = ShapeTraceRanges
    seed_example = {**CnnShapeTrace.seed_example, "listed_in_features": 120}
    seed_note = (
        "002's key (nn.Linear(144, 10)) is right. Its listing also lacks the commas after both "
        "nn.AvgPool2d(...) lines, a SyntaxError before any shape error; our listings are valid Python."
    )
    box_height = "6cm"

    def sample(self, rng: np.random.Generator, ranges: ShapeTraceRanges) -> FixLinearParams:
        net = _TRACE.sample(rng, ranges)
        right = _TRACE.reference(net).flatten_dim
        wrong = sorted({v for v in _TRACE.mistakes(net).values() if v != right and v > 0})
        if not wrong:
            wrong = [v for v in _TRACE.fallback_mistakes(net, _TRACE.reference(net)).values() if v != right]
        listed = int(wrong[int(rng.integers(len(wrong)))])
        return FixLinearParams(**net.model_dump(exclude={"ask"}), listed_in_features=listed)

    def solve(self, p: FixLinearParams) -> FixLinearAnswer:
        trace = _TRACE.solve(p)
        layers = [layer.model_dump() for layer in p.layers]
        reaching, fails = run_listed(p.input_shape, layers, first_linear_in=p.listed_in_features)
        if reaching != trace.flatten_dim:
            raise ArithmeticError(
                f"{self.id}: {reaching} features reach the Linear, the trace says {trace.flatten_dim}"
            )
        return self._answer(p, trace, fails)

    def reference(self, p: FixLinearParams) -> FixLinearAnswer:
        trace = _TRACE.reference(p)
        return self._answer(p, trace, p.listed_in_features != trace.flatten_dim)

    @staticmethod
    def _answer(p: FixLinearParams, trace: TraceAnswer, fails: bool) -> FixLinearAnswer:
        out = p.layers[p.first_linear].out_features
        return FixLinearAnswer(
            **trace.model_dump(exclude={"asked", "head"}),
            fixed_line=linear_line(trace.flatten_dim, out),
            listed_line=linear_line(p.listed_in_features, out),
            wrong_line=p.wrong_line,
            fails_as_listed=fails,
        )

    # -- presentation ------------------------------------------------------------------------

    def answer_latex(self, a: FixLinearAnswer) -> str:
        return (f"line {a.wrong_line}: replace {_code(a.listed_line)} by {_code(a.fixed_line)} "
                f"(in\\_features $= {a.flatten_dim}$)")

    def key_texts(self, a: FixLinearAnswer) -> list[str]:
        return [a.fixed_line, f"in_features = {a.flatten_dim}"]

    def choice_value(self, a: FixLinearAnswer) -> str:
        return a.fixed_line

    def choice_latex(self, value) -> str:
        return _code(value)

    def mistakes(self, p: FixLinearParams) -> dict[str, str]:
        out = p.layers[p.first_linear].out_features
        wrong = {"kept_listed_value": p.listed_in_features, **_TRACE.mistakes(p)}
        return {name: linear_line(v, out) for name, v in wrong.items() if v > 0}

    def fallback_mistakes(self, p: FixLinearParams, a: FixLinearAnswer) -> dict[str, str]:
        out = p.layers[p.first_linear].out_features
        return {name: linear_line(v, out) for name, v in _TRACE.fallback_mistakes(p, a).items()}

    def generic_mistakes(self, p: FixLinearParams, a: FixLinearAnswer):
        """The line with in_features off by 1, 2, 3, ... (the generic ones know no strings)."""
        out = p.layers[p.first_linear].out_features
        return ((f"in_features_{name}", linear_line(v, out)) for name, v in generic_fallbacks(a.flatten_dim))


def _code(line: str) -> str:
    return r"\texttt{" + escape(line) + "}"
