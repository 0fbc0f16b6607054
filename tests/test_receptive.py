"""conv.receptive_field and conv.stacked_vs_single: the seed's numbers (000 1.1), the
recurrence on hand-checked stacks, autograd against the closed form, named mistakes, ranges
and the validation messages."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.conv_receptive import ConvReceptiveField, ConvStackedVsSingle
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.receptive import conv_stack_params, receptive_fields
from examforge.seeding import variant_rngs
from examforge.variant import make_variant

RF = ConvReceptiveField()
ST = ConvStackedVsSingle()


def conv(k, s=1, d=1):
    return {"type": "conv", "kernel": k, "stride": s, "dilation": d}


def rf_params(*layers):
    return RF.Params.model_validate({"layers": list(layers)})


def test_two_stacked_3x3_see_5x5():
    a = RF.solve(rf_params(conv(3), conv(3)))
    assert a.receptive_field == 5 and a.rfs == (3, 5) and a.jumps == (1, 1)


def test_stride_multiplies_the_jump_for_later_layers():
    # r: 1 -> 3 (+2*1) -> 5 (+2*1, jump becomes 2) -> 9 (+2*2)
    p = rf_params(conv(3), conv(3, 2), conv(3))
    a = RF.solve(p)
    assert a.rfs == (3, 5, 9) and a.jumps == (1, 2, 2) and a.jumps_in == (1, 1, 2)
    assert a.increments == (2, 2, 4) and a.rfs_in == (1, 3, 5)
    assert RF.reference(p) == a


def test_dilation_and_pooling():
    # k=3, d=2 spans 5 inputs (with holes); 2x2 pooling stride 2 then a 3x3: 3 -> 4 -> 4 + 2*2 = 8
    assert RF.solve(rf_params(conv(3, 1, 2))).receptive_field == 5
    pool = {"type": "maxpool", "kernel": 2, "stride": 2}
    a = RF.solve(rf_params(conv(3), pool, conv(3)))
    assert a.rfs == (3, 4, 8) and a.effective_kernels == (3, 2, 3)


def test_autograd_span_matches_the_recurrence_on_odd_stacks():
    layers = [conv(5, 2, 1), conv(3, 1, 3), {"type": "avgpool", "kernel": 3, "stride": 2}, conv(2, 1, 2)]
    rfs, jumps = receptive_fields(layers)
    ref = RF.reference(rf_params(*layers))
    assert tuple(rfs) == ref.rfs and tuple(jumps) == ref.jumps


def test_named_mistakes():
    p = rf_params(conv(3), conv(3, 2), conv(3, 1, 2))
    right = RF.solve(p).receptive_field  # 1 + 2 + 2 + 2*2*2 = 13
    wrong = RF.mistakes(p)
    assert right == 13
    assert wrong["ignored_stride"] == 1 + 2 + 2 + 4  # jump stays 1
    assert wrong["ignored_dilation"] == 1 + 2 + 2 + 2 * 2
    assert wrong["added_kernel_sizes"] == 3 + 3 + 5
    assert wrong["current_stride_in_jump"] == 1 + 2 + 2 * 2 + 2 * 2 * 2
    assert "ignored_dilation" not in RF.mistakes(rf_params(conv(3), conv(3, 2), conv(3)))


def test_sampling_honours_ranges_and_avoids_plain_sums():
    ranges = RF.Ranges(min_layers=3, max_layers=3, max_kernel=3, max_dilation=1, max_receptive_field=30)
    for seed in range(200):
        p = RF.sample(variant_rngs(seed)[0], ranges)
        r = RF.reference(p).receptive_field
        assert len(p.layers) == 3 and all(layer.kernel <= 3 and layer.dilation == 1 for layer in p.layers)
        assert r <= 30 and r != 1 + sum(layer.kernel - 1 for layer in p.layers)


def test_solution_prints_the_recurrence_and_tf_verdict():
    v = make_variant(RF, rf_params(conv(3), conv(3, 2), conv(3)), form="tf", seed=4)
    text = normalize(latex_to_text(solution_latex(v)))
    assert normalize("r_3 = r_2 + (k_3 - 1)·d_3·j_2 = 5 + (3 - 1)·1·2 = 9") in text
    assert normalize("receptive field 9 ×9") in text
    assert "True or false" in question_text(v)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([{"type": "maxpool", "kernel": 2, "stride": 2, "dilation": 2}], "a maxpool layer has no dilation, got dilation 2"),
        ([conv(11, 4, 4)] * 4, "the receptive field would be"),
        ([], "at least 1 item"),
        ([conv(0)], "greater than or equal to 1"),
    ],
)
def test_invalid_rf_params(layers, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        rf_params(*layers)


def test_invalid_rf_ranges():
    with pytest.raises(ValidationError, match="min_layers 4 is larger than max_layers 2"):
        RF.Ranges(min_layers=4, max_layers=2)
    with pytest.raises(ValidationError, match="plain sum of kernel sizes"):
        RF.Ranges(max_stride=1, max_dilation=1)


def test_solver_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    RF.solve(rf_params(conv(3), conv(3, 2)))
    ST.solve(ST.Params.model_validate(ST.seed_example))
    assert torch.equal(state, torch.get_rng_state())


# -- conv.stacked_vs_single -------------------------------------------------------------------


def st_params(**kw):
    return ST.Params.model_validate({**ST.seed_example, **kw})


def test_seed_000_1_1_two_3x3_have_fewer_parameters_than_one_5x5():
    a = ST.solve(st_params())
    assert (a.stack_d2, a.single_d2) == (18, 25) and (a.stack_d1, a.single_d1) == (0, 0)
    assert (a.stack_rf, a.single_rf) == (5, 5)
    assert a.comparison == "fewer parameters and the same receptive field"
    assert a.stack_params is None


def test_concrete_channels_with_bias():
    p = st_params(channels=64, bias=True)
    a = ST.solve(p)
    assert a.per_layer_params == 3 * 3 * 64 * 64 + 64 == 36928
    assert a.stack_params == 2 * 36928 and a.single_params == 5 * 5 * 64 * 64 + 64
    assert conv_stack_params(64, [3, 3], bias=True) == a.stack_params
    assert ST.reference(p) == a


def test_biases_break_a_tie():
    # 4 x (3*3) = 36 = 6*6: equal without biases; the stack has 3 more bias vectors.
    assert ST.solve(st_params(n_layers=4, big_kernel=6, channels=16)).params_sign == 0
    with_bias = ST.solve(st_params(n_layers=4, big_kernel=6, channels=16, bias=True))
    assert with_bias.params_sign == 1 and with_bias.stack_params - with_bias.single_params == 3 * 16
    assert "forgot_bias" in ST.mistakes(st_params(n_layers=4, big_kernel=6, channels=16, bias=True))


def test_mistakes_and_options_are_comparisons():
    p = st_params(big_kernel=4)  # 18 vs 16 weights, 5x5 vs 4x4
    a = ST.solve(p)
    assert ST.choice_value(a) == (1, 1)
    assert ST.mistakes(p)["forgot_layer_count"] == (-1, 1)  # 9 vs 16
    assert ST.mistakes(p)["rf_of_one_layer"] == (1, -1)  # 3 vs 4
    v = make_variant(ST, p, form="mc", seed=0)
    assert len({c.latex for c in v.choices}) == 4
    assert all(" and " in c.latex for c in v.choices)


def test_sampling_covers_the_comparisons_and_honours_ranges():
    ranges = ST.Ranges()
    answers = [ST.reference(ST.sample(variant_rngs(seed)[0], ranges)) for seed in range(300)]
    assert {a.params_sign for a in answers} >= {-1, 1}
    assert {a.rf_sign for a in answers} >= {0, 1}
    narrow = ST.Ranges(min_layers=3, max_layers=3, max_small_kernel=3, max_big_kernel=7, min_channels=32, max_channels=64)
    for seed in range(100):
        p = ST.sample(variant_rngs(seed)[0], narrow)
        assert p.n_layers == 3 and p.small_kernel <= 3 and p.big_kernel <= 7
        assert p.channels is None or 32 <= p.channels <= 64


def test_solution_prints_seed_counts():
    text = normalize(latex_to_text(solution_latex(make_variant(ST, st_params(), seed=0))))
    assert normalize("2 ×(3 ·3 ·D ·D) = 18D^2") in text
    assert normalize("18D^2 < 25D^2") in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"big_kernel": 3}, "big_kernel 3 must be larger than small_kernel 3"),
        ({"bias": True}, "bias needs a number of channels"),
        ({"n_layers": 1}, "greater than or equal to 2"),
    ],
)
def test_invalid_stacked_params(change, message):
    with pytest.raises(ValidationError, match=message):
        st_params(**change)
