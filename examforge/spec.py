"""The exam spec: YAML validated by pydantic. Errors name the file, the field and the value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from examforge import layout as L
from examforge import registry
from examforge.errors import InputError, describe_validation_error
from examforge.renderers.scripts import check_printable
from examforge.safeinput import decode_text, parse_yaml, read_input

Printed = Annotated[str, AfterValidator(check_printable)]  # printed text: any script a font prints

_LENGTH = re.compile(r"^\d{1,4}(\.\d{1,4})?(cm|mm|in|pt|em|ex)$")
MAX_SPEC_BYTES = 1_000_000
MAX_LENGTH_CM = 100.0  # no paper is taller; plan_layout says when a question outgrows its page
# An answer box holds its frame and padding; what is left is the room for the answer.
BOX_FRAME_CM = L.sp_cm(2 * L.pt_sp(L.BOX_RULE_PT) + 2 * L.pt_sp(L.BOX_PAD_PT))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_length(value: str | None, *, minimum_cm: float = 0.0, why: str = "") -> str | None:
    """A positive LaTeX length ('4cm', '30mm', '2in'), more than `minimum_cm`, at most MAX_LENGTH_CM."""
    if value is None:
        return value
    if not isinstance(value, str) or not _LENGTH.match(value):
        raise ValueError("must be a LaTeX length such as '4cm', '30mm' or '2in', more than 0")
    cm = L.sp_cm(L.length_sp(value))
    if cm <= minimum_cm:
        raise ValueError(f"must be more than {minimum_cm:.2f}cm{why}" if minimum_cm else "must be more than 0")
    if cm > MAX_LENGTH_CM:
        raise ValueError(f"must be at most {MAX_LENGTH_CM:.0f}cm")
    return value


def _check_box_height(value: str | None) -> str | None:
    return _check_length(value, minimum_cm=BOX_FRAME_CM,
                         why=f" (an answer box's frame and padding take {BOX_FRAME_CM:.2f}cm)")


def _check_points(value: float) -> float:
    if abs(value * 2 - round(value * 2)) > 1e-9:
        raise ValueError("points must be a whole or half number")
    return value


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class PartSpec(_Strict):
    """A sub-question: its own answer box (and Gradescope region) below the question."""

    label: str = Field(pattern=r"^[a-z0-9]{1,3}$")  # printed as "(a)"
    box_height: str = "3cm"
    points: float = Field(gt=0, le=1000)

    @field_validator("box_height")
    @classmethod
    def _length(cls, value: str) -> str:
        return _check_box_height(value)

    @field_validator("points")
    @classmethod
    def _whole_or_half(cls, value: float) -> float:
        return _check_points(value)

    @property
    def points_label(self) -> str:
        return _label(self.points)


class QuestionSpec(_Strict):
    """One slot of the exam: a question type (`generator`) or a pool of them (`pool`)."""

    generator: str | None = None
    pool: list[str] | str | None = None  # ids or globs ("concepts.memory.*"): one member per student
    form: Literal["free", "mc", "tf", "multi"] | None = None  # default: each type's first form
    kind: str | int | None = None  # the kind every student gets (default: drawn once per slot); "any": varies
    points: float = Field(gt=0, le=1000)
    params: dict[str, Any] | None = None  # fixed params: every student gets these numbers
    overrides: dict[str, Any] | None = None  # replace some sampled fields
    ranges: dict[str, Any] | None = None  # difficulty ranges (see `examforge list --format json`)
    box_height: str | None = None  # answer box (free response: the box; mc/tf: the choices), e.g. "5cm"
    question_height: str | None = None  # the statement area above the box; default: measured
    parts: list[PartSpec] | None = Field(default=None, min_length=2, max_length=12)  # sub-question boxes
    parts_in_row: bool = False  # the part boxes side by side, in one row (short answers), as tall as the tallest
    new_page: bool = False  # start this question on a new page

    @field_validator("generator")
    @classmethod
    def _known_generator(cls, value: str | None) -> str | None:
        if value is not None and value not in registry.known_ids():
            raise ValueError(registry.unknown_id_message(value))
        return value

    @field_validator("pool")
    @classmethod
    def _known_members(cls, value):
        if value is None:
            return value
        patterns = [value] if isinstance(value, str) else value
        if not patterns:
            raise ValueError("a pool needs at least one id or glob")
        for pattern in patterns:
            if not registry.matching(pattern):
                if any(ch in pattern for ch in "*?["):
                    raise ValueError(f"the glob {pattern!r} matches no question id")
                raise ValueError(registry.unknown_id_message(pattern))
        return value

    @field_validator("box_height")
    @classmethod
    def _box(cls, value: str | None) -> str | None:
        return _check_box_height(value)

    @field_validator("question_height")
    @classmethod
    def _statement(cls, value: str | None) -> str | None:
        return _check_length(value)

    @field_validator("points")
    @classmethod
    def _whole_or_half(cls, value: float) -> float:
        return _check_points(value)

    @property
    def members(self) -> list[str]:
        """The ids this slot draws from (one for a generator), in the order given, without repeats."""
        if self.generator is not None:
            return [self.generator]
        out: list[str] = []
        for pattern in [self.pool] if isinstance(self.pool, str) else (self.pool or []):
            glob = any(ch in pattern for ch in "*?[")
            for type_id in registry.matching(pattern):
                if glob and self.form is not None and self.form not in registry.get(type_id).forms:
                    continue  # a glob takes the questions that offer the slot's form
                if type_id not in out:
                    out.append(type_id)
        return out

    @property
    def label(self) -> str:
        """How messages name this slot's question: its id, or the pool."""
        if self.generator is not None:
            return self.generator
        return "pool " + (self.pool if isinstance(self.pool, str) else "[" + ", ".join(self.pool or []) + "]")

    def form_for(self, type_id: str) -> str:
        return self.form or registry.get(type_id).forms[0]

    @model_validator(mode="after")
    def _consistent(self):
        if (self.generator is None) == (self.pool is None):
            raise ValueError("give either 'generator' (one question type) or 'pool' (several), not both")
        if self.pool is not None:
            if not self.members:
                raise ValueError(f"pool: no question matching {self.pool!r} offers form {self.form!r}")
            for key in ("params", "overrides", "ranges"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' applies to one question type; a pool slot cannot have it")
        for type_id in self.members:
            qtype = registry.get(type_id)
            if self.kind is not None and self.kind != "any":
                from examforge.fairness import kinds_of

                if self.kind not in kinds_of(qtype):
                    kinds = ", ".join(map(str, kinds_of(qtype))) or "none: it asks one kind of question"
                    raise ValueError(f"kind {self.kind!r} is not a kind of {type_id}; its kinds are {kinds}")
            if self.form is not None and self.form not in qtype.forms:
                raise ValueError(
                    f"form {self.form!r} is not offered by {type_id}; choose one of {', '.join(qtype.forms)}"
                )
        if self.parts is not None:
            labels = [p.label for p in self.parts]
            if len(set(labels)) != len(labels):
                raise ValueError(f"parts: labels must be distinct, got {labels}")
            if abs(sum(p.points for p in self.parts) - self.points) > 1e-9:
                raise ValueError(
                    f"parts: their points add up to {_label(sum(p.points for p in self.parts))}, "
                    f"not the question's {self.points_label}"
                )
            if self.box_height is not None:
                raise ValueError("give box_height on each part, not on a question with parts")
            for type_id in self.members:
                _check_part_answers(registry.get(type_id), self.form_for(type_id), len(self.parts))
        if self.parts_in_row and (self.parts is None or len(self.parts) > 4):
            raise ValueError("parts_in_row: puts 2 to 4 parts side by side; "
                             + ("this question has no parts" if self.parts is None else f"it has {len(self.parts)}"))
        if self.params is not None and self.overrides is not None:
            raise ValueError("give either 'params' (fixed) or 'overrides' (partial), not both")
        if self.generator is not None:
            qtype = registry.get(self.generator)
            fields = set(qtype.Params.model_fields)
            for key in (self.overrides or {}):
                if key not in fields:
                    raise ValueError(
                        f"overrides: {key!r} is not a parameter of {self.generator}; "
                        f"its parameters are {', '.join(sorted(fields))}"
                    )
            # ranges are checked by load_spec, which can name the file and the question (and by draw)
        return self

    @property
    def points_label(self) -> str:
        return _label(self.points)


def _check_part_answers(qtype, form: str, count: int) -> None:
    """A question asked in parts needs a type that answers each part (its key fills every part's
    box), with as many answers as the spec has parts."""
    labels = qtype.part_labels
    if form != "free":
        raise ValueError(f"parts: only a free-response question (form: free) is asked in parts, not form {form!r}")
    if not labels:
        asked = [t.id for t in registry.all_types() if t.part_labels]
        raise ValueError(
            f"parts: {qtype.id} gives one answer, not one per part, so its key cannot fill {count} part boxes; "
            f"remove parts: or use a type asked in parts ({', '.join(asked) or 'none'})"
        )
    if len(labels) != count:
        raise ValueError(
            f"parts: {qtype.id} answers {len(labels)} parts ({', '.join(labels)}), the spec has {count}"
        )


class SectionSpec(_Strict):
    title: Printed = Field(min_length=1, max_length=200)
    instructions: Printed | None = Field(default=None, max_length=2000)
    questions: list[QuestionSpec] = Field(min_length=1)
    new_page: bool = False  # start the section on a new page
    # print the setup its questions share (a type's `% examforge:setup` text, the same for every
    # variant) once under the heading, and each statement without it
    shared_setup: bool = False

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)


