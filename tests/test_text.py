"""latex_to_text: its fast path gives pylatexenc's text exactly, or steps aside."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from examforge import registry
from examforge import text as T
from examforge.variant import draw


def _slow(latex: str) -> str:
    nodes, _, _ = T.latexwalker.LatexWalker(latex, latex_context=T._parse_context, tolerant_parsing=True).get_latex_nodes()
    text = re.sub(r"[ \t]+", " ", T._converter.nodelist_to_text(nodes))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _fast(latex: str) -> str | None:
    text = T._fast_text(latex)
    return None if text is None else re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def test_fast_path_matches_pylatexenc_on_every_answer_and_option():
    taken = 0
    for qtype in registry.all_types():
        for form in qtype.forms:
            for seed in range(8):
                v = draw(qtype, seed, form=form)
                for latex in [qtype.answer_latex(v.answer)] + [c.latex for c in v.choices or []]:
                    fast = _fast(latex)
                    if fast is not None:
                        taken += 1
                        assert fast == _slow(latex), latex
    assert taken > 1000  # it does take most answers


PIECES = ["1", "-2.5", " ", "x", "(", ")", ",", "=", "$", "{", "}", "^", "_", "\\times ", "\\to", "\\infty",
          "\\partial ", "\\approx", "\\top", "\\dots", "\\eta", "\\ge ", "\\hat{w}", "\\tfrac{1}{4}", "\\frac{a}{b}",
          "\\mathbf{z}", "\\texttt{ab}", "--", "~", "''", "&", "\\%", "\\,", "\\operatorname{softmax}", "\n"]


@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_fast_path_is_exact_or_steps_aside(pieces):
    latex = "".join(pieces)
    fast = _fast(latex)
    if fast is not None:
        assert fast == _slow(latex)
    assert T.latex_to_text(latex) == _slow(latex)


def test_sample_text_keeps_det_and_not_equal():
    """`examforge sample --format text` printed '(A) 0' for $\\det(A) \\ne 0$: both were dropped."""
    assert T.latex_to_text(r"$\det(A) \ne 0$") == "det (A) ≠0"
    assert T.latex_to_text(r"$\det A = 3$") == "det A = 3"
    assert T.latex_to_text(r"$\neg p$, $f\colon X$, $\bigstar$") == "¬p, f:X, ★"
    for latex in (r"$\det A \ne 0$", r"$\det(A)$"):  # the fast path agrees
        assert _fast(latex) == _slow(latex)
    v = draw(registry.get("linalg.rank_one_eigenvalues"), 3)
    assert "det A = " in T.latex_to_text(v.qtype.answer_latex(v.answer))
