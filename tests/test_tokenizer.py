"""tokenizer.greedy: both vocabularies of seed 001 Q5, the step records, the independent
regex reference, sampling, the named mistakes and the Params validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from examforge.errors import InputError
from examforge.bank.tokenizer import GreedyParams, TokenizerGreedy
from examforge.renderers.blocks import question_text, solution_latex
from examforge.solvers.tokenize import greedy_right_to_left, greedy_steps
from examforge.variant import draw, make_variant, validate_params

QT = TokenizerGreedy()
ROOT = Path(__file__).resolve().parents[1]
TEXT = "The dog that chased the dog was tired."
VOCAB_1 = {" ": 1, "The ": 2, "dog ": 3, "dog": 4, "that": 5, "chased": 6, "the": 7,
           "dog.": 8, "was": 9, "tired": 10, ".": 11}
# Only index 4 changes, from "dog" to " dog".
VOCAB_2 = {" ": 1, "The ": 2, "dog ": 3, " dog": 4, "that": 5, "chased": 6, "the": 7,
           "dog.": 8, "was": 9, "tired": 10, ".": 11}


def test_seed_001_q5_first_vocabulary():
    a = QT.solve(GreedyParams(text=TEXT, vocab=VOCAB_1))
    assert list(a.ids) == [2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11]
    assert [(s.token, s.id, s.remaining) for s in a.steps[:4]] == [
        ("The ", 2, "dog that chased the dog was tired."),
        ("dog ", 3, "that chased the dog was tired."),
        ("that", 5, " chased the dog was tired."),
        (" ", 1, "chased the dog was tired."),
    ]
    assert a.steps[1].also_matched == ("dog",)  # "dog " beats "dog"
    assert [(s.token, s.remaining) for s in a.steps[-2:]] == [("tired", "."), (".", "")]
    assert QT.reference(GreedyParams(text=TEXT, vocab=VOCAB_1)) == a


def test_seed_001_q5_second_vocabulary():
    """After "the", " dog" (id 4) is the longest match; it does not include the following
    space, so a " " (id 1) comes before "was". The seed's key, [2, 3, 5, 1, 6, 1, 7, 4, 9, 1,
    10, 11], matches " dog " (with both spaces) in one step and so misses that 1."""
    a = QT.solve(GreedyParams(text=TEXT, vocab=VOCAB_2))
    assert list(a.ids) == [2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11]
    assert list(a.ids) != [2, 3, 5, 1, 6, 1, 7, 4, 9, 1, 10, 11]
    step = a.steps[7]
    assert (step.token, step.id, step.remaining, step.also_matched) == (" dog", 4, " was tired.", (" ",))
    assert (a.steps[8].token, a.steps[8].id, a.steps[8].remaining) == (" ", 1, "was tired.")
    assert QT.reference(GreedyParams(text=TEXT, vocab=VOCAB_2)) == a


def test_seed_params_file_matches():
    data = json.loads((ROOT / "examples/params/tokenizer_seed001.json").read_text())
    first, second = (validate_params(QT, d, where="example") for d in data)
    assert list(QT.solve(first).ids) == [2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11]
    assert list(QT.solve(second).ids) == [2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11]


def test_seed_hello_example():
    assert [s.id for s in greedy_steps("hello", {"he": 1, "hello": 2, "llo": 3})] == [2]


def test_shortest_and_right_to_left_variants():
    assert [s.id for s in greedy_steps(TEXT, VOCAB_1, shortest=True)] == [
        2, 4, 1, 5, 1, 6, 1, 7, 1, 4, 1, 9, 1, 10, 11]
    assert [s.id for s in greedy_right_to_left(TEXT, VOCAB_2)] == [2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11]
    # greedy is not optimal: "ab" + "c" would work, but the longest match "abc" gets stuck
    with pytest.raises(ValueError, match=r"stuck at position 3.*'d'.*after matching 'abc'"):
        greedy_steps("abcd", {"ab": 1, "abc": 2, "cd": 3})


def test_named_mistakes_for_the_seed():
    m = QT.mistakes(GreedyParams(text=TEXT, vocab=VOCAB_1))
    assert m["shortest_match"] == (2, 4, 1, 5, 1, 6, 1, 7, 1, 4, 1, 9, 1, 10, 11)
    assert m["dropped_spaces"] == (2, 3, 5, 6, 7, 3, 9, 10, 11)
    assert m["word_split"] == (2, 4, 5, 6, 7, 4, 9, 10, 11)  # "tired." falls back to 10, 11
    assert m["right_to_left"] == (2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11)  # = the answer here
    v = make_variant(QT, GreedyParams(text=TEXT, vocab=VOCAB_1), form="mc", seed=0)
    assert len({c.latex for c in v.choices}) == 4
    assert "right_to_left" not in {c.mistake for c in v.choices}


def test_fallback_mistakes_are_distinct_and_named():
    a = QT.solve(GreedyParams(text=TEXT, vocab=VOCAB_1))
    fb = QT.fallback_mistakes(GreedyParams(text=TEXT, vocab=VOCAB_1), a)
    assert fb["swapped_first_pair"][:2] == (3, 2)
    assert fb["swapped_last_pair"][-2:] == (11, 10)
    assert len(set(fb.values())) == len(fb) and tuple(a.ids) not in fb.values()


def test_sampling_is_like_the_seed():
    twists = 0
    for seed in range(300):
        p = draw(QT, seed).params
        assert 8 <= len(p.vocab) <= 14
        ids = list(p.vocab.values())
        assert len(set(ids)) == len(ids) and min(ids) >= 1
        assert p.text.endswith(".") and p.text[0].isupper()
        words = p.text.rstrip(".").lower().split(" ")
        assert len(words) > len(set(words))  # a repeated word ("the", usually the noun)
        assert " " in p.vocab and "." in p.vocab
        greedy_steps(p.text, p.vocab)  # never raises
        twists += any(t.startswith(" ") and t.strip() for t in p.vocab)
    assert twists > 60  # leading-space tokens like the seed's " dog" are common


def test_rendered_question_and_solution():
    v = make_variant(QT, GreedyParams(text=TEXT, vocab=VOCAB_2), form="free")
    q = question_text(v)
    assert "Solution" not in q
    assert r"\texttt{\textvisiblespace{}dog} & 4" in q
    assert r"\texttt{The\textvisiblespace{}dog" in q
    s = solution_latex(v)
    vs = r"\textvisiblespace{}"
    row = rf"8&\texttt{{{vs}dog}}&4&\texttt{{{vs}was{vs}tired.}}&\texttt{{{vs}}}\\"
    assert row in "".join(s.split())  # step 8: " dog" -> 4, remaining " was tired.", beat " "
    assert "(empty)" in s and "[2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11]" in s


def test_latex_special_characters_are_escaped():
    p = GreedyParams(text="50% & $5_{x}", vocab={"50%": 1, " ": 2, "&": 3, "$5": 4, "_": 5, "{x}": 6})
    s = solution_latex(make_variant(QT, p, form="free"))
    assert r"\texttt{50\%}" in s and r"\texttt{\&}" in s and r"\texttt{\$5}" in s


@pytest.mark.parametrize(
    "data, message",
    [
        ({"text": "The cat", "vocab": VOCAB_1},
         "stuck at position 4: no vocabulary token is a prefix of the remaining text 'cat'"),
        ({"text": TEXT, "vocab": {**VOCAB_1, "dog": 3}}, "tokens 'dog ' and 'dog' share id 3"),
        ({"text": TEXT, "vocab": {**VOCAB_1, "": 12}}, "String should have at least 1 character"),
        ({"text": TEXT, "vocab": {**VOCAB_1, "dog": 0}}, "Input should be greater than or equal to 1"),
        ({"text": "", "vocab": VOCAB_1}, "String should have at least 1 character"),
        ({"text": "The dog\n", "vocab": VOCAB_1}, "text 'The dog\\\\n' contains a non-printable character"),
        ({"text": TEXT, "vocab": {}}, "the vocabulary must have 1 to 64 tokens, got 0"),
        ({"text": TEXT, "vocab": VOCAB_1, "lang": "en"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_params_messages(data, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        GreedyParams.model_validate(data)


def test_invalid_params_through_validate_params_name_the_field():
    with pytest.raises(InputError) as err:
        validate_params(QT, {"text": "The dog, tired.", "vocab": VOCAB_1}, where="tok.json")
    msg = str(err.value)
    assert msg.startswith("tok.json: field 'params'")
    assert "stuck at position 7" in msg and "', tired.'" in msg
