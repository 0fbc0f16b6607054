"""A simulated scanner: a build's print/exams.pdf rendered to grey images, bubbles filled in by
hand-like marks (filled circles, crosses, ticks, an erased grey smudge, a light stray line), pages
turned upside down or skewed by a few degrees, shuffled, with noise and JPEG compression. Used by
the scan tests and benchmarks/scan_speed.py; no scanner needed."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MARKS = ("fill", "cross", "tick")  # count as marked
SP_PER_PT = 65536


@dataclass
class Sheet:
    student: str
    page: int  # from 1
    image: Image.Image


def render_print_file(build: Path, dpi: int):
    """Every page of print/exams.pdf as a grey image, with its student and page number, one at a
    time (a class's pages do not all fit in memory)."""
    import pypdfium2 as pdfium

    marks = json.loads((build / "gradescope" / "marks.json").read_text(encoding="utf-8"))
    n = marks["pages"]
    ids = [s["id"] for s in marks["students"]]
    pdf = pdfium.PdfDocument(str(build / "print" / "exams.pdf"))
    try:
        for i in range(len(pdf)):
            bitmap = pdf[i].render(scale=dpi / 72.0, grayscale=True)
            array = bitmap.to_numpy()
            yield Sheet(ids[i // n], i % n + 1, Image.fromarray(np.array(array if array.ndim == 2 else array[..., 0])))
    finally:
        pdf.close()


def bubble_px(marks: dict, option: list[int], dpi: int) -> tuple[float, float, float]:
    """(x, y, radius) of a bubble in the pixels of a page rendered at `dpi`, before any turn."""
    _, x, y = option
    scale = dpi / 72.27 / SP_PER_PT
    height = marks["paper_sp"][1] * scale
    return x * scale, height - y * scale, marks["bubble_radius_sp"] * scale


def draw_mark(image: Image.Image, x: float, y: float, r: float, kind: str, rng: np.random.Generator) -> None:
    """A hand-made mark on the bubble at (x, y) of glyph half-width r (pixels)."""
    d = ImageDraw.Draw(image)
    pen = max(2, round(r * 0.25))  # a ~0.5 mm pen at 200 dpi
    jx, jy = rng.uniform(-0.15, 0.15, 2) * r
    x, y = x + jx, y + jy
    if kind == "fill":
        rr = r * rng.uniform(0.7, 0.85)
        d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=int(rng.integers(20, 70)))
    elif kind == "cross":
        a = r * rng.uniform(0.8, 1.1)
        shade = int(rng.integers(10, 60))
        d.line([x - a, y - a, x + a, y + a], fill=shade, width=pen)
        d.line([x - a, y + a, x + a, y - a], fill=shade, width=pen)
    elif kind == "tick":
        shade = int(rng.integers(10, 60))
        d.line([x - 0.7 * r, y, x - 0.1 * r, y + 0.6 * r], fill=shade, width=pen)
        d.line([x - 0.1 * r, y + 0.6 * r, x + 0.9 * r, y - 0.9 * r], fill=shade, width=pen)
    elif kind == "smudge":  # an erased mark: grey, no ink left
        rr = r * 0.75
        d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=int(rng.integers(170, 195)))
    elif kind == "stray":  # a light pencil line brushing past
        d.line([x - 1.6 * r, y + 0.5 * r, x + 1.6 * r, y + 0.2 * r], fill=int(rng.integers(200, 225)), width=1)
    else:
        raise ValueError(kind)


def turn(image: Image.Image, degrees: float) -> Image.Image:
    """The page as a scanner delivers it turned by `degrees` (counter-clockwise), same size."""
    if degrees == 180:
        return image.rotate(180)
    return image.rotate(degrees, resample=Image.BICUBIC, fillcolor=255)


def degrade(image: Image.Image, rng: np.random.Generator, *, noise: float = 6.0, quality: int = 75,
            bw: bool = False) -> bytes:
    """Sensor noise, then JPEG (grey) or PNG (black and white, thresholded) bytes."""
    a = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (image.height, image.width))
    a = np.clip(a, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    if bw:
        Image.fromarray(np.where(a < 150, 0, 255).astype(np.uint8)).convert("1").save(buf, "PNG")
    else:
        Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_pdf(pages: list[bytes], target: Path, dpi: int) -> None:
    """Scanned pages (JPEG or PNG bytes) as one PDF, as a scanner writes it."""
    images = [Image.open(io.BytesIO(p)) for p in pages]
    images[0].save(target, "PDF", save_all=True, append_images=images[1:], resolution=dpi)


BEHAVIOURS = ("fill", "cross", "tick", "blank", "fill", "cross", "stray", "tick")


@dataclass
class Expected:
    """What a correct reading of the simulated stack gives."""

    scores: dict[tuple[str, int], dict]  # (student, question) -> marked, points, flag ("" / "doubtful" / ...)
    missing: list[tuple[str, int]]
    duplicates: list[tuple[str, int]]
    upside_down: int
    pages: int


def simulate(build: Path, *, dpi: int = 200, seed: int = 0, turns=(0, 180, 1.5, -2.5, 3.0, 0, 180, -1.0),
             smudges: int = 1, doubles: int = 1, drop: int = 1, duplicate: int = 1, bw_every: int = 0,
             quality: int = 75) -> tuple[list[bytes], Expected]:
    """A filled-in, scanned and shuffled stack of the build's exams: (page images as JPEG/PNG bytes,
    in stack order; what the scan must find). Each auto-graded question of each student gets a
    behaviour from BEHAVIOURS (a mark on a random option, blank, or a light stray line), except
    `smudges` erased marks and `doubles` double marks spread over the class; every page is turned
    by the next angle of `turns`; `drop` pages are left out and `duplicate` pages scanned twice."""
    marks = json.loads((build / "gradescope" / "marks.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(seed)
    questions = [(s["id"], q) for s in marks["students"] for q in s["questions"]]
    special = rng.permutation(len(questions))
    smudged = set(special[:smudges].tolist())
    doubled = set(special[smudges:smudges + doubles].tolist())
    expected: dict[tuple[str, int], dict] = {}
    strokes: dict[tuple[str, int], list[tuple[list[int], str, tuple[str, int]]]] = {}
    for k, (sid, q) in enumerate(questions):
        letters = list(q["options"])
        pick = letters[int(rng.integers(len(letters)))]
        if k in smudged:
            behaviour = "smudge"
        elif k in doubled:
            behaviour = "double"
        else:
            behaviour = BEHAVIOURS[k % len(BEHAVIOURS)]
        page = q["options"][pick][0]
        key = (sid, q["number"])
        todo = strokes.setdefault((sid, page), [])
        if behaviour in MARKS:
            todo.append((q["options"][pick], behaviour, key))
            right = pick in q["correct"]
            expected[sid, q["number"]] = {"marked": pick, "points": float(q["points"]) if right else 0.0, "flag": ""}
        elif behaviour in ("blank", "stray"):
            if behaviour == "stray":
                todo.append((q["options"][pick], "stray", key))
            expected[sid, q["number"]] = {"marked": "", "points": 0.0, "flag": ""}
        elif behaviour == "smudge":
            todo.append((q["options"][pick], "smudge", key))
            expected[sid, q["number"]] = {"marked": "", "points": None, "flag": "doubtful"}
        else:  # double
            other = next(letter for letter in letters if letter != pick)
            todo += [(q["options"][pick], "fill", key), (q["options"][other], "cross", key)]
            expected[sid, q["number"]] = {"marked": ",".join(sorted({pick, other})), "points": 0.0, "flag": "several"}
    pages, upside_down = [], 0
    for i, sheet in enumerate(render_print_file(build, dpi)):
        bw = bool(bw_every) and i % bw_every == bw_every - 1
        for option, kind, key in strokes.get((sheet.student, sheet.page), []):
            draw_mark(sheet.image, *bubble_px(marks, option, dpi), kind, rng)
            if kind == "smudge" and bw:  # black and white: the scanner's threshold took the grey away
                expected[key] = {"marked": "", "points": 0.0, "flag": ""}
        degrees = turns[i % len(turns)]
        upside_down += degrees == 180
        pages.append((sheet.student, sheet.page, degrade(turn(sheet.image, degrees), rng, quality=quality, bw=bw),
                      degrees == 180))
    order = rng.permutation(len(pages)).tolist()
    dropped = order[:drop]
    duplicated = order[drop:drop + duplicate]
    stack = [pages[i] for i in order[drop:]] + [pages[i] for i in duplicated]
    stack = [stack[i] for i in rng.permutation(len(stack))]
    missing = sorted((pages[i][0], pages[i][1]) for i in dropped)
    for sid, page in missing:
        for q in marks["students"][[s["id"] for s in marks["students"]].index(sid)]["questions"]:
            if q["options"][next(iter(q["options"]))][0] == page:
                expected[sid, q["number"]] = {"marked": "", "points": None, "flag": f"page {page} missing"}
    upside_down = sum(1 for s in stack if s[3])  # every page identified, duplicates too
    return [s[2] for s in stack], Expected(expected, missing, sorted((pages[i][0], pages[i][1]) for i in duplicated),
                                           upside_down, len(stack))


def check_scores(rows: list[dict], expected: Expected) -> list[str]:
    """Every way scores.csv differs from what the simulated marks say."""
    problems = []
    seen = set()
    for r in rows:
        key = (r["id"], int(r["question"]))
        seen.add(key)
        want = expected.scores.get(key)
        if want is None:
            problems.append(f"unexpected row {r}")
            continue
        points = float(r["points"]) if r["points"] else None
        if want["flag"] == "":
            if r["flag"] or r["marked"] != want["marked"] or points != want["points"]:
                problems.append(f"{key}: read {r['marked']!r} {r['points']!r} flag {r['flag']!r}, expected {want}")
        elif want["flag"] not in r["flag"] or (want["points"] is None and points is not None) \
                or (want["points"] is not None and points != want["points"]):
            problems.append(f"{key}: read {r['marked']!r} {r['points']!r} flag {r['flag']!r}, expected {want}")
    problems += [f"{key}: no row" for key in expected.scores if key not in seen]
    return problems
