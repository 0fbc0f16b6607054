"""The one LaTeX runner: errors name the question, and nothing runs shell commands."""

from __future__ import annotations

import pytest

from examforge.errors import LatexError
from examforge.renderers.compile import run_pdflatex

DOC = r"""\documentclass{article}
\begin{document}
Intro.
%% placeholder
\end{document}
"""


def _doc(body: str) -> str:
    return DOC.replace("%% placeholder", body)


def test_error_names_question_id_seed_and_log_lines(tmp_path, tex):
    tex_file = tmp_path / "bad.tex"
    tex_file.write_text(_doc("% examforge:question slot=2 id=conv.output_shape seed=777\n\\question \\nosuchmacro{}\n"))
    with pytest.raises(LatexError) as err:
        run_pdflatex(tex_file)
    message = str(err.value)
    assert "question 3 (conv.output_shape, seed 777)" in message
    assert "Undefined control sequence" in message


def test_shell_escape_is_off(tmp_path, tex):
    tex_file = tmp_path / "shell.tex"
    marker = tmp_path / "pwned"
    tex_file.write_text(_doc(r"\immediate\write18{touch " + str(marker) + "}"))
    run_pdflatex(tex_file)
    assert not marker.exists()


def test_reading_outside_the_directory_is_refused(tmp_path, tex):
    tex_file = tmp_path / "read.tex"
    tex_file.write_text(_doc(r"\input{/etc/hostname}"))
    with pytest.raises(LatexError):
        run_pdflatex(tex_file)


def test_error_in_a_batch_names_the_student_too(tmp_path, tex):
    tex_file = tmp_path / "batch.tex"
    tex_file.write_text(_doc(
        "% examforge:student index=0 id=s1\nfine\n"
        "% examforge:student index=1 id=s2\n"
        "% examforge:question slot=4 id=rnn.param_count seed=99\n\\nosuchmacro{}\n% examforge:end\n"))
    with pytest.raises(LatexError) as err:
        run_pdflatex(tex_file)
    assert "student s2, in question 5 (rnn.param_count, seed 99)" in str(err.value)


def test_the_same_source_compiles_once(tmp_path, tex, monkeypatch):
    import examforge.renderers.compile as compile_module

    source = _doc(r"\immediate\write18{x}Cached.")
    cache = tmp_path / "cache"
    first = compile_module.compile_cached(source, tmp_path / "w1", "doc", cache)
    assert not first.cached and first.pdf.parent == cache and first.pdf.exists()
    monkeypatch.setattr(compile_module, "run_pdflatex", lambda *a, **k: pytest.fail("compiled twice"))
    second = compile_module.compile_cached(source, tmp_path / "w2", "doc", cache)
    assert second.cached and second.pdf == first.pdf and second.log == first.log
    assert not (tmp_path / "w2").exists()


def test_overfull_lines_are_found_with_their_source_line():
    log = ("Overfull \\hbox (12.5pt too wide) in paragraph at lines 40--42\n"
           "Overfull \\hbox (0.8pt too wide) in paragraph at lines 50--50\n"
           "Overfull \\hbox (7.0pt too wide) detected at line 61\n")
    from examforge.renderers.compile import overfull_lines

    assert overfull_lines(log, limit_pt=5) == [(12.5, 40), (7.0, 61)]