class LayoutSpec(_Strict):
    """The physical layout every student shares (see examforge.layout)."""

    paper: Literal["a4", "letter"] = "letter"  # what most Gradescope users print; a4 on request
    duplex: bool = False  # pad to an even page count for double-sided printing
    qr: bool = False  # a QR code on every exam page: exam, student and page


class ExamSpec(_Strict):
    question_dirs: list[str] = Field(default_factory=list)  # folders of the instructor's questions
    title: Printed = Field(min_length=1, max_length=200)
    course: Printed = Field(default="", max_length=200)
    date: Printed = Field(default="", max_length=100)
    seed: int = Field(ge=0, lt=2**63)
    instructions: list[Printed] = Field(default_factory=list)
    sections: list[SectionSpec] = Field(min_length=1)
    layout: LayoutSpec = Field(default_factory=LayoutSpec)

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        return str(value) if value is not None and not isinstance(value, str) else value

    @property
    def total_points(self) -> float:
        return sum(s.points for s in self.sections)

    def slots(self) -> list[tuple[int, int, QuestionSpec]]:
        """(slot index, section index, question) in exam order; slot indices seed the draws."""
        out, slot = [], 0
        for s_index, section in enumerate(self.sections):
            for question in section.questions:
                out.append((slot, s_index, question))
                slot += 1
        return out


