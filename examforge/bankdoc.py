"""docs/bank.md, generated from the registry so it cannot drift from the code.

Per type: what it asks, the seed question it mirrors, an example variant, the seed question
reproduced from the seed's own numbers with `examforge solve`, and where the seed's key is
wrong, why. Regenerate with `python -m examforge.bankdoc > docs/bank.md`."""

from __future__ import annotations

import json
from collections import defaultdict

from examforge import registry
from examforge.renderers.blocks import question_text
from examforge.text import latex_to_text
from examforge.variant import draw, make_variant


def bank_types() -> tuple[list, list]:
    """The bank's computed types and its authored questions (not an instructor's folder's)."""
    computed = [t for t in registry.all_types() if registry.in_bank(t.id)]
    authored = [t for t in registry.all_types() if getattr(t, "authored", False)
                and registry.origin(t.id).is_relative_to(registry.BANK)]
    return computed, authored


def render_bank_doc() -> str:
    types, authored = bank_types()
    by_topic: dict[str, list] = defaultdict(list)
    for t in types:
        by_topic[t.topic].append(t)
    wrong = [t for t in types if t.seed_note.strip()]
    out = [
        "# The question bank",
        "",
        "Generated from the registry by `python -m examforge.bankdoc > docs/bank.md`; a test",
        "fails when this file is out of date. Every answer below was computed by the type's torch",
        "solver and agrees with its independent reference (see `tests/test_registry.py`).",
        "",
        f"{len(types)} question types. Seed documents are in `shared/seeds/` (000-004).",
        "",
        "| id | forms | mirrors | what it asks |",
        "|---|---|---|---|",
    ]
    for t in types:
        out.append(f"| [`{t.id}`](#{t.id.replace('.', '')}) | {', '.join(t.forms)} | {t.mirrors} | {t.summary} |")
    if wrong:
        out += ["", "## Seed keys that are wrong", ""]
        for t in wrong:
            out.append(f"- `{t.id}` ({t.mirrors.split(' (')[0]}): {t.seed_note.strip()}")
    for topic in sorted(by_topic):
        out += ["", f"## {topic}"]
        for t in by_topic[topic]:
            out += ["", f"### {t.id}", "", t.summary, ""]
            out.append(f"- Mirrors seed question: {t.mirrors}")
            out.append(f"- Forms: {', '.join(t.forms)}")
            for pin, what in t.options.items():
                out.append(f"- Option `overrides: {{{pin}}}`: {what}")
            ranges = t.Ranges().model_dump(mode="json")
            if ranges:
                out.append("- Difficulty ranges (defaults): " + ", ".join(f"`{k}={v}`" for k, v in ranges.items()))
            v = draw(t, 0, form="mc" if "mc" in t.forms else t.forms[0])
            out += ["", f"Example (`examforge sample {t.id} --seed 0 --form {v.form}`):", "", "```text"]
            out.append(latex_to_text(question_text(v, figure_mode="data")))  # figures drawn as text
            for c in v.choices:
                out.append(f"  {c.letter}. {latex_to_text(c.latex)}")
            out.append(f"Answer: ({v.correct_letter}) {latex_to_text(t.answer_latex(v.answer))}")
            out.append("```")
            if t.seed_example is not None:
                params = t.Params.model_validate(t.seed_example)
                sv = make_variant(t, params, form="free")
                out += ["", f"The seed question, from its own numbers (`examforge solve {t.id} --params FILE`):", "",
                        "```json", json.dumps(t.seed_example, ensure_ascii=False), "```", "",
                        f"Answer: {latex_to_text(t.answer_latex(sv.answer))}"]
            if t.seed_comment.strip():
                out += ["", f"Note: {t.seed_comment.strip()}"]
            if t.seed_note.strip():
                out += ["", f"**Where the seed's key is wrong:** {t.seed_note.strip()}"]
    out += ["", "## Authored questions", "",
            f"{len(authored)} conceptual and open questions written for the seed exams "
            "(`examforge/bank/authored/`). Each student gets one variant of a question.", "",
            "| id | form | variants | mirrors | what it asks |", "|---|---|---|---|---|"]
    for t in authored:
        out.append(f"| `{t.id}` | {t.kind} | {len(t.variants)} | {t.mirrors} | {t.summary} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_bank_doc(), end="")
