"""Greedy longest-match (maximal munch) subword tokenization over a fixed vocabulary.

At each position the longest vocabulary entry that is a prefix of the remaining text is
emitted; among equally long matches the smaller id wins (with a token -> id dict two equal
length matches at one position are the same string, so the rule only matters for other
vocabularies, e.g. lists with duplicate tokens). No torch here: there is nothing to learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


class TokenizeError(ValueError):
    """The text cannot be consumed: no vocabulary entry matches at `position`."""

    def __init__(self, text: str, position: int, done: Iterable[str] = ()):
        self.text, self.position = text, position
        remaining = text[position:]
        so_far = "".join(done)
        super().__init__(
            f"greedy tokenization gets stuck at position {position}: no vocabulary token is a "
            f"prefix of the remaining text {remaining!r}"
            + (f" (after matching {so_far!r})" if so_far else "")
        )


@dataclass(frozen=True)
class Step:
    token: str
    id: int
    remaining: str  # the text still to tokenize after this token
    also_matched: tuple[str, ...] = ()  # the other tokens that matched here, longest first


def greedy_steps(text: str, vocab: Mapping[str, int], *, shortest: bool = False) -> list[Step]:
    """Scan left to right; at each position emit the longest matching token (ties: smaller id).

    `shortest=True` picks the shortest match instead (a deliberately wrong variant used for
    multiple-choice distractors). Raises TokenizeError when no token matches somewhere.
    """
    entries = [(tok, int(i)) for tok, i in vocab.items() if tok]
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        best: tuple[str, int] | None = None
        matched: list[tuple[str, int]] = []
        for tok, i in entries:
            if not text.startswith(tok, pos):
                continue
            matched.append((tok, i))
            if best is None:
                best = (tok, i)
                continue
            longer = len(tok) < len(best[0]) if shortest else len(tok) > len(best[0])
            if longer or (len(tok) == len(best[0]) and i < best[1]):
                best = (tok, i)
        if best is None:
            raise TokenizeError(text, pos, (s.token for s in steps))
        pos += len(best[0])
        others = sorted((m for m in matched if m != best), key=lambda m: (-len(m[0]), m[1]))
        steps.append(Step(best[0], best[1], text[pos:], tuple(tok for tok, _ in others)))
    return steps


def greedy_right_to_left(text: str, vocab: Mapping[str, int]) -> list[Step]:
    """Longest match scanning from the end of the text (longest suffix first); the steps are
    returned in text order. A wrong variant of the algorithm, for distractors."""
    entries = sorted(((tok, int(i)) for tok, i in vocab.items() if tok), key=lambda e: (-len(e[0]), e[1]))
    out: list[tuple[str, int]] = []
    end = len(text)
    while end > 0:
        for tok, i in entries:
            if text.endswith(tok, 0, end):
                out.append((tok, i))
                end -= len(tok)
                break
        else:
            raise ValueError(f"right-to-left tokenization gets stuck: no token is a suffix of {text[:end]!r}")
    out.reverse()
    steps, pos = [], 0
    for tok, i in out:
        pos += len(tok)
        steps.append(Step(token=tok, id=i, remaining=text[pos:]))
    return steps


def token_spans(steps: Iterable[Step]) -> list[tuple[int, int]]:
    """The character span [start, end) of each emitted token in the tokenized text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for s in steps:
        spans.append((pos, pos + len(s.token)))
        pos += len(s.token)
    return spans
