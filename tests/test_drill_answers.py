"""The drill's answer checker: formats derived from choice_value, tolerances, every input
format, and malformed input (an error with a message, never a verdict)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from examforge.drill import answers
from examforge.drill.answers import AnswerFormat, AnswerSyntaxError, compare, kind_of, parse

NUMBER = AnswerFormat("number", 0.01)
VECTOR = AnswerFormat("vector", 0.01)
SHAPE = AnswerFormat("shape", 0.01, rank=2)
MATRIX = AnswerFormat("matrix", 0.01)
CHOICE = AnswerFormat("choice", 0.0)


def verdict(response, expected, fmt=NUMBER, letters=("A", "B", "C", "D")):
    return compare(parse(response, fmt, letters=letters), expected, fmt).correct


# -- kinds come from the value, in one place ---------------------------------------------------------


@pytest.mark.parametrize("value, latex, kind", [
    (3, "$3$", "number"),
    (-0.2125, "$-0.2125$", "number"),
    ((126, 42), r"$126 \times 42$", "shape"),
    ((9, 2, 14), "$[9, 2, 14]$", "vector"),
    (((1, 2), (3, 4)), r"$\begin{bmatrix}1&2\\3&4\end{bmatrix}$", "matrix"),
    (frozenset({1, 3}), "", "set"),
    (True, "True", "bool"),
    ("fewer parameters", "fewer parameters", None),
    (((1, 2), (3,)), "", None),  # ragged
    ({"a": 1}, "", None),
])
def test_kind_of_choice_values(value, latex, kind):
    assert kind_of(value, latex) == kind


def test_numpy_values_are_plain():
    np = pytest.importorskip("numpy")
    assert kind_of(np.int64(3)) == "number"
    assert kind_of(np.array([[1, 2], [3, 4]])) == "matrix"


# -- numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-3", -3), ("+3", 3), (" 0.25 ", 0.25), (".5", 0.5), ("2.5e-3", 0.0025), ("1E2", 100),
    ("1/3", Fraction(1, 3)), ("-1/3", Fraction(-1, 3)), ("1 / 4", 0.25), ("3/-4", -0.75), ("0.5/2", 0.25),
    ("\u22120.75", -0.75), ("(-3)", -3), ("2 bits", 2), ("512 features", 512),
])
def test_number_formats(text, value):
    assert answers.parse_number(text) == (Fraction(str(value)) if isinstance(value, float) else Fraction(value))


@pytest.mark.parametrize("text", ["", "abc", "1/0", "3..4", "1,5", "nan", "inf", "2^3", "--3", "1/", "0x10", "1_000"])
def test_malformed_numbers_are_errors_not_verdicts(text):
    with pytest.raises(AnswerSyntaxError) as err:
        parse(text, NUMBER)
    assert str(err.value)  # a message for the student


# -- a trailing %: hundredths for a fraction of one, refused anywhere else ----------------------------------

PERCENT = AnswerFormat("number", 0.002, percent=True)


@pytest.mark.parametrize("text, value", [
    ("16.52%", Fraction(1652, 10000)), ("50%", Fraction(1, 2)), ("50 %", Fraction(1, 2)), ("4.7 percent", Fraction(47, 1000)),
    ("0.5", Fraction(1, 2)), ("1/2", Fraction(1, 2)),
])
def test_percent_is_hundredths_when_the_answer_is_a_fraction_of_one(text, value):
    assert parse(text, PERCENT) == value


def test_percent_grades_a_probability():
    assert compare(parse("16.52%", PERCENT), 0.1652, PERCENT).correct
    assert compare(parse("50%", PERCENT), 0.5, PERCENT).correct
    assert not compare(parse("50", PERCENT), 0.5, PERCENT).correct  # 50 is not 50%


@pytest.mark.parametrize("text", ["50%", "50 %", "50 percent", "50 per cent", "1/2%"])
def test_percent_is_refused_where_the_answer_is_not_a_fraction(text):
    # The bug: "50%" was read as 0.5 and graded against an expected 50 (a count, a size).
    with pytest.raises(AnswerSyntaxError, match="percentage.*without %"):
        parse(text, NUMBER)
    assert verdict("50", 50)  # the number itself is read as usual


def test_percent_in_vectors_and_matrices_follows_the_format():
    weights = AnswerFormat("vector", 0.01, percent=True)
    assert compare(parse("25%, 75%", weights), (0.25, 0.75), weights).correct
    assert compare(parse(["25%", "0.75"], weights), (0.25, 0.75), weights).correct
    with pytest.raises(AnswerSyntaxError, match="entry 1"):
        parse("25%, 75%", VECTOR)
    grid = AnswerFormat("matrix", 0.01, percent=True)
    assert compare(parse("50% 50%; 10% 90%", grid), ((0.5, 0.5), (0.1, 0.9)), grid).correct
    with pytest.raises(AnswerSyntaxError, match="row 1"):
        parse([["50%", "1"], ["2", "3"]], MATRIX)


def test_percent_is_public_in_the_format_and_its_hint():
    assert PERCENT.public()["percent"] is True and "25%" in PERCENT.hint
    assert "percent" not in NUMBER.public() and "%" not in NUMBER.hint


def test_float_answers_use_the_grading_tolerance():
    assert verdict("0.4286", 3 / 7)
    assert verdict("3/7", 3 / 7)
    assert verdict("0.43", 3 / 7)  # within 0.01
    assert not verdict("0.44", 3 / 7)
    loose = AnswerFormat("number", 0.05)
    assert compare(parse("0.47", loose), 3 / 7, loose).correct
    tight = AnswerFormat("number", 0.0005)
    assert not compare(parse("0.43", tight), 3 / 7, tight).correct


def test_integer_answers_must_be_exact():
    assert verdict("512", 512)
    assert verdict("512.0", 512)
    assert verdict("1024/2", 512)
    assert not verdict("512.004", 512)  # within 0.01, but an integer answer is exact
    assert not verdict("513", 512)


def test_wrong_number_message_names_the_tolerance_for_decimals():
    v = compare(parse("1", NUMBER), 0.5, NUMBER)
    assert not v.correct and "0.01" in v.message


# -- vectors, shapes, matrices, sets -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["9, 2, 14", "9 2 14", "[9, 2, 14]", "(9,2,14)", "9; 2; 14", " [ 9 ,2 , 14 ] "])
def test_vector_separators(text):
    assert verdict(text, (9, 2, 14), VECTOR)


def test_vector_order_and_length_matter():
    assert not verdict("2, 9, 14", (9, 2, 14), VECTOR)
    v = compare(parse("9, 2", VECTOR), (9, 2, 14), VECTOR)
    assert not v.correct and "2 values" in v.message and "3 values" in v.message


def test_vector_entries_with_fractions_and_labels():
    assert verdict("mu = 23.5, var = 1/2", (23.5, 0.5), VECTOR)
    assert verdict("w \u2190 (2.5, 1.45, 0.4)", (2.5, 1.45, 0.4), VECTOR)


@pytest.mark.parametrize("text", ["126 x 42", "126x42", "126 × 42", "(126, 42)", "126, 42", "126 by 42", "126*42", "[126 42]"])
def test_shape_formats(text):
    assert verdict(text, (126, 42), SHAPE)


def test_shape_rank_is_public_so_a_wrong_rank_is_a_typo():
    with pytest.raises(AnswerSyntaxError, match="expected 2 dimensions"):
        parse("16 x 126 x 42", SHAPE)
    assert not verdict("42 x 126", (126, 42), SHAPE)


def test_shape_list_from_the_browser():
    assert verdict(["126", "42"], (126, 42), SHAPE)
    assert verdict([126, 42], (126, 42), SHAPE)


@pytest.mark.parametrize("text", [
    "1 2; 3 4", "1, 2; 3, 4", "1 2\n3 4", "[[1, 2], [3, 4]]", "[1 2; 3 4]", "((1,2),(3,4))", "1 2 \\\\ 3 4",
])
def test_matrix_formats(text):
    assert verdict(text, ((1, 2), (3, 4)), MATRIX)


def test_matrix_grid_from_the_browser_and_fractions():
    assert verdict([["1/2", "0"], ["0", "-0.5"]], ((0.5, 0), (0, -0.5)), MATRIX)


def test_matrix_size_mismatch_is_wrong_with_both_sizes():
    v = compare(parse("1 2 3; 4 5 6", MATRIX), ((1, 2), (4, 5)), MATRIX)
    assert not v.correct and "2×3" in v.message and "2×2" in v.message


def test_matrix_wrong_entries_are_named():
    v = compare(parse("1 2; 3 5", MATRIX), ((1, 2), (3, 4)), MATRIX)
    assert not v.correct and "(2,2)" in v.message


@pytest.mark.parametrize("text, match", [
    ("1 2; 3", "different lengths"), ("1 a; 3 4", "row 1"), ("", "empty"), ([[1, 2], 3], "list of rows"),
])
def test_malformed_matrices(text, match):
    with pytest.raises(AnswerSyntaxError, match=match):
        parse(text, MATRIX)


def test_sets_ignore_order():
    fmt = AnswerFormat("set", 0.01)
    assert verdict("{3, 1}", frozenset({1, 3}), fmt)
    assert verdict("1, 3", frozenset({1, 3}), fmt)
    assert not verdict("1, 2", frozenset({1, 3}), fmt)
    assert verdict("Conv, FC", frozenset({"conv", "fc"}), fmt)


def test_bool_answers():
    fmt = AnswerFormat("bool", 0)
    assert verdict("true", True, fmt) and verdict("No", False, fmt) and not verdict("yes", False, fmt)
    with pytest.raises(AnswerSyntaxError):
        parse("maybe", fmt)


# -- choices -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["B", "b", "(b)", "B.", " b) ", ["B"]])
def test_choice_letter_formats(text):
    assert verdict(text, frozenset({"B"}), CHOICE)


def test_sets_of_choices():
    multi = AnswerFormat("choice", 0.0, multiple=True)
    for text in ("A, C", "C A", "AC", "a and c", ["A", "C"]):
        assert verdict(text, frozenset({"A", "C"}), multi)
    assert not verdict("A", frozenset({"A", "C"}), multi)
    assert not verdict("A, B, C", frozenset({"A", "C"}), multi)


def test_true_false_choices():
    for text in ("T", "true", "True", "yes"):
        assert verdict(text, frozenset({"T"}), CHOICE, letters=("T", "F"))
    assert not verdict("F", frozenset({"T"}), CHOICE, letters=("T", "F"))


@pytest.mark.parametrize("text", ["E", "1", "A1", "?", "", [1]])
def test_malformed_choices(text):
    with pytest.raises(AnswerSyntaxError):
        parse(text, CHOICE, letters=("A", "B", "C", "D"))


def test_overlong_answers_are_refused():
    with pytest.raises(AnswerSyntaxError, match="longer than"):
        parse("1" * (answers.MAX_ANSWER_CHARS + 1), NUMBER)


# -- option text: what the options print decides whether an answer can be typed ------------------------------


def test_shows_value_and_labels():
    assert answers.shows_value("3/7 ≈ 0.4286", 3 / 7, 0.01)
    assert not answers.shows_value("fewer parameters and the same receptive field", (18, 36, 5, 6), 0.01)
    assert answers.labels_of("μ̂ = 23.5, σ̂² = 2", (23.5, 2), 0.01) == ("μ̂ = ", ", σ̂² = ", "")
    assert answers.labels_of("2 bits", 2, 0.01) == ("", " bits")
    assert answers.labels_of("[9, 2, 14]", (9, 2, 14), 0.01) is None  # no words: it would only leak the length
    assert answers.labels_of("C₁ = 5", 5, 0.01) == ("C₁ = ", "")  # subscripts are not numbers


def test_labelled_vector_count_is_public():
    fmt = AnswerFormat("vector", 0.01, labels=("a = ", ", b = ", ""))
    assert compare(parse(["1", "2"], fmt), (1, 2), fmt).correct
    with pytest.raises(AnswerSyntaxError, match="expected 2 numbers"):
        parse("1, 2, 3", fmt)
