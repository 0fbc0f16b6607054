"""One table of bad inputs, each with the error message it must produce (file, field, value)."""

from __future__ import annotations

import pytest

from examforge.errors import InputError
from examforge.roster import load_roster
from examforge.spec import load_spec

from .helpers import write

GOOD_SECTION = "sections:\n  - title: A\n    questions:\n      - {generator: conv.output_shape, points: 2}\n"
HEAD = "title: T\nseed: 1\n"

SPEC_CASES = [
    ("unknown id suggests", HEAD + GOOD_SECTION.replace("conv.output_shape", "conv.outptu_shape"),
     [r"sections\[0\]\.questions\[0\]\.generator", "conv.outptu_shape", "did you mean conv.output_shape"]),
    ("negative seed", "title: T\nseed: -3\n" + GOOD_SECTION, ["field 'seed'", "-3", "greater than or equal to 0"]),
    ("missing title", "seed: 1\n" + GOOD_SECTION, ["field 'title' is required"]),
    ("no sections", HEAD + "sections: []\n", ["field 'sections'", "at least 1"]),
    ("bad form", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, form: essay"),
     [r"questions\[0\]\.form", "'essay'"]),
    ("zero points", HEAD + GOOD_SECTION.replace("points: 2", "points: 0"),
     [r"questions\[0\]\.points", "value 0", "greater than 0"]),
    ("unknown key", HEAD + "colour: red\n" + GOOD_SECTION, ["field 'colour'", "Extra inputs are not permitted"]),
    ("override of a missing param", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, overrides: {strides: [1, 1]}"),
     ["'strides' is not a parameter of conv.output_shape"]),
    ("fixed params invalid", HEAD + GOOD_SECTION.replace(
        "points: 2", "points: 2, params: {input_hw: [4, 4], kernel: [9, 9], stride: [1, 1], padding: [0, 0], in_channels: 1, out_channels: 1}"),
     [r"sections\[0\]\.questions\[0\]\.params", "kernel height 9 is larger than the padded input height 4"]),
    ("fixed params bad value", HEAD + GOOD_SECTION.replace(
        "points: 2", "points: 2, params: {input_hw: [4, 4], kernel: [3, 3], stride: [0, 1], padding: [0, 0], in_channels: 1, out_channels: 1}"),
     [r"params\.stride\[0\]", "value 0", "greater than or equal to 1"]),
    ("bad box height", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, box_height: '5cm}\\\\input{x}'"),
     ["box_height", "must be a LaTeX length"]),
    ("zero box height", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, box_height: 0cm"),
     [r"questions\[0\]\.box_height", "value '0cm'", "must be more than 0.41cm", "frame and padding"]),
    ("box height below its frame", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, box_height: 3mm"),
     [r"questions\[0\]\.box_height", "value '3mm'", "must be more than 0.41cm"]),
    ("negative box height", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, box_height: -2cm"),
     [r"questions\[0\]\.box_height", "value '-2cm'", "more than 0"]),
    ("zero question height", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, question_height: 0cm"),
     [r"questions\[0\]\.question_height", "value '0cm'", "must be more than 0"]),
    ("absurd question height", HEAD + GOOD_SECTION.replace("points: 2", "points: 2, question_height: 9999cm"),
     [r"questions\[0\]\.question_height", "value '9999cm'", "at most 100cm"]),
    ("zero part box", HEAD + GOOD_SECTION.replace("{generator: conv.output_shape, points: 2}",
     "{generator: backprop.two_neuron, points: 2, parts: [{label: a, points: 1, box_height: 0in}, "
     "{label: b, points: 1}]}"), [r"parts\[0\]\.box_height", "value '0in'", "must be more than 0.41cm"]),
    ("bad yaml", HEAD + "sections: [\n  - oops: {\n", ["invalid YAML at line"]),
    ("duplicate key", HEAD + "seed: 2\n" + GOOD_SECTION, ["invalid YAML at line 3", "duplicate key 'seed' (first at line 2)"]),
    ("not a mapping", "- just\n- a list\n", ["must be a YAML mapping"]),
]


