"""Tokenization questions: greedy longest-match subword tokenization over a small vocabulary."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from examforge.drawing import draw_until
from examforge.question import RangesModel, AnswerModel, ParamsModel, QuestionType
from examforge.registry import register
from examforge.solvers.tokenize import TokenizeError, greedy_right_to_left, greedy_steps

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=40)]
TokenId = Annotated[int, Field(ge=1, le=100_000)]

_TABLE_COLUMNS = 3  # (token, id) pairs per row of the vocabulary table
_MIN_VOCAB, _MAX_VOCAB = 8, 14
_LEAST_MAX_VOCAB = 12  # a sentence can use up to 11 distinct tokens, plus room for a decoy

_NOUNS = ("dog", "cat", "fox", "owl", "cow", "hen", "bat", "pig", "rat", "ant", "bee", "yak", "elk", "ram")
_VERBS = ("chased", "saw", "bit", "fed", "met", "liked", "found", "hugged", "pushed", "helped", "followed")
_ADJS = ("tired", "happy", "sad", "hungry", "small", "sleepy", "lost", "calm", "wet", "old", "angry", "brave")
# {n} is the repeated noun, {m} the second noun slot (usually the same noun again)
_TEMPLATES = (
    "The {n} that {v} the {m} was {a}.",
    "A {n} that {v} a {m} was {a}.",
    "The {a} {n} {v} the {m}.",
    "The {n} {v} the {a} {m}.",
    "The {n} saw that the {m} was {a}.",
    "A {a} {n} {v} the {m}.",
)


def _printable(s: str, what: str) -> str:
    if not s.isprintable():
        raise ValueError(f"{what} {s!r} contains a non-printable character (tab, newline...)")
    return s


class GreedyParams(ParamsModel):
    text: Text
    vocab: dict[Token, TokenId]  # token -> id

    @field_validator("text")
    @classmethod
    def _text_printable(cls, v: str) -> str:
        return _printable(v, "text")

    @field_validator("vocab")
    @classmethod
    def _vocab_ok(cls, v: dict[str, int]) -> dict[str, int]:
        if not 1 <= len(v) <= 64:
            raise ValueError(f"the vocabulary must have 1 to 64 tokens, got {len(v)}")
        for tok in v:
            _printable(tok, "token")
        seen: dict[int, str] = {}
        for tok, i in v.items():
            if i in seen:
                raise ValueError(f"tokens {seen[i]!r} and {tok!r} share id {i}; ids must be distinct")
            seen[i] = tok
        return v

    @model_validator(mode="after")
    def _greedy_consumes_text(self):
        try:
            greedy_steps(self.text, self.vocab)
        except TokenizeError as err:
            raise ValueError(f"text cannot be tokenized with this vocabulary: {err}") from None
        return self

    # -- for the templates ------------------------------------------------------------
    @property
    def entries(self) -> list[tuple[str, int]]:
        """(token, id) sorted by id."""
        return sorted(self.vocab.items(), key=lambda e: e[1])

    @property
    def vocab_rows(self) -> list[list[tuple[str, int] | None]]:
        """The vocabulary table: `_TABLE_COLUMNS` (token, id) pairs per row, filled column by
        column in id order; missing cells are None."""
        entries = self.entries
        n_rows = math.ceil(len(entries) / _TABLE_COLUMNS)
        return [
            [entries[c * n_rows + r] if c * n_rows + r < len(entries) else None for c in range(_TABLE_COLUMNS)]
            for r in range(n_rows)
        ]


class TokenStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    id: int
    remaining: str  # the text still to tokenize after this token
    also_matched: tuple[str, ...] = ()  # shorter tokens that also matched here, longest first


class GreedyAnswer(AnswerModel):
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    steps: tuple[TokenStep, ...]


def _answer(steps: list[TokenStep]) -> GreedyAnswer:
    return GreedyAnswer(
        ids=tuple(s.id for s in steps), tokens=tuple(s.token for s in steps), steps=tuple(steps)
    )


def _ids_latex(ids) -> str:
    return "$[" + ", ".join(str(int(i)) for i in ids) + "]$"


def _word_count(template: str) -> int:
    return len(template.split())


class GreedyRanges(RangesModel):
    """Difficulty: the vocabulary size and the sentence length in words."""

    min_vocab: Annotated[int, Field(ge=6, le=30)] = _MIN_VOCAB
    max_vocab: Annotated[int, Field(ge=_LEAST_MAX_VOCAB, le=30)] = _MAX_VOCAB
    min_words: Annotated[int, Field(ge=1, le=20)] = 6
    max_words: Annotated[int, Field(ge=1, le=20)] = 8

    @model_validator(mode="after")
    def _ordered(self):
        counts = sorted({_word_count(t) for t in _TEMPLATES})
        if not any(self.min_words <= c <= self.max_words for c in counts):
            raise ValueError(
                f"no sentence template has {self.min_words} to {self.max_words} words; lengths are {counts}"
            )
        return self


@register
class TokenizerGreedy(QuestionType):
    id = "tokenizer.greedy"
    summary = "Greedy longest-match subword tokenization of a sentence over a small token -> id vocabulary, step by step."
    mirrors = "001 Q5 (\"The dog that chased the dog was tired.\", two vocabularies)"
    seed_example = {"text": "The dog that chased the dog was tired.", "vocab": {" ": 1, "The ": 2, "dog ": 3, " dog": 4, "that": 5, "chased": 6, "the": 7, "dog.": 8, "was": 9, "tired": 10, ".": 11}}
    seed_note = (
        "Shown with the seed's second vocabulary, where index 4 is \" dog\": the ids are "
        "[2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11]. The token \" dog\" does not include the space "
        "after it, so a \" \" (id 1) comes before \"was\"; the seed's key omits that 1."
    )
    Params = GreedyParams
    Answer = GreedyAnswer
    Ranges = GreedyRanges
    box_height = "5cm"

    # -- drawing -----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, ranges: GreedyRanges) -> GreedyParams:
        r = ranges
        templates = [t for t in _TEMPLATES if r.min_words <= _word_count(t) <= r.max_words]
        return draw_until(rng, lambda g: self._draw(g, templates, r), tries=50, type_id=self.id,
                          what=f"vocabulary of {r.min_vocab} to {r.max_vocab} tokens")

    def _draw(self, rng: np.random.Generator, templates: list[str], r: GreedyRanges) -> GreedyParams | None:
        template = str(rng.choice(templates))
        n = str(rng.choice(_NOUNS))
        m = n if rng.random() < 0.8 else str(rng.choice([x for x in _NOUNS if x != n]))
        v = "saw" if "saw that" in template else str(rng.choice(_VERBS))
        a = str(rng.choice(_ADJS))
        text = _sentence(template, n=n, m=m, v=v, a=a)
        words = text.rstrip(".").lower().split(" ")
        if len(set(words)) == len(words):  # nothing repeats: repeat the noun, like the seed
            text = _sentence(template, n=n, m=n, v=v, a=a)
        vocab = _build_vocab(text, n, rng, min_vocab=r.min_vocab, max_vocab=r.max_vocab)
        if not r.min_vocab <= len(vocab) <= r.max_vocab:
            return None
        return GreedyParams(text=text, vocab=vocab)

    # -- solving ---------------------------------------------------------------------------
    def solve(self, p: GreedyParams) -> GreedyAnswer:
        steps = greedy_steps(p.text, p.vocab)
        return _answer([
            TokenStep(token=s.token, id=s.id, remaining=s.remaining, also_matched=s.also_matched)
            for s in steps
        ])

    def reference(self, p: GreedyParams) -> GreedyAnswer:
        """An independent method: one regex alternation of the escaped tokens, longest first
        (ties by smaller id); Python's `re` tries alternatives in order, so `match` at each
        position returns the greedy choice."""
        ordered = sorted(p.vocab.items(), key=lambda e: (-len(e[0]), e[1]))
        pattern = re.compile("|".join(f"({re.escape(tok)})" for tok, _ in ordered))
        steps, pos = [], 0
        while pos < len(p.text):
            match = pattern.match(p.text, pos)
            if match is None:
                raise ValueError(f"reference: no token matches at position {pos}: {p.text[pos:]!r}")
            tok, i = ordered[match.lastindex - 1]
            others = tuple(t for t, _ in ordered if t != tok and p.text[pos : pos + len(t)] == t)
            pos = match.end()
            steps.append(TokenStep(token=tok, id=i, remaining=p.text[pos:], also_matched=others))
        return _answer(steps)

    # -- presentation ------------------------------------------------------------------------
    def answer_latex(self, a: GreedyAnswer) -> str:
        return _ids_latex(a.ids)

    # -- multiple choice -----------------------------------------------------------------------
    def choice_value(self, a: GreedyAnswer) -> tuple[int, ...]:
        return tuple(a.ids)

    def choice_latex(self, value: Any) -> str:
        return _ids_latex(value)

    def mistakes(self, p: GreedyParams) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        right = greedy_steps(p.text, p.vocab)
        try:  # the shortest instead of the longest match at each step
            out["shortest_match"] = tuple(s.id for s in greedy_steps(p.text, p.vocab, shortest=True))
        except ValueError:
            pass
        try:  # longest match, but scanning from the end of the sentence
            out["right_to_left"] = tuple(s.id for s in greedy_right_to_left(p.text, p.vocab))
        except ValueError:
            pass
        # the right tokens, but the whitespace-only ones are never emitted
        out["dropped_spaces"] = tuple(s.id for s in right if s.token.strip())
        words = _word_split(p.text, p.vocab)
        if words is not None:
            out["word_split"] = words
        return out

    def fallback_mistakes(self, p: GreedyParams, a: GreedyAnswer) -> dict[str, tuple[int, ...]]:
        ids = list(a.ids)
        out: dict[str, tuple[int, ...]] = {}
        pairs = [k for k in range(len(ids) - 1) if ids[k] != ids[k + 1]]
        for name, k in (("swapped_first_pair", pairs[:1]), ("swapped_last_pair", pairs[-1:])):
            if k:
                swapped = ids.copy()
                swapped[k[0]], swapped[k[0] + 1] = swapped[k[0] + 1], swapped[k[0]]
                out[name] = tuple(swapped)
        out["dropped_last_token"] = tuple(ids[:-1])
        out["dropped_first_token"] = tuple(ids[1:])
        out["reversed"] = tuple(reversed(ids))
        return out


def _sentence(template: str, **words: str) -> str:
    """Fill the template; "a"/"A" becomes "an"/"An" before a vowel."""
    return re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", template.format(**words))


def _word_split(text: str, vocab: dict[str, int]) -> tuple[int, ...] | None:
    """Split on whitespace and look each word up (bare, with a trailing or a leading space),
    falling back to greedy longest match inside the word; the spaces are never emitted."""
    ids: list[int] = []
    for word in text.split():
        for form in (word, word + " ", " " + word):
            if form in vocab:
                ids.append(vocab[form])
                break
        else:
            try:
                ids.extend(s.id for s in greedy_steps(word, vocab))
            except ValueError:
                return None
    return tuple(ids)


def _word_at(text: str, pos: int) -> str:
    """The run of letters around `pos` (a whole word, without spaces or the period)."""
    start = pos
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    end = pos
    while end < len(text) and text[end].isalpha():
        end += 1
    return text[start:end] or text[pos]


def _build_vocab(
    text: str, noun: str, rng: np.random.Generator, *, min_vocab: int = _MIN_VOCAB, max_vocab: int = _MAX_VOCAB
) -> dict[str, int]:
    """A vocabulary like the seed's: single space and period, the first word with its space,
    the repeated noun with a trailing space plus a bare or leading-space form and a "noun."
    decoy, the other words bare (sometimes with a space or period attached), and decoys that
    are prefixes or longer variants. Then repaired until greedy tokenizes the whole text."""
    words = [w.strip(".") for w in text.split(" ")]
    first, rest = words[0], words[1:]
    core: list[str] = [" ", f"{first} ", f"{noun} "]
    twist = rng.random()
    if twist < 0.4:
        core.append(noun)
    elif twist < 0.8:
        core.append(f" {noun}")
    else:
        core += [noun, f" {noun}"]
    core.append(f"{noun}.")
    for w in dict.fromkeys(rest):
        if w == noun:
            continue
        r = rng.random()
        if r < 0.7:
            core.append(w)
        elif r < 0.85:
            core.append(f" {w}")
        else:
            core.append(f"{w} " if not text.endswith(f"{w}.") else f"{w}.")
    core.append(".")
    decoys: list[str] = []
    for w in dict.fromkeys(words):
        if len(w) >= 3:
            decoys.append(w[: int(rng.integers(2, len(w)))])  # a proper prefix
        if w in _NOUNS:
            decoys.append(w + "s")  # a plural: a longer variant that never matches here
        decoys.append(f"{w}.")
        decoys.append(f" {w}")
    decoys = [d for d in dict.fromkeys(decoys) if d not in core]
    rng.shuffle(decoys)

    vocab = list(dict.fromkeys(core))
    _repair(text, vocab)
    target = int(rng.integers(min_vocab, max_vocab + 1))
    for d in decoys:
        if len(vocab) >= target:
            break
        trial = vocab + [d]
        if _tokenizes(text, trial):
            vocab = trial
    if len(vocab) > max_vocab:  # drop entries greedy never uses (this cannot change its path)
        used = {s.token for s in greedy_steps(text, {t: i for i, t in enumerate(vocab, 1)})}
        for tok in [t for t in reversed(vocab) if t not in used]:
            if len(vocab) <= max_vocab:
                break
            vocab.remove(tok)
    if rng.random() < 0.5:  # ids in listing order like the seed, or shuffled
        order = list(rng.permutation(len(vocab)))
        vocab = [vocab[i] for i in order]
    return {tok: i for i, tok in enumerate(vocab, start=1)}


def _tokenizes(text: str, tokens: list[str]) -> bool:
    try:
        greedy_steps(text, {t: i for i, t in enumerate(tokens, 1)})
        return True
    except TokenizeError:
        return False


def _repair(text: str, vocab: list[str]) -> None:
    """Add the word where greedy gets stuck until it consumes the text (bounded); as a last
    resort fall back to a vocabulary that always works."""
    for _ in range(12):
        try:
            greedy_steps(text, {t: i for i, t in enumerate(vocab, 1)})
            return
        except TokenizeError as err:
            word = _word_at(text, err.position)
            if word in vocab:
                break
            vocab.append(word)
    # Last resort: the space, the period and every bare word. At a word start the whole word
    # is the longest match (no token spans a space), so greedy always gets through.
    vocab[:] = [" ", ".", *dict.fromkeys(re.findall(r"[A-Za-z]+", text))]
    greedy_steps(text, {t: i for i, t in enumerate(vocab, 1)})  # raises if this ever fails
