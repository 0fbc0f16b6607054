"""tokenizer.greedy difficulty ranges: vocabulary size and sentence length are honoured by
sampling, and bad ranges are rejected with messages naming the values."""

from __future__ import annotations

import pytest

from examforge.errors import InputError
from examforge.bank.tokenizer import GreedyRanges, TokenizerGreedy
from examforge.variant import draw

QT = TokenizerGreedy()


def test_defaults_are_the_previous_fixed_bounds():
    r = GreedyRanges()
    assert (r.min_vocab, r.max_vocab, r.min_words, r.max_words) == (8, 14, 6, 8)


@pytest.mark.parametrize(
    "ranges", [{"min_vocab": 12, "max_vocab": 12}, {"min_vocab": 16, "max_vocab": 24}, {"max_vocab": 12},
               {"min_words": 8, "max_words": 8}, {"min_words": 6, "max_words": 6, "max_vocab": 12}],
)
def test_sampling_honours_the_ranges(ranges):
    r = GreedyRanges(**ranges)
    for seed in range(40):
        p = draw(QT, seed, ranges=ranges).params
        assert r.min_vocab <= len(p.vocab) <= r.max_vocab
        assert r.min_words <= len(p.text.split()) <= r.max_words


@pytest.mark.parametrize(
    "ranges, message",
    [
        ({"min_vocab": 13, "max_vocab": 12}, "min_vocab 13 is larger than max_vocab 12"),
        ({"max_vocab": 9}, "greater than or equal to 12"),
        ({"min_words": 8, "max_words": 6}, "min_words 8 is larger than max_words 6"),
        ({"min_words": 9, "max_words": 12}, "no sentence template has 9 to 12 words; lengths are \\[6, 8\\]"),
    ],
)
def test_bad_ranges_are_rejected(ranges, message):
    with pytest.raises(InputError, match=message):
        draw(QT, 0, ranges=ranges)
