"""tokenizer.repeated_tokens: greedy tokenization under two vocabularies differing in one token, and
whether self-attention without positional encodings can tell a repeated word's occurrences apart."""

from __future__ import annotations

import math
import re
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from examforge.drawing import draw_until
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import Latex, texttt
from examforge.solvers.attention import same_attention_output
from examforge.solvers.tokenize import TokenizeError, greedy_steps, token_spans
# == tokenizer.repeated_tokens ===============================================================

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=40)]
TokenId = Annotated[int, Field(ge=1, le=100_000)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z]+$")]

_TABLE_COLUMNS = 3


def word_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Character spans of the whole-word occurrences of `word` (case-sensitive)."""
    return [m.span() for m in re.finditer(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)]


def vocab_rows(entries: list[tuple[str, int]]) -> list[list[tuple[str, int] | None]]:
    rows = math.ceil(len(entries) / _TABLE_COLUMNS)
    return [[entries[c * rows + r] if c * rows + r < len(entries) else None for c in range(_TABLE_COLUMNS)]
            for r in range(rows)]


class RepeatedParams(ParamsModel):
    text: Text
    vocab: dict[Token, TokenId]  # the first vocabulary, token -> id
    changed_id: TokenId  # the second vocabulary is the first with this id's token replaced...
    new_token: Token  # ...by this one
    word: Word  # appears exactly twice in the text

    @field_validator("text", "new_token")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable():
            raise ValueError(f"{v!r} contains a non-printable character (tab, newline...)")
        return v

    @field_validator("vocab")
    @classmethod
    def _vocab_ok(cls, v: dict[str, int]) -> dict[str, int]:
        if not 2 <= len(v) <= 30:
            raise ValueError(f"the vocabulary must have 2 to 30 tokens, got {len(v)}")
        seen: dict[int, str] = {}
        for tok, i in v.items():
            if not tok.isprintable():
                raise ValueError(f"token {tok!r} contains a non-printable character")
            if i in seen:
                raise ValueError(f"tokens {seen[i]!r} and {tok!r} share id {i}; ids must be distinct")
            seen[i] = tok
        return v

    @model_validator(mode="after")
    def _consistent(self):
        ids = {i: t for t, i in self.vocab.items()}
        if self.changed_id not in ids:
            raise ValueError(f"changed_id {self.changed_id} is not an id of the vocabulary")
        if self.new_token in self.vocab:
            raise ValueError(f"new_token {self.new_token!r} is already in the vocabulary (id {self.vocab[self.new_token]})")
        n = len(word_spans(self.text, self.word))
        if n != 2:
            raise ValueError(f"word {self.word!r} must occur exactly twice in the text as a whole word, found {n}")
        for name, vocab in (("the first vocabulary", self.vocab), ("the second vocabulary", self.vocab_after)):
            try:
                greedy_steps(self.text, vocab)
            except TokenizeError as err:
                raise ValueError(f"text cannot be tokenized with {name}: {err}") from None
        return self

    @property
    def vocab_after(self) -> dict[str, int]:
        return {(self.new_token if i == self.changed_id else t): i for t, i in self.vocab.items()}

    @property
    def old_token(self) -> str:
        return next(t for t, i in self.vocab.items() if i == self.changed_id)

    @property
    def vocab_rows(self):
        return vocab_rows(sorted(self.vocab.items(), key=lambda e: e[1]))


class TokenizedStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    id: int
    remaining: str


class Occurrence(BaseModel):
    """The tokens covering one occurrence of the word: 1-based token positions and ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positions: tuple[int, ...]
    tokens: tuple[str, ...]
    ids: tuple[int, ...]

    @property
    def describe(self) -> Latex:
        """E.g. `the token dog (id 3, step 2)`, for the worked solution."""
        many = len(self.tokens) > 1
        toks = ", ".join(texttt(t) for t in self.tokens)
        ids = ", ".join(str(i) for i in self.ids)
        steps = ", ".join(str(k) for k in self.positions)
        return Latex(f"the token{'s' if many else ''} {toks} (id{'s' if many else ''} {ids}, "
                     f"step{'s' if many else ''} {steps})")


class VocabOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ids: tuple[int, ...]
    steps: tuple[TokenizedStep, ...]
    first: Occurrence
    second: Occurrence
    distinguishable: bool


class RepeatedAnswer(AnswerModel):
    distinguishable: tuple[bool, bool]  # with the first, with the second vocabulary
    before: VocabOutcome
    after: VocabOutcome
    shared_steps: int  # leading steps the two tokenizations have in common

    @property
    def new_steps(self) -> list[tuple[int, TokenizedStep]]:
        """The second tokenization's steps after the shared ones, numbered from 1."""
        return [(k + 1, s) for k, s in enumerate(self.after.steps) if k >= self.shared_steps]


def _repeated_answer(before: VocabOutcome, after: VocabOutcome) -> RepeatedAnswer:
    shared = 0
    for x, y in zip(before.steps, after.steps):
        if x != y:
            break
        shared += 1
    return RepeatedAnswer(distinguishable=(before.distinguishable, after.distinguishable),
                          before=before, after=after, shared_steps=shared)


