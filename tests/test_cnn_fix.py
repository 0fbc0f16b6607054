"""cnn.fix_linear: seed 002 Problem 1.3 (nn.Linear(120, 10) must be nn.Linear(144, 10)), the
listing, torch running the listed network on the meta device, mistakes and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.cnn_fix_linear import CnnFixLinear
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.cnn import run_listed
from examforge.variant import make_variant

QT = CnnFixLinear()


def params(**kw):
    return QT.Params.model_validate({**QT.seed_example, **kw})


def test_seed_002_problem_1_3():
    a = QT.solve(params())
    assert a.flatten_dim == 144 and a.fixed_line == "nn.Linear(144, 10)"
    assert a.listed_line == "nn.Linear(120, 10)" and a.fails_as_listed
    assert a.wrong_line == 11
    assert QT.reference(params()) == a


def test_listed_network_runs_once_fixed():
    p = params()
    layers = [layer.model_dump() for layer in p.layers]
    assert run_listed(p.input_shape, layers, first_linear_in=120) == (144, True)
    assert run_listed(p.input_shape, layers, first_linear_in=144) == (144, False)


def test_listing_matches_the_seed():
    lines = params().code_lines
    assert lines[0] == "model = nn.Sequential("
    assert lines[1] == "    nn.Conv2d(in_channels=1, out_channels=8, kernel_size=5,"
    assert lines[2] == "              stride=1, padding=0),"
    assert lines[3] == "    nn.AvgPool2d(kernel_size=4, stride=4, padding=0),"
    assert lines[10] == "    nn.Linear(120, 10)," and lines[-1] == ")"
    latex = params().listing
    assert latex[1].startswith("~~~~nn.Conv2d(in\\_channels=1")


def test_hidden_linear_layers_keep_their_inputs():
    layers = list(QT.seed_example["layers"][:-1]) + [
        {"type": "linear", "out_features": 84}, {"type": "relu"}, {"type": "linear", "out_features": 10}
    ]
    p = params(layers=layers)
    assert "    nn.Linear(84, 10)," in p.code_lines
    assert QT.solve(p).fixed_line == "nn.Linear(144, 84)"


def test_mistakes_start_with_the_listed_value():
    wrong = QT.mistakes(params())
    assert next(iter(wrong)) == "kept_listed_value" and wrong["kept_listed_value"] == "nn.Linear(120, 10)"
    assert wrong["forgot_padding"] == "nn.Linear(64, 10)"  # Conv-2 without padding: 4x4 -> 2x2 x 16


def test_sampled_listings_have_the_bug():
    for seed in range(60):
        p = QT.sample(variant_rngs(seed)[0], QT.Ranges())
        right = QT.reference(p).flatten_dim
        assert p.listed_in_features != right and p.listed_in_features > 0


def test_question_hides_the_answer():
    v = make_variant(QT, params(), form="mc", seed=0)
    q = question_text(v)
    assert "144" not in q and "nn.Linear(120, 10)" in q and "line 11" in q
    text = normalize(latex_to_text(solution_latex(v)))
    assert normalize("16 ×3 ×3 = 144 features") in text and normalize("nn.Linear(144, 10)") in text


def test_invalid_params():
    with pytest.raises(ValidationError, match="listed_in_features 144 is already the right in_features"):
        params(listed_in_features=144)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        params(listed_in_features=0)
