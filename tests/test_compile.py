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
