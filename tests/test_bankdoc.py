from pathlib import Path

from examforge.bankdoc import bank_types, render_bank_doc

DOC = Path(__file__).resolve().parents[1] / "docs" / "bank.md"


def test_bank_doc_is_up_to_date():
    expected = render_bank_doc()
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/bank.md is stale: run `python -m examforge.bankdoc > docs/bank.md`"
    )


def test_bank_doc_lists_every_type_with_its_seed_answer():
    text = DOC.read_text(encoding="utf-8")
    computed, authored = bank_types()
    assert len(computed) >= 41 and len(authored) >= 41
    for t in computed:
        assert f"### {t.id}" in text
        assert t.mirrors in text
    for t in authored:
        assert f"| `{t.id}` | {t.kind} |" in text and t.mirrors in text
