"""The common contract every question type is held to, as a library (like scikit-learn's
`check_estimator`): the bank's own test (tests/test_registry.py) and `examforge check` on an
instructor's folder run exactly these checks.

Each seed is drawn once per form and shared by every check. A check that fails gives a
`Failure` naming the type, the check, the form and the seed.
"""

from __future__ import annotations

import collections
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from examforge.question import QuestionType, values_agree
from examforge.variant import Variant, draw

MIN_DISTINCT_IN_100 = 60  # a computed type gives at least this many different variants in 100 seeds


@dataclass(frozen=True)
class Failure:
    type_id: str
    check: str
    message: str
    seed: int | None = None
    form: str | None = None

    def __str__(self) -> str:
        where = "" if self.seed is None else f" seed {self.seed}"
        form = "" if self.form is None else f" ({self.form})"
        return f"{self.type_id}{form}{where}: {self.check}: {self.message}"


def _norm(latex: str) -> str:
    return "".join(latex.split())


def check_type(qtype: QuestionType, *, seeds: int = 200, bank: bool = False,
               overrides: dict | None = None, forms: Iterable[str] | None = None) -> list[Failure]:
    """Every check that needs no LaTeX run, over `seeds` seeds of every form (or of `forms`),
    each draw with `overrides` (a question option pinned as a spec pins it)."""
    from examforge.renderers.blocks import question_latex, solution_latex
    from examforge.text import latex_to_text, normalize

    failures: list[Failure] = []
    authored = getattr(qtype, "authored", False)

    def fail(check: str, message: str, seed=None, form=None) -> None:
        failures.append(Failure(qtype.id, check, message, seed, form))

    drawn: dict[str, list[Variant]] = {}
    forms = list(qtype.forms if forms is None else forms)
    for form in forms:
        variants = []
        for seed in range(seeds):
            try:
                v = draw(qtype, seed, form=form, overrides=overrides)
            except Exception as err:  # a check reports every failure, whatever it is
                fail("draw", f"{type(err).__name__}: {err}", seed, form)
                continue
            variants.append(v)
        drawn[form] = variants

    for form, variants in drawn.items():
        for v in variants:
            seed = v.seed
            # deterministic, JSON round trip
            again = draw(qtype, seed, form=form, overrides=overrides)
            if again.to_json() != v.to_json():
                fail("deterministic", "two draws of the same seed differ", seed, form)
            try:
                if qtype.Params.model_validate_json(v.params.model_dump_json()) != v.params:
                    fail("json round trip", "params change through JSON", seed, form)
                json.dumps(v.to_json())
            except Exception as err:
                fail("json round trip", f"{type(err).__name__}: {err}", seed, form)
            # torch answer == independent reference
            if form == forms[0] and not authored:
                try:
                    ref = qtype.reference(v.params)
                    if not values_agree(v.answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                                        rtol=qtype.Answer.rtol, atol=qtype.Answer.atol):
                        fail("solver vs reference", f"torch {v.answer!r} != reference {ref!r}", seed, form)
                except Exception as err:
                    fail("solver vs reference", f"{type(err).__name__}: {err}", seed, form)
            # templates render; the key and the worked solution hold the answer
            if seed % 4 == 0 or authored:
                try:
                    q = question_latex(v, key=False)
                    k = question_latex(v, key=True)
                    s = solution_latex(v)
                except Exception as err:
                    fail("templates render", f"{type(err).__name__}: {err}", seed, form)
                    continue
                if not q.strip() or not s.strip():
                    fail("templates render", "an empty question or solution", seed, form)
                if "Solution" in q:
                    fail("templates render", "the question shows the solution", seed, form)
                solution_text = normalize(latex_to_text(s))
                key_text = normalize(latex_to_text(k))
                for expected in qtype.key_texts(v.answer):
                    if normalize(expected) not in solution_text:
                        fail("solution holds the answer", f"no {expected!r} in the worked solution", seed, form)
                    if normalize(expected) not in key_text:
                        fail("key holds the answer", f"no {expected!r} in the key's answer box", seed, form)
        if form in ("mc", "multi"):
            _check_options(qtype, form, variants, fail, authored=authored)
        if form == "tf":
            _check_true_false(qtype, variants, fail, authored=authored)

    if not authored and forms and drawn.get(forms[0]):
        first = drawn[forms[0]][:100]
        distinct = len({v.params.model_dump_json() for v in first})
        if len(first) == 100 and distinct < MIN_DISTINCT_IN_100:
            fail("variety", f"only {distinct} distinct variants in 100 seeds (at least {MIN_DISTINCT_IN_100})")
    if authored:
        used = {v.params.variant for vs in drawn.values() for v in vs}
        missing = sorted(set(range(len(qtype.variants))) - used)
        if missing and seeds >= 20 * len(qtype.variants):
            fail("variety", f"variants {missing} never drawn in {seeds} seeds")
    if bank and not authored:
        _check_seed_example(qtype, fail)
    for name in qtype.Ranges.model_fields:
        if not name.startswith(("min_", "max_")) and name != "difficulty":
            fail("ranges", f"range {name!r} is not named min_*/max_*")
    return failures


