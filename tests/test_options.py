"""Question options (issue 13, item 2): the seed questions a type covers only when a spec asks for
them with `overrides`. Each option is held to the common contract (examforge.testing, the same
checks test_registry.py runs on default draws) with the option pinned, compiles through real
pdflatex with its key's answers read back by pdftotext, and leaves the type's default draws
alone: asking for an option changes the option fields only, never the drawn numbers."""

from __future__ import annotations

import re

import pytest

from examforge import registry
from examforge.errors import InputError
from examforge.pdftext import pdf_text
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import DrawnQuestion, render_document
from examforge.text import normalize
from examforge.roster import Student
from examforge.spec import ExamSpec
from examforge.testing import check_type
from examforge.variant import draw, draw_params

# (type, the option as a spec pins it, the forms it is asked in)
OPTIONS = [
    ("softmax.temperature", {"ask": "false_statement"}, ("mc", "free")),
    ("rnn.param_count", {"ask": "length"}, ("free", "mc", "tf")),
    ("backprop.two_neuron", {"ask": "identity"}, ("free", "mc")),
    ("cnn.shape_trace", {"ask": "conv_head"}, ("free", "mc")),
    ("transformer.teacher_forcing_loss", {"heads": 2}, ("free", "mc")),
    ("conv.im2col", {"ask": "weight_position"}, ("free", "mc")),
    ("estimation.gaussian_mle", {"ask": "derivation"}, ("free",)),
    ("estimation.gaussian_mle", {"ask": "bias"}, ("free", "mc")),
    ("estimation.beta_map", {"ask": "derivation"}, ("free",)),
    ("estimation.beta_map", {"ask": "large_n"}, ("free", "mc")),
    ("attention.multihead_cost", {"ask": "complexity"}, ("free", "mc", "tf")),
]
IDS = [f"{t}:{'/'.join(f'{k}={v}' for k, v in o.items())}" for t, o, _ in OPTIONS]
SEEDS = 120


@pytest.mark.parametrize("type_id,overrides,forms", OPTIONS, ids=IDS)
def test_option_holds_the_common_contract(type_id, overrides, forms):
    failures = check_type(registry.get(type_id), seeds=SEEDS, overrides=overrides, forms=forms)
    assert not failures, "\n".join(str(f) for f in failures[:20])


@pytest.mark.parametrize("type_id,overrides,forms", OPTIONS, ids=IDS)
def test_option_leaves_the_drawn_numbers_alone(type_id, overrides, forms):
    """The option is never drawn: a seed's params with it pinned are its default params with
    the option's fields replaced, so pinning it does not change what the other fields draw."""
    qtype = registry.get(type_id)
    for seed in range(40):
        plain = draw_params(qtype, seed).model_dump(mode="json")
        pinned = draw_params(qtype, seed, overrides=overrides).model_dump(mode="json")
        assert {**plain, **overrides} == pinned


@pytest.mark.parametrize("type_id,overrides,forms", OPTIONS, ids=IDS)
def test_option_refuses_the_forms_it_is_not_asked_in(type_id, overrides, forms):
    qtype = registry.get(type_id)
    for form in set(qtype.forms) - set(forms):
        with pytest.raises(InputError, match=rf"{re.escape(type_id)}: ask .* use form"):
            draw(qtype, 0, form=form, overrides=overrides)


def test_every_option_compiles_and_its_key_reads_back(tmp_path, tex):
    sections = []
    for type_id, overrides, forms in OPTIONS:
        items = [{"generator": type_id, "form": form, "points": 2, "overrides": overrides}
                 for form in forms for _ in range(3)]
        sections.append({"title": type_id, "questions": items})
    spec = ExamSpec.model_validate({"title": "Options", "seed": 0, "sections": sections})
    questions = []
    for slot, s_index, q in spec.slots():
        variant = draw(registry.get(q.generator), seed=slot, form=q.form, overrides=q.overrides)
        questions.append(DrawnQuestion(slot=slot, section=s_index, spec=q, variant=variant))
    for key in (False, True):
        tex_file = tmp_path / ("key.tex" if key else "exam.tex")
        tex_file.write_text(render_document(spec, Student("t1", "Test Student"), questions, key=key))
        pdf = run_pdflatex(tex_file)
        log = tex_file.with_suffix(".log").read_text(encoding="latin-1")
        overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert all(w < 5 for w in overfull), f"content runs {max(overfull)}pt into the margin"
        if key:
            flat = normalize(pdf_text(pdf))
            for dq in questions:
                for expected in dq.variant.qtype.key_texts(dq.variant.answer):
                    assert normalize(expected) in flat, f"{dq.variant.qtype.id} slot {dq.slot}: {expected}"


def test_every_option_is_documented_and_tested():
    """A type's `options` (docs/bank.md, `examforge list`) are exactly the options tested here."""
    tested = {(t, f"{k}: {v}") for t, o, _ in OPTIONS for k, v in o.items()}
    documented = {(t.id, pin) for t in registry.all_types() for pin in t.options}
    assert tested == documented


@pytest.mark.parametrize("type_id,overrides,forms", OPTIONS, ids=IDS)
def test_option_answers_fit_their_format(type_id, overrides, forms):
    """The drill reads how an answer is typed from format_of(params): an option's answer fits it."""
    from examforge.drill import answers

    qtype = registry.get(type_id)
    for seed in range(8):
        v = draw(qtype, seed, form=forms[0], overrides=overrides)
        fmt = qtype.format_of(v.params)
        if fmt.typed:
            value = answers.plain(qtype.choice_value(v.answer))
            assert answers.fits(value, fmt), f"{type_id} seed {seed}: {value!r} is not a {fmt.kind}"
