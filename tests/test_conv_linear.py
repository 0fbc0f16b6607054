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
from examforge.solvers.conv import conv2d_as_matrix
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