def _occurrences(text: str, word: str, steps) -> tuple[Occurrence, Occurrence]:
    spans = token_spans(steps)
    occ = []
    for start, end in word_spans(text, word)[:2]:
        cover = [k for k, (s, e) in enumerate(spans) if s < end and e > start]
        occ.append(Occurrence(positions=tuple(k + 1 for k in cover), tokens=tuple(steps[k].token for k in cover),
                              ids=tuple(steps[k].id for k in cover)))
    return occ[0], occ[1]


def _outcome_torch(text: str, word: str, vocab: dict[str, int]) -> VocabOutcome:
    steps = greedy_steps(text, vocab)
    ids = [s.id for s in steps]
    first, second = _occurrences(text, word, steps)
    same = len(first.positions) == len(second.positions) and all(
        same_attention_output(ids, i - 1, j - 1, vocab_size=max(vocab.values()))
        for i, j in zip(first.positions, second.positions)
    )
    return VocabOutcome(
        ids=tuple(ids), steps=tuple(TokenizedStep(token=s.token, id=s.id, remaining=s.remaining) for s in steps),
        first=first, second=second, distinguishable=not same,
    )


def _outcome_reference(text: str, word: str, vocab: dict[str, int]) -> VocabOutcome:
    """Independent: regex longest-match tokenization; without positional encodings and with
    unmasked attention a token's output depends only on its id and the whole (shared)
    sequence, so two occurrences look the same exactly when their token ids agree."""
    ordered = sorted(vocab.items(), key=lambda e: (-len(e[0]), e[1]))
    pattern = re.compile("|".join(f"({re.escape(t)})" for t, _ in ordered))
    pos, steps, spans = 0, [], []
    while pos < len(text):
        m = pattern.match(text, pos)
        tok, i = ordered[m.lastindex - 1]
        spans.append((pos, m.end()))
        pos = m.end()
        steps.append(TokenizedStep(token=tok, id=i, remaining=text[pos:]))
    occ = []
    for start, end in word_spans(text, word)[:2]:
        cover = [k for k, (s, e) in enumerate(spans) if s < end and e > start]
        occ.append(Occurrence(positions=tuple(k + 1 for k in cover), tokens=tuple(steps[k].token for k in cover),
                              ids=tuple(steps[k].id for k in cover)))
    return VocabOutcome(ids=tuple(s.id for s in steps), steps=tuple(steps), first=occ[0], second=occ[1],
                        distinguishable=occ[0].ids != occ[1].ids)


def _ids_latex(ids, *, breakable: bool = False) -> str:
    sep = r",\allowbreak " if breakable else ", "
    return "$[" + sep.join(str(int(i)) for i in ids) + "]$"


def _verdict(flag: bool) -> str:
    return "can tell them apart" if flag else "cannot tell them apart"


_NOUNS = ("dog", "cat", "fox", "owl", "cow", "hen", "bat", "pig", "rat", "yak", "elk", "ram", "bee", "emu")
_VERBS = ("chased", "saw", "bit", "fed", "met", "liked", "found", "pushed", "helped", "followed")
_ADJS = ("tired", "happy", "sad", "hungry", "small", "sleepy", "lost", "calm", "wet", "old", "brave")
_SENTENCES = (
    "The {n} that {v} the {n} was {a}.",
    "A {n} that {v} a {n} was {a}.",
    "The {n} {v} the {a} {n}.",
    "The {a} {n} {v} the {n}.",
    "The {n} saw that the {n} was {a}.",
    "My {n} {v} your {n} today.",
)
# forms of the repeated noun a vocabulary may hold
_FORMS = ("{n}", "{n} ", " {n}", "{n}.", " {n} ")


class RepeatedRanges(RangesModel):
    min_vocab: Annotated[int, Field(ge=6, le=30)] = 9
    max_vocab: Annotated[int, Field(ge=6, le=30)] = 13



