"""The one physical layout every student shares: paper, pages, question slots and answer boxes.

Everything here is decided from the spec (and from heights measured on fixed calibration seeds,
never on the roster), before any student is typeset. Heights are exact TeX lengths in scaled
points (sp), printed into the LaTeX as `...sp`, so the pages LaTeX builds are the pages planned
here: each page is one `\\vbox to \\textheight`, each slot a stack of boxes of fixed height.
Content that does not fit its box is reported by LaTeX and fails the build; nothing reflows."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from examforge.errors import InputError

SP_PER_PT = 65536
_UNIT_PT = {  # TeX's units; em/ex are those of the 11pt Latin Modern body font
    "pt": 1.0,
    "mm": 72.27 / 25.4,
    "cm": 72.27 / 2.54,
    "in": 72.27,
    "em": 10.95,
    "ex": 4.71451,
}
_LENGTH = re.compile(r"^(\d+(?:\.\d+)?)(cm|mm|in|pt|em|ex)$")

# Paper sizes in pt (TeX's 210mm x 297mm and 8.5in x 11in).
PAPERS = {"a4": (597.50787, 845.04684), "letter": (614.295, 794.96999)}
MARGIN_X_CM = 2.0
MARGIN_TOP_CM = 2.5
MARGIN_BOTTOM_CM = 2.5

# Fixed pieces of every page, in pt.
QUESTION_HEADER_PT = 0.0  # "Question 3 [8 points]" runs into the statement's first line, measured with it
STATEMENT_GAP_PT = 4.0  # between the statement area and the answer box
PART_GAP_PT = 4.0  # between the boxes of sub-questions
PART_COLUMN_GAP_PT = 10.0  # between part boxes side by side (parts_in_row)
SLOT_GAP_PT = 14.0  # after every question slot
HEADING_TITLE_PT = 26.0  # a section title line
HEADING_LINE_PT = 13.0  # one line of section instructions (\small)
HEADING_CHARS_PER_LINE = 80  # a safe estimate; LaTeX checks the real height
BOX_PAD_PT = 5.0  # inner padding of an answer box
BOX_RULE_PT = 0.8
SETUP_GAP_PT = 6.0  # above a section's shared setup, under its instructions

# How the options of a multiple-choice or select-all slot sit in its box, most compact first:
# all in one row, in two rows, one per line (examforge.renderers.exam.choice_columns).
# Calibration picks, per slot, the first in which no option of any calibration draw is wider
# than its cell; true/false is always one row ("True", "False" at their natural widths).
ARRANGEMENTS = ("row", "two-rows", "column")
DEFAULT_ARRANGEMENT = "column"  # without calibration: one option per line always fits

# Heights for types that calibration could not measure (fixed params need none).
FALLBACK_STATEMENT_CM = 5.0
FALLBACK_MC_BOX_CM = 4.0
FALLBACK_TF_BOX_CM = 1.4
FALLBACK_SETUP_CM = 6.0


def length_sp(text: str) -> int:
    """A LaTeX length such as '4cm' or '2.5in' in scaled points."""
    m = _LENGTH.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a LaTeX length such as '4cm', '30mm' or '2in'")
    return round(float(m.group(1)) * _UNIT_PT[m.group(2)] * SP_PER_PT)


def pt_sp(pt: float) -> int:
    return round(pt * SP_PER_PT)


def cm_sp(cm: float) -> int:
    return pt_sp(cm * _UNIT_PT["cm"])


def sp_cm(sp: int) -> float:
    return sp / SP_PER_PT / _UNIT_PT["cm"]


def sp(value: int) -> str:
    """A length for the LaTeX source."""
    return f"{int(value)}sp"


def round_up_cm(sp_value: float, step_cm: float = 0.25) -> int:
    """Round a height up to the next multiple of `step_cm` (layouts read better in round numbers)."""
    steps = math.ceil(sp_cm(sp_value) / step_cm - 1e-9)
    return cm_sp(steps * step_cm)


@dataclass(frozen=True)
class BoxPlan:
    """One answer region: a whole question's box, or one sub-question's."""

    name: str  # "q3", or "q3a" for part (a)
    label: str  # "" or "(a)"
    height: int  # sp, outer height including the frame
    points: str  # "" or a points label for a sub-question


@dataclass(frozen=True)
class SlotPlan:
    number: int  # question number, from 1
    slot: int
    section: int
    page: int  # from 1
    statement: int  # sp
    boxes: tuple[BoxPlan, ...]
    choices: str = DEFAULT_ARRANGEMENT  # how its options sit in its box (ARRANGEMENTS)
    in_row: bool = False  # its part boxes side by side, all as tall as the tallest

    @property
    def height(self) -> int:
        if self.in_row:
            parts = max(b.height for b in self.boxes)
        else:
            parts = sum(b.height for b in self.boxes) + pt_sp(PART_GAP_PT) * (len(self.boxes) - 1)
        return pt_sp(QUESTION_HEADER_PT) + self.statement + pt_sp(STATEMENT_GAP_PT) + parts + pt_sp(SLOT_GAP_PT)


@dataclass(frozen=True)
class HeadingPlan:
    section: int
    page: int
    height: int  # sp, with the shared setup of the section's questions (shared_setup)
    first_slot: int = 0  # the slot of the section's first question


@dataclass
class Layout:
    paper: str
    paper_w: int  # sp
    paper_h: int
    text_w: int
    text_h: int
    margin_x: int
    margin_top: int
    pages: list[list[SlotPlan | HeadingPlan]] = field(default_factory=list)  # question pages (2..)
    page_breaks: list[bool] = field(default_factory=list)  # per page: a new_page ended it
    n_pages: int = 1  # including the cover and any padding page
    qr: bool = False
    duplex: bool = False
    flow: bool = False  # a standalone document: natural heights, pages broken by TeX

    @property
    def slots(self) -> list[SlotPlan]:
        return [item for page in self.pages for item in page if isinstance(item, SlotPlan)]

    @property
    def padding_pages(self) -> int:
        return 0 if self.flow else self.n_pages - 1 - len(self.pages)

    def fill(self) -> list[float]:
        """How full each question page is: the height its headings and slots take, as a fraction
        of the text height (page 2 first; the cover and padding pages are not counted)."""
        return [sum(item.height for item in page) / self.text_h for page in self.pages]

    def underfilled(self, *, at_least: float = 0.5) -> list[int]:
        """The pages (numbers from 1, the cover being 1) filled less than `at_least`, except the
        last question page and a page whose next one starts with a new_page that asked for it."""
        out = []
        for index, fill in enumerate(self.fill()[:-1]):
            if fill < at_least and not self.page_breaks[index]:
                out.append(index + 2)
        return out

    def boxes(self) -> list[tuple[str, int]]:
        """(region name, page) for every answer region, in reading order, name and id first."""
        out = [("name", 1), ("sid", 1)]
        for slot in self.slots:
            out += [(b.name, slot.page) for b in slot.boxes]
        return out

    def to_json(self) -> dict:
        return {
            "paper": self.paper,
            "paper_pt": [self.paper_w / SP_PER_PT, self.paper_h / SP_PER_PT],
            "pages": self.n_pages,
            "qr": self.qr,
            "duplex": self.duplex,
            "slots": [
                {**asdict(s), "statement_cm": round(sp_cm(s.statement), 3),
                 "box_cm": [round(sp_cm(b.height), 3) for b in s.boxes]}
                for s in self.slots
            ],
        }


def geometry(paper: str) -> dict[str, int]:
    w, h = PAPERS[paper]
    mx, mt, mb = cm_sp(MARGIN_X_CM), cm_sp(MARGIN_TOP_CM), cm_sp(MARGIN_BOTTOM_CM)
    return {"paper_w": pt_sp(w), "paper_h": pt_sp(h), "margin_x": mx, "margin_top": mt,
            "text_w": pt_sp(w) - 2 * mx, "text_h": pt_sp(h) - mt - mb}


def heading_height(instructions: str | None) -> int:
    lines = math.ceil(len(instructions) / HEADING_CHARS_PER_LINE) if instructions else 0
    return pt_sp(HEADING_TITLE_PT + lines * HEADING_LINE_PT + (4 if lines else 0))


@dataclass(frozen=True)
class SlotHeights:
    """What a slot needs: the statement area and the answer boxes (one per part), in sp."""

    statement: int
    boxes: tuple[int, ...]
    choices: str = DEFAULT_ARRANGEMENT  # how options sit in the box (ARRANGEMENTS)
    setup: int = 0  # the first question of a section with shared_setup: the setup's height


def plan_layout(spec, heights: dict[int, SlotHeights], *, flow: bool = False) -> Layout:
    """Pack the spec's sections and questions onto pages, in order; a section heading stays on
    the page of its first question. Raises InputError when one question cannot fit on a page.
    With `flow`, everything goes in one run that TeX breaks into pages (heights become minimums):
    for standalone documents of arbitrary questions, not for a class."""
    layout = Layout(paper=spec.layout.paper, qr=spec.layout.qr and not flow, duplex=spec.layout.duplex and not flow,
                    flow=flow, **geometry(spec.layout.paper))
    page: list = []
    used = 0
    number = 0

    def new_page(asked: bool = False) -> None:
        nonlocal page, used
        if page:
            layout.pages.append(page)
            layout.page_breaks.append(asked)
        page, used = [], 0

    for s_index, section in enumerate(spec.sections):
        first_slot = sum(len(s.questions) for s in spec.sections[:s_index])
        head = heading_height(section.instructions)
        if section.shared_setup:
            head += heights[first_slot].setup + pt_sp(SETUP_GAP_PT)
        if section.new_page and not flow:
            new_page(asked=True)
        for q_index, q in enumerate(section.questions):
            number += 1
            slot_index = first_slot + q_index
            h = heights[slot_index]
            names = [f"q{number}"] if not q.parts else [f"q{number}{p.label}" for p in q.parts]
            labels = [""] if not q.parts else [f"({p.label})" for p in q.parts]
            points = [""] if not q.parts else [p.points_label for p in q.parts]
            box_heights = (max(h.boxes),) * len(h.boxes) if q.parts_in_row else h.boxes
            boxes = tuple(BoxPlan(n, l, b, pts) for n, l, b, pts in zip(names, labels, box_heights, points))
            draft = SlotPlan(number, slot_index, s_index, 0, h.statement, boxes, h.choices, q.parts_in_row)
            need = draft.height + (head if q_index == 0 else 0)
            if need > layout.text_h and not flow:
                raise InputError(
                    f"question {number} ({q.label}) needs {sp_cm(need):.1f}cm but a page has "
                    f"{sp_cm(layout.text_h):.1f}cm: lower its question_height or box_height, or split it into parts"
                )
            if (q.new_page or used + need > layout.text_h) and not flow:
                new_page(asked=q.new_page)
            page_no = len(layout.pages) + 2  # the cover is page 1
            if q_index == 0:
                page.append(HeadingPlan(s_index, page_no, head, first_slot))
                used += head
            page.append(SlotPlan(number, slot_index, s_index, page_no, h.statement, boxes, h.choices, q.parts_in_row))
            used += draft.height
    new_page()
    layout.n_pages = 0 if flow else 1 + len(layout.pages)
    if layout.duplex and layout.n_pages % 2:
        layout.n_pages += 1
    return layout
