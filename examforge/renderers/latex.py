"""The Jinja2 environment for LaTeX templates and its filters.

Delimiters are LaTeX-safe (\\VAR{...}, \\BLOCK{...}, \\#{...}), undefined names fail loudly,
and every plain string that reaches the output is escaped unless it is `Latex` markup made
by one of our filters. Templates hold no logic beyond choosing what to print."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import jinja2

from examforge import figures



from examforge.formatting import (  # noqa: F401  (the filters; re-exported for the renderers)
    Latex,
    article,
    escape,
    fmt,
    frac,
    matrix,
    num,
    shape,
    texttt,
)


def _finalize(value: Any) -> Any:
    if isinstance(value, Latex):
        return value
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (bool, int, float, Fraction)):
        return fmt(value)
    if value is None:
        raise TypeError("template printed None")
    raise TypeError(f"template printed a {type(value).__name__}; use a filter (fmt, matrix, shape)")


@jinja2.pass_context
def _figure(context: jinja2.runtime.Context, fig: figures.Axes | figures.CellGrid) -> Latex:
    """A figure model (examforge.figures) as a LaTeX `picture`; as the model itself
    (\\effigure{...}) when the renderer asked for `figure_mode="data"` (the drill draws it)."""
    if not isinstance(fig, (figures.Axes, figures.CellGrid)):
        raise TypeError(f"the figure filter draws examforge.figures models, not a {type(fig).__name__}")
    mode = context.get("figure_mode", "picture")
    if mode == "data":
        return Latex(figures.as_data(fig))
    if mode != "picture":
        raise ValueError(f"figure_mode {mode!r}: draw figures as a 'picture' or as 'data'")
    return Latex(figures.to_latex(fig))


def _latex_filter(value: Any) -> Latex:
    """Mark trusted LaTeX made in Python (never user text)."""
    return value if isinstance(value, Latex) else Latex(str(value))


class _QuestionLoader(jinja2.BaseLoader):
    """`questions/<id>/<file>` from the folder the type was loaded from (bank or user folder)."""

    def get_source(self, environment, template):
        from examforge import registry

        parts = template.split("/")
        if len(parts) != 3 or parts[0] != "questions":
            raise jinja2.TemplateNotFound(template)
        path = registry.template_path(parts[1], parts[2])
        if path is None or not path.is_file():
            raise jinja2.TemplateNotFound(template)
        source = path.read_text(encoding="utf-8")
        return source, str(path), lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("examforge", "templates"), _QuestionLoader()]),
        auto_reload=False,  # templates ship with the package; no stat() per render
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
    )
    env.filters.update(
        fmt=fmt,
        num=num,
        frac=frac,
        matrix=matrix,
        shape=shape,
        tex=escape,
        texttt=texttt,
        latex=_latex_filter,
        a_an=article,
        figure=_figure,
    )
    return env


def render(template: str, **context: Any) -> Latex:
    return Latex(environment().get_template(template).render(**context))