def load_spec(path: str | Path, data: bytes | None = None) -> ExamSpec:
    """The spec in `path` (or in `data`, its bytes, when the caller read them already)."""
    path = Path(path)
    if data is None:
        data = read_input(path, what="spec", limit=MAX_SPEC_BYTES)
    document = parse_yaml(decode_text(data, path, what="spec"), path)
    if not isinstance(document, dict):
        raise InputError(f"{path}: the spec must be a YAML mapping with title, seed and sections")
    load_question_dirs(document.get("question_dirs"), path)
    try:
        spec = ExamSpec.model_validate(document)
    except ValidationError as err:
        raise InputError(describe_validation_error(err, where=str(path))) from None
    _check_questions(spec, path)
    return spec


def load_question_dirs(dirs: Any, spec_path: Path) -> None:
    """Load the spec's `question_dirs` (relative to the spec file) before its questions are checked."""
    if dirs is None:
        return
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs):
        raise InputError(f"{spec_path}: field 'question_dirs': value {dirs!r}: a list of folder names")
    registry.load_all()
    for index, name in enumerate(dirs):
        folder = (spec_path.parent / name)
        if not folder.is_dir():
            raise InputError(f"{spec_path}: field 'question_dirs[{index}]': value {name!r}: "
                             f"no such folder ({folder})")
        registry.load_folder(folder)


def _check_questions(spec: ExamSpec, path: Path) -> None:
    """Fixed params and difficulty ranges, each error naming the file and the question."""
    from examforge.variant import validate_params, validate_ranges

    number = 0
    for s_index, section in enumerate(spec.sections):
        for q_index, q in enumerate(section.questions):
            number += 1
            if q.ranges is not None and q.generator is not None:
                validate_ranges(registry.get(q.generator), q.ranges,
                                where=f"{path}: sections[{s_index}].questions[{q_index}] (question {number}, "
                                      f"{q.generator})")
            if q.params is not None:
                validate_params(
                    registry.get(q.generator), q.params, where=str(path),
                    prefix=f"sections[{s_index}].questions[{q_index}].params",
                )
