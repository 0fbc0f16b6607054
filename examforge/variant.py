"""Drawing one variant: params from the seed, the torch answer, and for multiple choice the
options built from named mistakes, placed by the seed's layout stream."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping

from pydantic import ValidationError

from examforge.errors import GenerationError, InputError, describe_validation_error
from examforge.question import FORMS, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.seeding import variant_rngs

LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Choice:
    letter: str
    latex: str
    mistake: str | None  # None marks the correct option


@dataclass(frozen=True)
class Variant:
    qtype: QuestionType
    form: str
    seed: int | None
    params: ParamsModel
    answer: AnswerModel
    choices: tuple[Choice, ...] = field(default=())
    claim: str | None = None  # true/false form: the LaTeX value the statement claims

    @property
    def claim_is_true(self) -> bool | None:
        if self.form != "tf":
            return None
        return self.correct_letter == "T"

    @property
    def correct_letter(self) -> str | None:
        for choice in self.choices:
            if choice.mistake is None:
                return choice.letter
        return None

    @property
    def correct_letters(self) -> tuple[str, ...]:
        """Every correct option (several for a select-all question)."""
        return tuple(c.letter for c in self.choices if c.mistake is None)

    @property
    def correct_label(self) -> str:
        """What the key marks: True/False, a letter, or letters (select all)."""
        if self.form == "tf":
            return "True" if self.claim_is_true else "False"
        if self.form == "multi":
            return ", ".join(self.correct_letters) or "none"
        return self.correct_letter or ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "generator": self.qtype.id,
            "form": self.form,
            "seed": self.seed,
            "params": self.params.model_dump(mode="json"),
            "answer": self.answer.model_dump(mode="json"),
        }
        if self.choices:
            data["choices"] = [
                {"letter": c.letter, "latex": c.latex, "mistake": c.mistake} for c in self.choices
            ]
            data["correct"] = self.correct_letter if self.form != "multi" else list(self.correct_letters)
            if self.form == "multi":
                data["scoring"] = self.qtype.scoring
        if self.claim is not None:
            data["claim"] = self.claim
        return data


def validate_params(
    qtype: QuestionType, data: Mapping[str, Any], *, where: str, prefix: str = "params"
) -> ParamsModel:
    try:
        return qtype.Params.model_validate(dict(data))
    except ValidationError as err:
        raise InputError(describe_validation_error(err, where=where, prefix=prefix)) from None


def validate_ranges(qtype: QuestionType, data: Mapping[str, Any], *, where: str) -> RangesModel:
    try:
        return qtype.Ranges.model_validate(dict(data))
    except ValidationError as err:
        raise InputError(describe_validation_error(err, where=where, prefix="ranges")) from None


def draw(
    qtype: QuestionType,
    seed: int,
    *,
    form: str = "free",
    overrides: Mapping[str, Any] | None = None,
    ranges: Mapping[str, Any] | None = None,
    where: str = "",
) -> Variant:
    """The variant of `qtype` for `seed`. `ranges` narrow or widen the difficulty ranges;
    `overrides` replace sampled fields before solving."""
    params = draw_params(qtype, seed, overrides=overrides, ranges=ranges, where=where)
    return make_variant(qtype, params, form=form, seed=seed, layout_rng=variant_rngs(seed)[1])


def draw_params(
    qtype: QuestionType,
    seed: int,
    *,
    overrides: Mapping[str, Any] | None = None,
    ranges: Mapping[str, Any] | None = None,
    where: str = "",
) -> ParamsModel:
    """The params `draw` uses for `seed` (sampled from the seed's params stream, then overridden)."""
    params_rng = variant_rngs(seed)[0]
    bounds = validate_ranges(qtype, ranges or {}, where=where or f"{qtype.id} ranges")
    try:
        params = qtype.sample(params_rng, bounds)
    except ValidationError as err:  # a generator bug: name it and the seed
        raise GenerationError(f"{qtype.id} seed {seed}: sampled invalid params:\n{err}") from None
    if overrides:
        merged = {**params.model_dump(mode="json"), **overrides}
        params = validate_params(qtype, merged, where=where or f"{qtype.id} overrides")
    return params


def make_variant(
    qtype: QuestionType,
    params: ParamsModel,
    *,
    form: str = "free",
    seed: int | None = None,
    layout_rng=None,
) -> Variant:
    if form not in qtype.forms:
        raise InputError(f"{qtype.id}: form {form!r} is not offered; choose one of {', '.join(qtype.forms)}")
    problem = qtype.form_problem(params, form)
    if problem:
        raise InputError(f"{qtype.id}: {problem}")
    answer = qtype.solve(params)
    choices: tuple[Choice, ...] = ()
    claim = None
    own = qtype.own_choices(params, answer, form)
    if own is not None:
        claim, choices = own
    elif form in ("mc", "tf"):
        if layout_rng is None:
            layout_rng = variant_rngs(seed or 0)[1]
        if form == "mc":
            choices = build_choices(qtype, params, answer, layout_rng, seed=seed)
        else:
            claim, choices = build_true_false(qtype, params, answer, layout_rng, seed=seed)
    return Variant(qtype=qtype, form=form, seed=seed, params=params, answer=answer, choices=choices, claim=claim)


GENERIC_LIMIT = 256  # generic near misses looked at, at most (they are distinct: a few suffice)


class DistractorError(GenerationError):
    """Too few distinct options; names the type, the form and the seed."""

    def __init__(self, type_id: str, form: str, seed, found: int, need: int):
        self.type_id, self.form, self.seed = type_id, form, seed
        self.reason = f"only {found} distinct distractors, need {need}"
        super().__init__(f"{type_id}, {form}, seed {seed}: {self.reason}")


def distinct_mistakes(qtype, params, answer, *, need: int, seed, form: str = "mc") -> tuple[str, list[tuple[str, str]]]:
    """The correct option's LaTeX and `need` (name, LaTeX) mistakes, all distinct: the named
    mistakes first, then the type's fallbacks, then generic near misses of the answer."""
    correct = qtype.choice_latex(qtype.choice_value(answer))
    seen = {_norm(correct)}
    picked: list[tuple[str, str]] = []
    sources = (
        qtype.mistakes(params).items(),
        qtype.fallback_mistakes(params, answer).items(),
        itertools.islice(qtype.generic_mistakes(params, answer), GENERIC_LIMIT),
    )
    for name, value in itertools.chain.from_iterable(sources):
        if len(picked) == need:
            break
        latex = qtype.choice_latex(value)
        if _norm(latex) in seen:
            continue
        seen.add(_norm(latex))
        picked.append((name, latex))
    if len(picked) < need:
        raise DistractorError(qtype.id, form, seed, len(picked), need)
    return correct, picked


def build_true_false(qtype, params, answer, rng, *, seed) -> tuple[str, tuple[Choice, ...]]:
    """A statement claiming either the right value or a wrong one (one of up to three distinct
    mistakes: named first, then fallbacks), 50/50 over seeds."""
    correct, picked = distinct_mistakes(qtype, params, answer, need=1, seed=seed, form="tf")
    if rng.random() < 0.5:
        return correct, (Choice("T", "True", None), Choice("F", "False", "rejected_true_claim"))
    names = [name for name, _ in qtype.mistakes(params).items()]
    _, options = distinct_mistakes(qtype, params, answer, need=min(3, max(1, len(names))), seed=seed, form="tf")
    name, latex = options[int(rng.integers(len(options)))]
    return latex, (Choice("T", "True", name), Choice("F", "False", None))


def build_choices(qtype, params, answer, rng, *, seed) -> tuple[Choice, ...]:
    """Correct option plus distinct mistakes (named first, then fallbacks); the correct position
    is uniform over seeds."""
    n = qtype.n_choices
    correct, picked = distinct_mistakes(qtype, params, answer, need=n - 1, seed=seed, form="mc")
    order = rng.permutation(n - 1)
    position = int(rng.integers(n))
    options: list[tuple[str, str | None]] = [(picked[i][1], picked[i][0]) for i in order]
    options.insert(position, (correct, None))
    return tuple(Choice(LETTERS[i], latex, mistake) for i, (latex, mistake) in enumerate(options))


def draw_in_build(
    qtype: QuestionType,
    seed: int,
    *,
    context: str,
    form: str,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    ranges: Mapping[str, Any] | None = None,
    where: str,
) -> Variant:
    """One slot's variant in a build: drawn from `seed`, or made from the spec's fixed `params`.
    A failure other than bad input becomes a GenerationError that starts with `context` (the
    phase and the slot, e.g. `calibration draw 7 of slot 3`) and names type, form and seed."""
    try:
        if params is not None:
            fixed = validate_params(qtype, params, where=where)
            return make_variant(qtype, fixed, form=form, seed=seed, layout_rng=variant_rngs(seed)[1])
        return draw(qtype, seed, form=form, overrides=overrides, ranges=ranges, where=where)
    except InputError:
        raise  # names the spec's file and field already
    except Exception as err:  # a generator's failure, whatever it is, named where it happened
        reason = err.reason if isinstance(err, DistractorError) else _reason(err, qtype.id, seed)
        hint = ""
        if params is None and not overrides and not ranges:
            hint = f" (reproduce: examforge sample {qtype.id} --seed {seed} --form {form})"
        raise GenerationError(f"{context} ({qtype.id}, {form}, seed {seed}): {reason}{hint}") from err


def _reason(err: Exception, type_id: str, seed) -> str:
    text = str(err)
    prefix = f"{type_id} seed {seed}: "
    text = text[len(prefix):] if text.startswith(prefix) else text
    return text if isinstance(err, GenerationError) else f"{type(err).__name__}: {text}"


def _norm(latex: str) -> str:
    return "".join(latex.split())



__all__ = ["Choice", "DistractorError", "Variant", "draw", "draw_in_build", "draw_params", "make_variant",
           "validate_params", "FORMS"]
