"""conv.im2col: a convolution as a linear layer. Dimensions, the im2col shapes (F.unfold), the
constrained fraction counted from torch's A, the seed key's (wrong) fraction as a named
mistake, ranges and validation messages."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from examforge.bank.conv_im2col import ConvIm2col
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.conv import conv2d_as_matrix, weight_in_matrix
from examforge.variant import make_variant

QT = ConvIm2col()


def params(**kw):
    return QT.Params.model_validate({**QT.seed_example, **kw})


def test_seed_example_6x6x3_to_4x4x2():
    a = QT.solve(params())
    assert a.out_hw == (4, 4) and (a.d_in, a.d_out) == (108, 32) and a.a_shape == (32, 108)
    assert a.im2col_shape == (27, 16) and a.kernel_matrix_shape == (2, 27)
    assert a.total_entries == 3456 and a.nonzero_entries == 32 * 27 and a.free_params == 54
    # 1 - k^2 / (h w h' w') = 1 - 9 / (36 * 16) = 63/64
    assert (a.fraction_num, a.fraction_den) == (63, 64)
    assert Fraction(a.sharing_num, a.sharing_den) == 1 - Fraction(1, 16)
    assert QT.reference(params()) == a


def test_stride_2():
    a = QT.solve(params(height=7, width=7, stride=2))
    assert a.out_hw == (3, 3) and a.a_shape == (18, 147)
    assert Fraction(a.fraction_num, a.fraction_den) == 1 - Fraction(9, 49 * 9)


def test_torch_matrix_counts():
    got = conv2d_as_matrix((2, 5, 4), 3, 2, 1)
    assert got["out_hw"] == (4, 3) and got["a_shape"] == (36, 40)
    assert got["nonzero_entries"] == 36 * 8 and got["free_params"] == 3 * 2 * 4
    assert got["im2col_shape"] == (8, 12) and got["kernel_matrix_shape"] == (3, 8)


def test_seed_key_fraction_is_a_named_mistake():
    wrong = QT.mistakes(params())
    assert wrong["seed_key_sharing_only"] == (15, 16)  # 004's 1 - 1/(h'w')
    assert wrong["zeros_only"] == (3, 4)  # 1 - 9/36
    assert wrong["output_size_as_input_size"] == (Fraction(247, 256).numerator, 256)
    v = make_variant(QT, params(), form="mc", seed=1)
    assert len({c.latex for c in v.choices}) == 4
    assert any(c.mistake == "seed_key_sharing_only" for c in v.choices)


def test_sampling_honours_ranges():
    ranges = QT.Ranges(min_side=5, max_side=7, max_kernel=3, max_stride=1, max_in_channels=2, max_out_channels=4)
    for seed in range(100):
        p = QT.sample(variant_rngs(seed)[0], ranges)
        assert 5 <= p.height <= 7 and 5 <= p.width <= 7 and p.kernel <= 3 and p.stride == 1
        assert p.in_channels <= 2 and p.out_channels <= 4


def test_question_and_solution():
    v = make_variant(QT, params(), seed=0)
    assert "63" not in question_text(v)
    text = normalize(latex_to_text(solution_latex(v)))
    assert normalize("d_in = h ·w ·c_i = 6 ·6 ·3 = 108") in text
    assert normalize("3456 - 54 = 3402") in text
    assert normalize("63/64") in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"height": 6, "stride": 2}, "input height 6: (6 - 3) is not a multiple of the stride 2"),
        ({"kernel": 7}, "kernel 7 is larger than the input height 6"),
        ({"height": 32, "width": 32, "in_channels": 3}, "the flattened input has 3072 entries; at most 1024"),
        ({"height": 32, "width": 32, "in_channels": 1, "out_channels": 64, "kernel": 1},
         "the weight matrix would have"),
    ],
)
def test_invalid_params(change, message):
    with pytest.raises(ValidationError) as err:
        params(**change)
    assert message in str(err.value)


def test_invalid_ranges():
    with pytest.raises(ValidationError, match="min_side 9 is larger than max_side 6"):
        QT.Ranges(min_side=9, max_side=6)
    with pytest.raises(ValidationError, match="max_kernel 5 leaves no room"):
        QT.Ranges(max_side=5)


# -- ask weight_position: seed 004 P1(a)iv (where do W's weights sit in A?) --------------------------


def test_seed_004_p1a_iv_each_row_holds_one_filter_at_its_patch():
    """The seed's structure: the row of A for output (o, i, j) holds W[o, :, :, :], flattened, in the
    columns of the patch that output sees; every weight appears once per output position."""
    p = params(ask="weight_position", weight=[1, 2, 0, 1], position=[1, 2])
    a = QT.solve(p)
    assert a == QT.reference(p)
    w = a.where
    # out[1, 1, 2] is y's entry 1*16 + 1*4 + 2 = 22; in[2, 1, 3] is x's entry 2*36 + 1*6 + 3 = 81
    assert (w.row, w.column, w.count) == (22, 81, 16) and (w.input_row, w.input_col) == (1, 3)
    for weight in ([0, 0, 0, 0], [1, 2, 2, 2], [0, 1, 2, 0]):
        for position in ([0, 0], [3, 3], [2, 1]):
            got = weight_in_matrix((3, 6, 6), 2, 3, 1, weight, position)
            q = params(ask="weight_position", weight=weight, position=position)
            assert (got["row"], got["column"]) == (QT.reference(q).where.row, QT.reference(q).where.column)
            assert got["count"] == 16
    wrong = QT.mistakes(p)
    assert wrong["forgot_channel_offset"] == ("at", 22, 9) and wrong["patch_index_as_column"] == ("at", 22, 19)
    text = latex_to_text(solution_latex(make_variant(QT, p, form="free", seed=0)))
    assert "row 22, column 81" in text and "16 entries of A hold W[1, 2, 0, 1]" in text


def test_weight_position_with_a_stride():
    p = params(height=7, width=7, kernel=3, stride=2, ask="weight_position", weight=[0, 0, 1, 2], position=[2, 1])
    a = QT.solve(p)
    # out is 3 x 3; row = 0*9 + 2*3 + 1 = 7; in[0, 2*2 + 1, 1*2 + 2] = in[0, 5, 4] is x's entry 5*7 + 4 = 39
    assert (a.where.row, a.where.column, a.where.count) == (7, 39, 9) and a == QT.reference(p)
    assert QT.mistakes(p)["forgot_stride"] == ("at", 7, 3 * 7 + 3)


def test_weight_position_picks_vary_and_validation_names_the_index():
    picked = {(draw_v.answer.where.weight, draw_v.answer.where.position)
              for draw_v in (make_variant(QT, params(ask="weight_position", height=h), seed=0) for h in (4, 5, 6, 7, 8))}
    assert len(picked) > 1
    with pytest.raises(ValidationError, match=r"weight index c = 3 must be below 3 \(W is 2 x 3 x 3 x 3"):
        params(ask="weight_position", weight=[0, 3, 0, 0])
    with pytest.raises(ValidationError, match=r"position j = 4 must be below 4 \(the output is 4 x 4"):
        params(ask="weight_position", position=[0, 4])