@register
class RepeatedTokens(QuestionType):
    id = "tokenizer.repeated_tokens"
    summary = ("Greedy tokenization under two vocabularies differing in one token, and whether "
               "self-attention without positional encodings can tell a repeated word's two occurrences apart.")
    mirrors = "001 Q5 parts 1-4 (\"The dog that chased the dog was tired.\", id 4 changed from \"dog\" to \" dog\")"
    Params = RepeatedParams
    Answer = RepeatedAnswer
    answer_format = AnswerFormat("choice")  # the options say in words which tokens are distinguishable
    Ranges = RepeatedRanges
    box_height = "5cm"
    seed_example = {
        "text": "The dog that chased the dog was tired.",
        "vocab": {" ": 1, "The ": 2, "dog ": 3, "dog": 4, "that": 5, "chased": 6, "the": 7,
                  "dog.": 8, "was": 9, "tired": 10, ".": 11},
        "changed_id": 4,
        "new_token": " dog",
        "word": "dog",
    }
    seed_note = (
        "With the second vocabulary the ids are [2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11]: the "
        "token \" dog\" (id 4) does not take the space after it, so a \" \" (id 1) precedes "
        "\"was\"; the seed's key [2, 3, 5, 1, 6, 1, 7, 4, 9, 1, 10, 11] drops it. Its conclusions "
        "are right: with the first vocabulary both occurrences are id 3 (indistinguishable), with "
        "the second they are ids 3 and 4 (distinguishable)."
    )

    # -- drawing -------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, r: RepeatedRanges) -> RepeatedParams:
        return draw_until(rng, lambda g: self._draw(g, r), tries=200, type_id=self.id,
                          what="valid sentence and vocabulary pair")

    def _draw(self, rng, r: RepeatedRanges) -> RepeatedParams | None:
        noun = str(rng.choice(_NOUNS))
        text = str(rng.choice(_SENTENCES)).format(n=noun, v=str(rng.choice(_VERBS)), a=str(rng.choice(_ADJS)))
        words = [w.strip(".") for w in text.split(" ")]
        forms = [f.format(n=noun) for f in _FORMS]
        base = [" ", ".", f"{words[0]} "] + [w for w in dict.fromkeys(words[1:]) if w != noun]
        have = [str(f) for f in rng.choice(forms, size=int(rng.integers(1, 3)), replace=False)]
        decoys = [f"{w}." for w in words[1:] if w != noun] + [w[:2] for w in words if len(w) > 3]
        decoys = [t for t in dict.fromkeys(decoys) if t not in base and t not in forms]
        rng.shuffle(decoys)
        tokens = list(dict.fromkeys(base + have))
        target = int(rng.integers(r.min_vocab, r.max_vocab + 1))
        tokens += decoys[: max(0, target - len(tokens))]
        if not r.min_vocab <= len(tokens) <= r.max_vocab:
            return None
        order = rng.permutation(len(tokens)) if rng.random() < 0.5 else np.arange(len(tokens))
        vocab = {tokens[k]: i + 1 for i, k in enumerate(order)}
        options = []  # (changed id, new token): swap a noun form for another one
        for old in have:
            for new in forms:
                if new not in vocab:
                    options.append((vocab[old], new))
        rng.shuffle(options)
        candidates = []
        for changed_id, new in options:
            try:
                p = RepeatedParams(text=text, vocab=vocab, changed_id=changed_id, new_token=new, word=noun)
            except ValueError:
                continue
            d1, d2 = self.reference(p).distinguishable
            candidates.append((d1 != d2, p))
        if not candidates:
            return None
        flips = [p for flip, p in candidates if flip]
        if flips and rng.random() < 0.75:
            return flips[0]
        return candidates[0][1]

    # -- solving ---------------------------------------------------------------------------------
    def solve(self, p: RepeatedParams) -> RepeatedAnswer:
        return _repeated_answer(_outcome_torch(p.text, p.word, p.vocab), _outcome_torch(p.text, p.word, p.vocab_after))

    def reference(self, p: RepeatedParams) -> RepeatedAnswer:
        return _repeated_answer(
            _outcome_reference(p.text, p.word, p.vocab), _outcome_reference(p.text, p.word, p.vocab_after)
        )

    # -- presentation ------------------------------------------------------------------------------
    def answer_latex(self, a: RepeatedAnswer) -> str:
        return (f"first: {_ids_latex(a.before.ids, breakable=True)}, {_verdict(a.before.distinguishable)}; "
                f"second: {_ids_latex(a.after.ids, breakable=True)}, {_verdict(a.after.distinguishable)}")

    def key_texts(self, a: RepeatedAnswer) -> list[str]:
        return [_ids_latex(a.before.ids).strip("$"), _ids_latex(a.after.ids).strip("$")]

    def choice_value(self, a: RepeatedAnswer):
        return tuple(a.distinguishable)

    def choice_latex(self, value) -> str:
        return f"first vocabulary: {_verdict(value[0])}; second vocabulary: {_verdict(value[1])}"

    def mistakes(self, p: RepeatedParams) -> dict[str, tuple[bool, bool]]:
        right = self.reference(p).distinguishable
        out = {
            "positions_tell_apart": (True, True),  # as if attention knew where each token is
            "same_word_same_output": (False, False),  # as if the word, not the token, mattered
            "ignored_vocab_change": (right[0], right[0]),
        }
        try:
            short = [self._shortest(p.text, p.word, v) for v in (p.vocab, p.vocab_after)]
            out["shortest_match"] = (short[0], short[1])
        except TokenizeError:
            pass
        return out

    @staticmethod
    def _shortest(text: str, word: str, vocab: dict[str, int]) -> bool:
        steps = greedy_steps(text, vocab, shortest=True)
        first, second = _occurrences(text, word, steps)
        return first.ids != second.ids

    def fallback_mistakes(self, p: RepeatedParams, a: RepeatedAnswer):
        d1, d2 = a.distinguishable
        return {"flipped_first": (not d1, d2), "flipped_second": (d1, not d2), "flipped_both": (not d1, not d2)}
