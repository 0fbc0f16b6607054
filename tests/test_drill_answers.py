"""The drill's answer checker: formats declared by the types (or derived from choice_value's
annotation), tolerances, every input format, and malformed input (an error with a message,
never a verdict)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from examforge.drill import answers
from examforge.drill.answers import AnswerFormat, AnswerSyntaxError, compare, fits, kind_of, parse

NUMBER = AnswerFormat("number", 0.01)
VECTOR = AnswerFormat("vector", 0.01)
SHAPE = AnswerFormat("shape", 0.01, rank=2)
MATRIX = AnswerFormat("matrix", 0.01)
CHOICE = AnswerFormat("choice", 0.0)


def verdict(response, expected, fmt=NUMBER, letters=("A", "B", "C", "D")):
    return compare(parse(response, fmt, letters=letters), expected, fmt).correct


# -- formats are declared; a value's structure only says whether it fits ----------------------------


@pytest.mark.parametrize("value, kind", [
    (3, "number"),
    (-0.2125, "number"),
    ((126, 42), "vector"),  # a shape is a vector its type declares as a shape
    ((9, 2, 14), "vector"),
    (((1, 2), (3, 4)), "matrix"),
    (frozenset({1, 3}), "set"),
    (True, "bool"),
    ("fewer parameters", None),
    (((1, 2), (3,)), None),  # ragged
    ({"a": 1}, None),
])
def test_kind_of_values(value, kind):
    assert kind_of(value) == kind


def test_numpy_values_are_plain():
    np = pytest.importorskip("numpy")
    assert kind_of(np.int64(3)) == "number"
    assert kind_of(np.array([[1, 2], [3, 4]])) == "matrix"


def test_values_fit_their_declared_format():
    assert fits((126, 42), SHAPE) and fits((9, 2, 14), VECTOR) and fits(3, NUMBER)
    assert not fits((9, 2, 14), MATRIX) and not fits(((1, 2), (3, 4)), VECTOR) and not fits((1, 2), NUMBER)
    labelled = AnswerFormat("vector", 0.01, labels=("a = ", ", b = ", ""))
    assert fits((1, 2), labelled) and not fits((1, 2, 3), labelled)
    assert fits(2.5, AnswerFormat("number", 0.01, labels=("", " bits")))


def test_formats_derive_from_choice_value_annotations():
    from typing import Annotated, NamedTuple

    from examforge.question import AnswerModel, QuestionType, derived_format

    class Pair(NamedTuple):
        a: float
        b: float

    def kind(annotation) -> str:
        class Answer(AnswerModel):
            value: int

        class T(QuestionType):
            id = "t.t"

        T.Answer = Answer
        T.choice_value = lambda self, answer: None
        T.choice_value.__annotations__ = {"return": annotation}
        return derived_format(T).kind

    assert kind(int) == kind(float) == kind(Fraction) == kind(Annotated[float, "p"]) == "number"
    assert kind(tuple[int, ...]) == kind(tuple[int, int, int]) == kind(Pair) == "vector"
    assert kind(tuple[tuple[float, ...], ...]) == kind(tuple[tuple[float, int], ...]) == "matrix"
    assert kind(frozenset[int]) == "set" and kind(bool) == "bool"
    assert kind(str) == kind(int | str) == kind(tuple[str, ...]) == "choice"  # picked, not typed


def test_a_declaration_is_checked():
    with pytest.raises(ValueError, match="not one of"):
        AnswerFormat("fraction")
    with pytest.raises(ValueError, match="labels"):
        AnswerFormat("matrix", labels=("a", "b"))
    with pytest.raises(ValueError, match="tolerance"):
        AnswerFormat("number", -1.0)


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


# -- labelled answers --------------------------------------------------------------------------------------


def test_labelled_vector_count_is_public():
    fmt = AnswerFormat("vector", 0.01, labels=("a = ", ", b = ", ""))
    assert compare(parse(["1", "2"], fmt), (1, 2), fmt).correct
    with pytest.raises(AnswerSyntaxError, match="expected 2 numbers"):
        parse("1, 2, 3", fmt)


# -- bounds: every answer is read in time linear in its length, and absurd sizes are refused -----------------

import time  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SET = AnswerFormat("set", 0.01)
BOOL = AnswerFormat("bool", 0)
MULTI = AnswerFormat("choice", 0.0, multiple=True)
LABELLED = AnswerFormat("vector", 0.01, labels=("a = ", ", b = ", ""))
PERCENT_VECTOR = AnswerFormat("vector", 0.01, percent=True)
EVERY_FORMAT = [NUMBER, VECTOR, SHAPE, MATRIX, CHOICE, SET, BOOL, MULTI, LABELLED, PERCENT, PERCENT_VECTOR]


@pytest.mark.parametrize("text, match", [
    ("1e20000000", "exponent 20000000 is out of range"),  # the issue's probe: 22 s on the event loop
    ("1e100000000", "exponent 100000000 is out of range"),  # minutes
    ("1e308000", "exponent 308000 is out of range"),  # was a 500: float() overflowed when comparing
    ("2.5e-401", "exponent -401 is out of range"),
    ("1e301", "too large"),
    ("-" + "9" * 60 + "e250", "too large"),
    ("1e-300/1e300", None),  # tiny: read, and compared as 0.0
    ("1e200/1e-200", "too large"),
    ("1" * (answers.MAX_NUMBER_CHARS + 1), "longer than 100 characters"),
    ("\u00b2", "digits as 0-9"),  # "²" passes str.isdigit
    ("\u0663", "digits as 0-9"),  # Arabic-Indic three
    ("\uff11\uff12", "digits as 0-9"),  # full-width 12
])
def test_absurd_numbers_are_refused_with_a_message(text, match):
    if match is None:
        assert not compare(parse(text, NUMBER), 0.5, NUMBER).correct
        return
    with pytest.raises(AnswerSyntaxError, match=match):
        parse(text, NUMBER)


def test_unicode_digits_in_a_list_are_entries_not_labels():
    with pytest.raises(AnswerSyntaxError, match="entry 1: .*digits as 0-9"):
        parse("\u00b2 x 2", SHAPE)
    assert compare(parse("a = 1, b = 2", LABELLED), (1, 2), LABELLED).correct  # words are still labels


def test_the_issues_shape_probes_are_refused_at_once():
    for text in ("1e20000000 x 2", "1e308000 x 2"):
        start = time.perf_counter()
        with pytest.raises(AnswerSyntaxError, match="entry 1: .*exponent .* is out of range"):
            parse(text, SHAPE)
        assert time.perf_counter() - start < 0.01


def test_huge_json_numbers_are_refused_without_printing_them():
    with pytest.raises(AnswerSyntaxError, match="too large"):
        parse(10**5000, NUMBER)  # str() of it would raise (Python's 4300-digit limit)
    with pytest.raises(AnswerSyntaxError, match="too large"):
        parse([10**5000, 1], SHAPE)
    with pytest.raises(AnswerSyntaxError, match="too large"):
        parse([10**5000], SET)
    with pytest.raises(AnswerSyntaxError, match="too large"):
        parse(1e308, NUMBER)


def test_sizes_are_bounded_before_reading():
    with pytest.raises(AnswerSyntaxError, match=f"at most {answers.MAX_ENTRIES}"):
        parse(", ".join(["1"] * (answers.MAX_ENTRIES + 1)), VECTOR)
    with pytest.raises(AnswerSyntaxError, match=f"at most {answers.MAX_ENTRIES}"):
        parse(["1"] * (answers.MAX_ENTRIES + 1), VECTOR)
    with pytest.raises(AnswerSyntaxError, match=f"at most {answers.MAX_ENTRIES}"):
        parse([["1"] * 15] * 15, MATRIX)
    with pytest.raises(AnswerSyntaxError, match=f"at most {answers.MAX_ENTRIES}"):
        parse("; ".join(["1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"] * 15), MATRIX)
    with pytest.raises(AnswerSyntaxError, match="longer than"):
        parse(["1" * 1000] * 3, VECTOR)  # the boxes together
    with pytest.raises(AnswerSyntaxError, match="nested too deeply"):
        parse([[[1, 2]], [[3, 4]]], MATRIX)
    assert compare(parse([["1"] * 14] * 14, MATRIX), ((1,) * 14,) * 14, MATRIX).correct  # 196 entries: fine


N = answers.MAX_ANSWER_CHARS
# Inputs built to make a backtracking pattern or a nested loop slow, each as long as allowed.
WORST_CASES = {
    "blanks": "1" + " " * (N - 2) + "x",
    "blanks before a slash": "1" + " \t" * (N // 2 - 2) + "/x",
    "blanks between rows": "1" + " " * (N - 3) + ";x",
    "a bracket, blanks, no bracket": "[" + "]" + " " * (N - 3) + "x",
    "nested brackets": "(" * (N // 2) + ")" * (N // 2),
    "nested brackets round a number": "[" * (N // 2 - 1) + "1" + "]" * (N // 2 - 1),
    "open brackets": "[" * N,
    "many pairs": "(" + "()" * (N // 2 - 1) + ")",
    "rows of brackets": "[" + "],[" * (N // 3 - 1) + "]",
    "units": "1 " + "ab " * (N // 3 - 1),
    "units without digits": "a " * (N // 2),
    "percent signs": "1" + "%" * (N - 1),
    "per cent": "1 per" * (N // 5),
    "exponents": "1e" * (N // 2),
    "dots": "." * N,
    "minus signs": "\u2212" * N,
    "line breaks": "1\n" * (N // 2),
    "and and": "and " * (N // 4),
    "letters": "AC" * (N // 2),
    "fractions": ",".join(["1e-400/7e-400"] * (N // 14)),
    "long numbers": ",".join(["9" * 99] * (N // 100)),
    "a grid of fractions": "; ".join([" ".join(["1/7"] * 14)] * 14),
}


@pytest.mark.parametrize("name", WORST_CASES)
def test_worst_case_answers_are_read_in_milliseconds(name):
    """Each is read (or refused) by every format in a few milliseconds of CPU (measured: at most
    about 3 ms on the 2-core development machine). The bound is CPU time, so other load does not
    count, with room for a slow machine; the old reader took seconds to minutes on such input."""
    text = WORST_CASES[name]
    assert len(text) <= N
    for fmt in EVERY_FORMAT:
        start = time.process_time()
        try:
            parse(text, fmt, letters=("A", "B", "C", "D"))
        except AnswerSyntaxError as err:
            assert str(err)
        elapsed = time.process_time() - start
        assert elapsed < 0.1, (name, fmt.kind, f"{elapsed * 1000:.1f} ms")


TRICKY = st.sampled_from(list("0123456789 ,;.-+eE/%()[]{}x×*\u2212\u00a0\n\t\\abBy?²٣") + ["by", "per cent", "1e999", "1e-9"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.lists(TRICKY, max_size=60).map("".join),
    st.text(max_size=40),
    st.lists(st.one_of(st.lists(TRICKY, max_size=8).map("".join), st.integers(), st.floats(), st.booleans(),
                       st.none(), st.lists(st.integers(), max_size=3)), max_size=6),
    st.integers(), st.floats(), st.booleans(), st.none(),
))
def test_any_input_is_read_or_refused_with_a_message(response):
    """Whatever arrives (typed text or JSON values), the result is a value or an
    AnswerSyntaxError with a message: never another exception."""
    for fmt in EVERY_FORMAT:
        try:
            value = parse(response, fmt, letters=("A", "B", "C", "D"))
        except AnswerSyntaxError as err:
            assert str(err)
            continue
        expected = {"number": 0.5, "vector": (1, 2), "shape": (1, 2), "matrix": ((1, 2),), "choice": {"A"},
                    "set": frozenset({1}), "bool": True}[fmt.kind]
        compare(value, expected, fmt)
        answers.show_as(value, fmt)
