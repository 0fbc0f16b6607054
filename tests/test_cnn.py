"""cnn.shape_trace: the SVHN network of seed 002 Problem 1, the meta-device solver, sampling and
the Params validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.cnn import CnnShapeTrace, ShapeTraceParams
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.cnn import conv_head
from examforge.variant import draw, make_variant

QT = CnnShapeTrace()
SVHN_FILE = Path(__file__).resolve().parents[1] / "examples" / "params" / "svhn.json"


def svhn() -> ShapeTraceParams:
    return ShapeTraceParams.model_validate(json.loads(SVHN_FILE.read_text()))


def net(*layers, input_shape=(1, 32, 32)) -> ShapeTraceParams:
    return ShapeTraceParams.model_validate({"input_shape": list(input_shape), "layers": list(layers)})


CONV = {"type": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 0}
FLAT = {"type": "flatten"}
LIN = {"type": "linear", "out_features": 10}


def test_svhn_from_seed_002():
    a = QT.solve(svhn())
    # 32-5+1 = 28; 28/4 = 7; 7+2-4+1 = 6; 6/2 = 3; 16*3*3 = 144.
    assert a.shapes == (
        (8, 28, 28), (8, 7, 7), (8, 7, 7), (16, 6, 6), (16, 3, 3), (16, 3, 3), (144,), (10,)
    )
    assert a.flatten_dim == 144
    assert a.params[0] == 8 * (5 * 5 * 1 + 1) == 208
    assert a.params[3] == 16 * (4 * 4 * 8 + 1) == 2064
    assert a.params == (208, 0, 0, 2064, 0, 0, 0, 1450)
    assert a.total_params == 3722
    assert a.names == ("Conv-1", "AvgPool-1", "ReLU-1", "Conv-2", "AvgPool-2", "ReLU-2", "Flatten", "Linear")
    assert QT.reference(svhn()) == a


def test_svhn_mistakes():
    wrong = QT.mistakes(svhn())
    assert wrong["forgot_padding"] == 16 * 2 * 2  # Conv-2 gives 4x4 without its padding
    assert wrong["forgot_last_pool"] == 16 * 6 * 6
    assert wrong["used_input_channels"] == 1 * 3 * 3
    assert wrong["forgot_pool"] == 16 * 27 * 27  # 32 -> 28 -> 28+2-4+1 = 27
    assert wrong["no_floor"] == 144  # every division is exact: collides, so it is skipped in MC
    v = make_variant(QT, svhn(), form="mc", seed=0)
    assert sorted(c.mistake or "" for c in v.choices) == ["", "forgot_last_pool", "forgot_padding", "used_input_channels"]


def test_no_floor_mistake_when_a_division_is_not_exact():
    p = net(
        {"type": "conv", "out_channels": 6, "kernel": 3, "stride": 2, "padding": 1},
        {"type": "maxpool", "kernel": 2},
        FLAT, LIN,
        input_shape=(3, 29, 29),
    )
    a = QT.solve(p)
    # floor((29+2-3)/2)+1 = 15; floor((15-2)/2)+1 = 7 (13/2 floors); ceil gives 8.
    assert a.shapes[:2] == ((6, 15, 15), (6, 7, 7))
    assert a.floors[1] == (6, 6) and a.spans[1] == (13, 13)
    assert a.flatten_dim == 294
    assert QT.mistakes(p)["no_floor"] == 6 * 8 * 8
    assert a.params == (6 * (3 * 3 * 3 + 1), 0, 0, 10 * 295)


def test_pool_stride_defaults_to_its_window_like_pytorch():
    p = net(CONV, {"type": "avgpool", "kernel": 3}, FLAT, LIN)
    assert p.layers[1].stride == 3
    assert QT.solve(p).shapes[1] == (4, 10, 10)


def test_solver_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    QT.solve(svhn())
    assert torch.equal(state, torch.get_rng_state())


def test_sampled_networks_are_svhn_like():
    for seed in range(300):
        v = draw(QT, seed)
        p, a = v.params, v.answer
        assert p.input_shape[0] in (1, 3) and 28 <= p.input_shape[1] <= 64
        kinds = [layer.type for layer in p.layers]
        assert kinds.count("conv") == 2 and kinds.count("flatten") == 1
        assert kinds.count("maxpool") + kinds.count("avgpool") == 2
        flat = kinds.index("flatten")
        assert 2 <= a.in_shapes[flat][1] <= 7
        inexact = sum(s[0] % layer.stride != 0 for layer, s in zip(p.layers, a.spans) if s is not None)
        assert inexact <= 1
        assert a.flatten_dim == a.in_shapes[flat][0] * a.in_shapes[flat][1] * a.in_shapes[flat][2]


def test_question_has_a_table_and_hides_the_answer():
    v = make_variant(QT, svhn(), seed=0)
    q = question_text(v)
    assert r"\begin{tabular}" in q and "8 filters of size $5 \\times 5$, stride 1, padding 0" in q
    assert "144" not in q and "208" not in q and "Solution" not in q
    mc = question_text(make_variant(QT, svhn(), form="mc", seed=0))
    assert r"What must \texttt{in\_features}" in mc


def test_solution_prints_the_seed_formulas():
    text = normalize(latex_to_text(solution_latex(make_variant(QT, svhn(), seed=0))))
    assert normalize("8 ×(5 ·5 ·1 + 1) = 208") in text
    assert normalize("16 ×(4 ·4 ·8 + 1) = 2064") in text
    assert normalize("16 ×3 ×3 = 144") in text
    assert normalize("in_features = 144") in text


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([CONV, LIN, FLAT], "layers[1] (linear): a linear layer must come after the flatten layer"),
        ([CONV, FLAT, FLAT, LIN], "layers[2] (flatten): only one flatten is allowed; layers[1] already flattens"),
        ([CONV, FLAT, CONV, LIN], "layers[2] (conv): conv and pooling layers need a CxHxW input"),
        ([CONV, FLAT, {"type": "maxpool", "kernel": 2}, LIN], "layers[2] (maxpool)"),
        ([CONV, FLAT], "the network needs a flatten followed by at least one linear layer"),
        (
            [{"type": "conv", "out_channels": 4, "kernel": 11, "stride": 1, "padding": 0},
             {"type": "maxpool", "kernel": 8}, {"type": "maxpool", "kernel": 8}, FLAT, LIN],
            "layers[2] (maxpool): kernel 8 with padding 0 does not fit its 2x2 input",
        ),
        ([{"type": "dropout"}, FLAT, LIN], "does not match any of the expected tags"),
        ([{**CONV, "kernal": 3}, FLAT, LIN], "Extra inputs are not permitted"),
        ([{"type": "linear"}, FLAT], "Field required"),
    ],
)
def test_invalid_networks_are_rejected_with_a_clear_message(layers, message):
    with pytest.raises(ValidationError) as err:
        net(*layers)
    assert message in str(err.value)


def test_spatial_message_names_the_sizes():
    with pytest.raises(ValidationError) as err:
        net({"type": "conv", "out_channels": 4, "kernel": 7, "stride": 1, "padding": 1}, FLAT, LIN,
            input_shape=(1, 4, 4))
    assert "layers[0] (conv): kernel 7 with padding 1 does not fit its 4x4 input" in str(err.value)
    assert "output would be 0x0" in str(err.value)


def test_example_file_round_trips():
    p = svhn()
    assert ShapeTraceParams.model_validate_json(p.model_dump_json()) == p


# -- ask conv_head: seed 002 Problem 1.4 (replace Flatten and Linear with a convolution) -------------


def test_seed_002_problem_1_4_a_3x3_convolution_with_10_filters():
    """The seed's solution v1: AvgPool-2 gives 3 x 3 x 16, so 10 filters of size 3 x 3 give 1 x 1 x 10;
    they have the Linear's 10 * (144 + 1) = 1450 parameters."""
    p = svhn().model_copy(update={"ask": "conv_head"})
    p = ShapeTraceParams.model_validate(p.model_dump())
    a = QT.solve(p)
    assert a == QT.reference(p)
    assert (a.head.in_shape, a.head.filters, a.head.kernel, a.head.out_shape) == ((16, 3, 3), 10, (3, 3), (10, 1, 1))
    assert a.head.params == a.head.linear_params == 1450
    wrong = QT.mistakes(p)
    # a 1 x 1 convolution alone keeps the 3 x 3 map (the seed's v2 needs a 3 x 3 pooling after it)
    assert wrong["one_by_one_kernel"] == (10, 1, 1) and wrong["kernel_before_last_pool"] == (10, 6, 6)
    v = make_variant(QT, p, form="mc", seed=0)
    right = next(c for c in v.choices if c.mistake is None)
    assert latex_to_text(right.latex) == "10 filters of size 3 ×3, stride 1, no padding"
    assert "Which convolution does that?" in latex_to_text(question_text(v))
    text = latex_to_text(solution_latex(make_variant(QT, p, form="free", seed=0)))
    assert "(a) Flatten receives 16 ×3 ×3" in text and "10 ×(144 + 1) = 1450" in text
    assert "in_features =" not in text  # the trace stops at Flatten: in_features was not asked


def test_conv_head_reproduces_the_linear_layer_and_leaves_the_global_rng_alone():
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    got = conv_head((3, 2, 5), 4)
    assert torch.equal(torch.rand(3), before)
    assert got == {"out_shape": (4, 1, 1), "kernel": (2, 5), "filters": 4, "params": 4 * 31, "linear_params": 4 * 31}


def test_conv_head_with_a_hidden_linear_replaces_the_first_one():
    p = net(CONV, {"type": "maxpool", "kernel": 2}, FLAT, {"type": "linear", "out_features": 64}, {"type": "relu"},
            LIN, input_shape=(3, 10, 12))
    p = ShapeTraceParams.model_validate({**p.model_dump(), "ask": "conv_head"})
    a = QT.solve(p)
    assert a.head.in_shape == (4, 4, 5) and a.head.kernel == (4, 5) and a.head.filters == 64
    assert a.head.linear == "Linear-1" and a.head.params == 64 * 81
    assert QT.mistakes(p)["classes_not_hidden_width"] == (10, 4, 5)