@pytest.mark.parametrize("name,text,expected", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_spec(tmp_path, name, text, expected):
    path = write(tmp_path / "spec.yaml", text)
    with pytest.raises(InputError) as err:
        load_spec(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message or __import__("re").search(fragment, message), (fragment, message)


def test_missing_spec_file(tmp_path):
    with pytest.raises(InputError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")


ROSTER_CASES = [
    ("no id column", "name,email\nAda,a@x.org\n", ["no 'id' column"]),
    ("no name column", "id,email\ns1,a@x.org\n", ["no 'name' column"]),
    ("empty name", "id,name,email\ns1,,a@x.org\n", ["row 2", "'name' field is empty"]),
    ("empty id", "id,name\n,Ada\n", ["row 2", "'id' field is empty"]),
    ("duplicate id", "id,name\ns1,Ada\ns1,Bob\n", ["row 3", "duplicate id 's1'", "row 2"]),
    ("duplicate email", "id,name,email\ns1,Ada,a@x.org\ns2,Bob,A@x.org\n", ["row 3", "duplicate email"]),
    ("id unsafe for a filename", "id,name\n../etc,Ada\n", ["row 2", "field 'id'", "'../etc'"]),
    ("bad email", "id,name,email\ns1,Ada,not-an-email\n", ["row 2", "field 'email'", "not-an-email"]),
    ("header only", "id,name\n", ["no students"]),
    ("empty file", "", ["roster is empty"]),
]


@pytest.mark.parametrize("name,text,expected", ROSTER_CASES, ids=[c[0] for c in ROSTER_CASES])
def test_bad_roster(tmp_path, name, text, expected):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_roster(path)
    for fragment in expected:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_roster_header_variants_and_unicode(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\ufeffStudent ID,Full Name,E-mail\nA-1,Zoë Ñ,z@x.org\nB_2,李雷,l@x.org\n", encoding="utf-8")
    students = load_roster(path)
    assert [(s.id, s.name, s.email) for s in students] == [("A-1", "Zoë Ñ", "z@x.org"), ("B_2", "李雷", "l@x.org")]
    path.write_text("SID,Name\n7,Ada\n", encoding="utf-8")
    assert load_roster(path)[0].id == "7"


def test_bad_ranges_name_the_values(tmp_path):
    text = HEAD + GOOD_SECTION.replace("points: 2", "points: 2, ranges: {min_size: 50, max_size: 20}")
    path = write(tmp_path / "spec.yaml", text)
    with pytest.raises(InputError) as err:
        load_spec(path)
    message = str(err.value)
    assert "min_size 50 is larger than max_size 20" in message
    assert message.startswith(f"{path}: sections[0].questions[0] (question 1, conv.output_shape): field 'ranges'")


def test_ranges_errors_name_the_question_and_the_field(tmp_path):
    text = HEAD + GOOD_SECTION + "      - {generator: conv.output_shape, points: 2, ranges: {max_sizee: 20}}\n"
    path = write(tmp_path / "spec.yaml", text)
    with pytest.raises(InputError) as err:
        load_spec(path)
    assert str(err.value) == (f"{path}: sections[0].questions[1] (question 2, conv.output_shape): "
                              "field 'ranges.max_sizee': value 20: Extra inputs are not permitted")


def test_ranges_are_honoured():
    from examforge import registry
    from examforge.variant import draw

    qtype = registry.get("conv.output_shape")
    for seed in range(100):
        p = draw(qtype, seed, ranges={"min_size": 10, "max_size": 20, "max_kernel": 3, "max_stride": 2}).params
        assert all(10 <= n <= 20 for n in p.input_hw) and max(p.kernel) <= 3 and max(p.stride) <= 2