def _check_options(qtype, form, variants, fail, *, authored: bool) -> None:
    positions = collections.Counter()
    for v in variants:
        latex = [_norm(c.latex) for c in v.choices]
        if len(set(latex)) != len(latex):
            fail("options distinct", f"duplicate options {latex}", v.seed, form)
        correct = [c for c in v.choices if c.mistake is None]
        if form == "mc" and len(correct) != 1:
            fail("options", f"{len(correct)} correct options, expected 1", v.seed, form)
            continue
        if not authored:
            if len(v.choices) != qtype.n_choices:
                fail("options", f"{len(v.choices)} options, expected {qtype.n_choices}", v.seed, form)
            if correct and _norm(correct[0].latex) != _norm(qtype.choice_latex(qtype.choice_value(v.answer))):
                fail("options", "the correct option does not show the answer", v.seed, form)
        if any(not c.mistake for c in v.choices if c not in correct):
            fail("options named", "a wrong option has no mistake name", v.seed, form)
        for c in correct:
            positions[c.letter] += 1
    shuffled = not authored or getattr(qtype.spec, "shuffle", True)
    if form == "mc" and shuffled and len(variants) >= 40:
        n = qtype.n_choices if not authored else len(variants[0].choices)
        movable = n if not authored else sum(1 for c in qtype.variants[0].choices or [] if not c.fixed)
        expected = len(variants) / max(1, movable)
        letters = "ABCDEFGH"[:movable]
        if not authored and any(positions[letter] <= expected * 0.6 for letter in letters):
            fail("options balanced", f"unbalanced correct positions {dict(positions)}")


def _check_true_false(qtype, variants, fail, *, authored: bool) -> None:
    truths = 0
    for v in variants:
        if [c.latex for c in v.choices] != ["True", "False"]:
            fail("true/false", f"options {[c.latex for c in v.choices]}", v.seed, "tf")
        if not authored:
            right = _norm(qtype.choice_latex(qtype.choice_value(v.answer)))
            if (_norm(v.claim or "") == right) != v.claim_is_true:
                fail("true/false", "the claim's truth is wrong", v.seed, "tf")
        truths += bool(v.claim_is_true)
    if not authored and len(variants) >= 40 and not 0.35 * len(variants) < truths < 0.65 * len(variants):
        fail("true/false balanced", f"{truths} true claims of {len(variants)}")
    if authored and len(qtype.variants) >= 3:
        kinds = {bool(qtype.solve(qtype.calibration_params()[i]).value) for i in range(len(qtype.variants))}
        if len(kinds) < 2:
            fail("true/false balanced", "every variant has the same truth value; give true and false statements")


def _check_seed_example(qtype, fail) -> None:
    if qtype.seed_example is None:
        fail("seed example", "give the seed question's own numbers (seed_example)")
        return
    try:
        params = qtype.Params.model_validate(qtype.seed_example)
        answer, ref = qtype.solve(params), qtype.reference(params)
        if not values_agree(answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                            rtol=qtype.Answer.rtol, atol=qtype.Answer.atol):
            fail("seed example", f"torch {answer!r} != reference {ref!r}")
    except Exception as err:
        fail("seed example", f"{type(err).__name__}: {err}")


def compile_types(types: Iterable[QuestionType], *, seeds: int = 3, workdir: Path | None = None) -> list[Failure]:
    """Both templates of every type through real pdflatex: one exam and one key document holding
    `seeds` variants of every form; the key's text must hold every answer."""
    from examforge.errors import LatexError
    from examforge.pdftext import pdf_text
    from examforge.renderers.compile import run_pdflatex
    from examforge.renderers.exam import DrawnQuestion, render_document
    from examforge.text import normalize
    from examforge.roster import Student
    from examforge.spec import ExamSpec

    types = list(types)
    if not types:
        return []
    sections = []
    for qtype in types:
        items = [{"generator": qtype.id, "form": form, "points": 2} for form in qtype.forms for _ in range(seeds)]
        sections.append({"title": qtype.id, "questions": items})
    spec = ExamSpec.model_validate({"title": "examforge check", "seed": 0, "sections": sections})
    questions = []
    for slot, s_index, q in spec.slots():
        variant = draw(types[s_index], slot % seeds + 1000 * s_index, form=q.form)
        questions.append(DrawnQuestion(slot=slot, section=s_index, spec=q, variant=variant))
    failures: list[Failure] = []
    with tempfile.TemporaryDirectory(prefix="examforge-check-", dir=workdir) as tmp:
        for key in (False, True):
            tex_file = Path(tmp) / ("key.tex" if key else "exam.tex")
            tex_file.write_text(render_document(spec, Student("check", "Check"), questions, key=key), encoding="utf-8")
            try:
                pdf = run_pdflatex(tex_file)
            except LatexError as err:
                ids = _ids_in_error(str(err), types)
                for type_id in ids or [t.id for t in types]:
                    failures.append(Failure(type_id, "compiles with pdflatex", str(err).splitlines()[0]))
                return failures
            log = tex_file.with_suffix(".log").read_text(encoding="latin-1")
            overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
            if overfull and max(overfull) >= 5:
                failures.append(Failure(",".join(t.id for t in types), "fits the page",
                                        f"content runs {max(overfull)}pt into the margin"))
            if key:
                flat = normalize(pdf_text(pdf))
                for dq in questions:
                    for expected in dq.variant.qtype.key_texts(dq.variant.answer):
                        if normalize(expected) not in flat:
                            failures.append(Failure(dq.variant.qtype.id, "key PDF holds the answer",
                                                    f"no {expected!r} in the compiled key", dq.variant.seed,
                                                    dq.variant.form))
    return failures


def _ids_in_error(message: str, types: list[QuestionType]) -> list[str]:
    return [t.id for t in types if t.id in message]


def check(types: Iterable[QuestionType], *, seeds: int = 200, compile: bool = True, bank: bool = False,
          progress=None) -> list[Failure]:
    """Every check on every type; `compile` adds the pdflatex run."""
    from examforge import registry

    types = list(types)
    failures: list[Failure] = []
    for i, qtype in enumerate(types):
        if progress:
            progress(qtype.id, i, len(types))
        failures += check_type(qtype, seeds=seeds, bank=bank or registry.in_bank(qtype.id))
    if compile:
        failures += compile_types(types)
    if progress:
        progress("done", len(types), len(types))
    return failures
