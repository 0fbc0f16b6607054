"""`examforge scan`: read a scanned stack back into students, marks and scores.

Every page is identified by its QR code (`EF|<exam code>|<student id>|<page>/<n>`, read with
zxing-cpp), whatever the order of the stack and whichever way up the page went through the
scanner. The code's four corners, whose place on the page the build knows, give the page's
rotation, scale and offset; each answer box's frame, found near where that predicts, then pins
the box down to a pixel, so a page turned by 180 degrees or skewed by a few degrees is read at
the positions LaTeX recorded for that student's bubbles (gradescope/marks.json).

A bubble is read from the darkness inside its printed ring: a filled circle, a cross or a tick
puts dark ink there; an untouched bubble stays white; a light stray line barely changes it. What
is neither clearly marked nor clearly blank (an erased-looking grey smudge, a faint or tiny mark)
is flagged for review, never guessed.

Outputs, in --out: students/<id>.pdf (each student's pages in order, a placeholder page where a
page is missing, ready to upload to Gradescope), scores.csv, items.csv, review.pdf (every flagged
box, cropped) and report.txt / report.json (missing, duplicate, unreadable and foreign pages)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from examforge.errors import InputError

DPI = 200  # PDF pages are rasterised at this resolution
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PAGE_IN = 20.0  # a scanned page larger than this (inches) is refused
MAX_IMAGE_PIXELS = 60_000_000  # Pillow refuses larger images (decompression bombs)
TARGET_PX_PER_PT = DPI / 72.0  # images much finer than this are reduced first (speed)

# Reading a bubble: darkness d = 1 - grey / paper white, inside a disk of INNER x the glyph's half
# width (the printed ring lies at about 0.86).
INNER = 0.55
DARK = 0.5  # a pixel this dark is ink
MARKED_INK = 0.20  # at least this share of the disk in ink: marked (a fill, a cross, a tick)
FAINT_INK = 0.05  # some ink, but less than a mark: flagged
SMUDGE_MEAN = 0.12  # grey without ink (an erased mark): flagged
RULE_PT = 0.8  # the frame rule of answer boxes (examforge.layout.BOX_RULE_PT)

Progress = Callable[[str, int, int], None]


# -- inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRef:
    """One scanned page: a page of a PDF or an image file."""

    path: str
    index: int  # page in the PDF (0-based); 0 for an image
    kind: str  # "pdf" or "image"

    @property
    def label(self) -> str:
        return f"{self.path} page {self.index + 1}" if self.kind == "pdf" else self.path


def collect_inputs(paths: list[Path]) -> list[PageRef]:
    """Every page of the given PDFs, images and folders (a folder's PDFs and images in name
    order), in the order given."""
    refs: list[PageRef] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".pdf",) + IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{path}: no PDF, PNG or JPEG files in this folder")
            refs += collect_inputs(files)
        elif not path.exists():
            raise InputError(f"{path}: no such file or folder")
        elif path.suffix.lower() == ".pdf":
            refs += [PageRef(str(path), i, "pdf") for i in range(_pdf_pages(path))]
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            refs.append(PageRef(str(path), 0, "image"))
        else:
            raise InputError(f"{path}: not a PDF, PNG or JPEG file")
    return refs


def _pdf_pages(path: Path) -> int:
    """The page count (qpdf: PDFium is loaded by the reading processes only)."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except (pikepdf.PdfError, OSError) as err:
        raise InputError(f"{path}: not a readable PDF ({err})") from None


# -- the build's side ----------------------------------------------------------------------------------


@dataclass
class BuildInfo:
    """What a scan needs from a build: gradescope/marks.json and the roster of manifest.json."""

    marks: dict
    students: dict[str, dict]  # id -> marks of that student (questions with bubbles)
    names: dict[str, str]
    order: list[str]  # roster order
    titles: dict[int, str]  # question number -> generator id

    @classmethod
    def load(cls, build_dir: Path) -> "BuildInfo":
        build_dir = Path(build_dir)
        try:
            marks = json.loads((build_dir / "gradescope" / "marks.json").read_text(encoding="utf-8"))
            manifest = json.loads((build_dir / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise InputError(f"{build_dir}: not an examforge build with bubble positions (missing {err.filename}); "
                             "build it again with this examforge") from None
        except (OSError, ValueError) as err:
            raise InputError(f"{build_dir}: cannot read the build ({err})") from None
        if not marks.get("qr"):
            raise InputError(f"{build_dir}: this exam has no QR codes (set `layout: {{qr: true}}` in the spec and build "
                             "again): its pages cannot be identified")
        students = {s["id"]: s for s in marks["students"]}
        names = {s["id"]: s["name"] for s in manifest["students"]}
        titles = {q["number"]: q["generator"] for q in manifest["students"][0]["questions"]} if manifest["students"] else {}
        return cls(marks, students, names, [s["id"] for s in manifest["students"]], titles)


# -- geometry ----------------------------------------------------------------------------------------


def _pt(sp: float) -> float:
    return sp / 65536.0


class Similarity:
    """Page points (x right, y down from the top-left corner) -> image pixels:
    (x, y) -> (a x - b y + tx, b x + a y + ty)."""

    def __init__(self, a: float, b: float, tx: float, ty: float):
        self.a, self.b, self.tx, self.ty = a, b, tx, ty

    @classmethod
    def fit(cls, src: np.ndarray, dst: np.ndarray) -> "Similarity":
        rows, rhs = [], []
        for (x, y), (u, v) in zip(src, dst):
            rows += [[x, -y, 1, 0], [y, x, 0, 1]]
            rhs += [u, v]
        a, b, tx, ty = np.linalg.lstsq(np.array(rows, float), np.array(rhs, float), rcond=None)[0]
        return cls(a, b, tx, ty)

    @property
    def scale(self) -> float:
        return math.hypot(self.a, self.b)

    @property
    def angle(self) -> float:
        return math.atan2(self.b, self.a)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, float)
        x, y = pts[..., 0], pts[..., 1]
        return np.stack([self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty], axis=-1)

    def direction(self, vec) -> np.ndarray:
        x, y = vec
        d = np.array([self.a * x - self.b * y, self.b * x + self.a * y])
        return d / np.linalg.norm(d)


def _sample(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear sampling; points outside the image read as white."""
    h, w = img.shape
    inside = (xs >= 0) & (ys >= 0) & (xs <= w - 2) & (ys <= h - 2)
    xs, ys = np.clip(xs, 0, w - 2), np.clip(ys, 0, h - 2)
    x0, y0 = xs.astype(np.intp), ys.astype(np.intp)
    fx, fy = xs - x0, ys - y0
    v = (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x0 + 1] * fx * (1 - fy)
         + img[y0 + 1, x0] * (1 - fx) * fy + img[y0 + 1, x0 + 1] * fx * fy)
    return np.where(inside, v, 255.0)


EDGE_TILT_MAX = math.sin(math.radians(2.0))  # a fitted rule this far off the page's angle is not trusted


def _edge_line(img, sim: Similarity, p0, p1, normal, white: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The frame rule running from page point p0 to p1 (its centre line), found within a band
    across it: the band is cut into segments, each segment's mean profile across the rule peaks
    at the rule (a rule is dark all along; text is not), and a line is fitted through the
    peaks, robustly. Returns (a point on the line, its direction) in image pixels, or None."""
    a, b = sim(np.array([p0, p1]))
    length = float(np.linalg.norm(b - a))
    along = (b - a) / length
    across = sim.direction(normal)
    reach = max(12.0, 10.0 * sim.scale)  # pixels either side: ~10 pt
    ts = np.arange(-reach, reach + 0.01, 0.5)
    n_seg = 8
    ss = np.linspace(0.06 * length, 0.94 * length, n_seg * 12)
    grid_x = a[0] + ss[:, None] * along[0] + ts[None, :] * across[0]
    grid_y = a[1] + ss[:, None] * along[1] + ts[None, :] * across[1]
    dark = 1.0 - _sample(img, grid_x.ravel(), grid_y.ravel()).reshape(grid_x.shape) / white
    points = []
    for seg in np.array_split(np.arange(len(ss)), n_seg):
        profile = dark[seg].mean(axis=0)
        k = int(np.argmax(profile))
        if profile[k] < 0.25:  # no rule here (covered, torn or off the page)
            continue
        lo, hi = max(0, k - 4), min(len(ts), k + 5)
        w = np.clip(profile[lo:hi] - 0.5 * profile[k], 0, None)
        t = float((ts[lo:hi] * w).sum() / w.sum())
        s = float(ss[seg].mean())
        points.append(a + s * along + t * across)
    if len(points) < 4:
        return None
    pts = np.array(points)
    for _ in range(2):  # fit, drop the points far from the line, fit again
        centre = pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts - centre)
        direction = vt[0]
        normal_img = np.array([-direction[1], direction[0]])
        residual = np.abs((pts - centre) @ normal_img)
        keep = residual <= max(1.5, 2.5 * float(np.median(residual)))
        if keep.all() or keep.sum() < 4:
            break
        pts = pts[keep]
    if abs(float(direction @ np.array([-along[1], along[0]]))) > EDGE_TILT_MAX:
        # A short rule (a one-line box's sides: 20 pt) gives a poor direction, and a frame's rule
        # runs as the page does (the QR code gives its angle): keep that, through the points.
        return np.median(pts, axis=0), along
    return centre, direction


def _intersect(l1, l2) -> np.ndarray | None:
    (p, d), (q, e) = l1, l2
    m = np.array([d, -e]).T
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    s, _ = np.linalg.solve(m, q - p)
    return p + s * d


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 affine map fitted from page points to image points."""
    a = np.hstack([src, np.ones((len(src), 1))])
    coef = np.linalg.lstsq(a, dst, rcond=None)[0]
    return coef.T


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, float)
    return pts @ m[:, :2].T + m[:, 2]


# -- reading one page ---------------------------------------------------------------------------------


_INFO: BuildInfo | None = None
_DPI = DPI


def _init_worker(build_dir: str, dpi: int) -> None:
    global _INFO, _DPI
    _INFO = BuildInfo.load(Path(build_dir))
    _DPI = dpi


_SCAN_PAGE = re.compile(rb"^\s*q\s+([\d.]+)\s+0\s+0\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+cm\s+/(\S+)\s+Do\s+Q\s*$")


def embedded_scan(pdf, index: int) -> np.ndarray | None:
    """The page's pixels as the scanner stored them, when the page is one image drawn over the
    whole page (what scanners write): decoding it costs a third of rasterising the page.
    None for any other page."""
    import pikepdf
    from PIL import Image

    try:
        page = pdf.pages[index]
        if int(page.obj.get("/Rotate", 0)) % 360:
            return None
        match = _SCAN_PAGE.match(page.obj.Contents.read_bytes() if not isinstance(page.obj.Contents, pikepdf.Array)
                                 else b"")
        if not match:
            return None
        w, h, x, y = (float(v) for v in match.groups()[:4])
        box = [float(v) for v in page.mediabox]
        if abs(x - box[0]) > 1 or abs(y - box[1]) > 1 or abs(w - (box[2] - box[0])) > 1 or abs(h - (box[3] - box[1])) > 1:
            return None
        xobject = page.obj.Resources.XObject.get("/" + match.group(5).decode("latin-1"))
        if xobject is None or xobject.get("/Subtype") != pikepdf.Name.Image:
            return None
        image = pikepdf.PdfImage(xobject)
        if image.width * image.height > MAX_IMAGE_PIXELS:
            return None
        return np.asarray(image.as_pil_image().convert("L"))
    except (pikepdf.PdfError, pikepdf.models.image.UnsupportedImageTypeError, NotImplementedError, ValueError,
            OSError, KeyError, AttributeError, Image.DecompressionBombError):
        return None


def load_pages(refs: list[PageRef], dpi: int):
    """(ref, grey image as uint8 array or an error message) for each page, in order; PDFs are
    opened once per run of pages from the same file. A page that is one scanned image is decoded
    as it is; any other page is rasterised at `dpi` (pypdfium2: faster than pdftoppm here, and
    no temporary files)."""
    import pikepdf
    import pypdfium2 as pdfium
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    pdf, pike, pdf_path = None, None, None
    try:
        for ref in refs:
            try:
                if ref.kind == "pdf":
                    if pdf_path != ref.path:
                        for doc in (pdf, pike):
                            if doc is not None:
                                doc.close()
                        pdf, pdf_path = pdfium.PdfDocument(ref.path), ref.path
                        try:
                            pike = pikepdf.open(ref.path)
                        except pikepdf.PdfError:
                            pike = None
                    direct = embedded_scan(pike, ref.index) if pike is not None else None
                    if direct is not None:
                        yield ref, direct
                        continue
                    page = pdf[ref.index]
                    w, h = page.get_size()
                    if max(w, h) > MAX_PAGE_IN * 72:
                        yield ref, f"the page is {w / 72:.1f} x {h / 72:.1f} in, larger than {MAX_PAGE_IN:.0f} in"
                        continue
                    bitmap = page.render(scale=dpi / 72.0, grayscale=True)
                    img = bitmap.to_numpy()
                    img = np.array(img if img.ndim == 2 else img[..., 0])
                    page.close()
                    yield ref, img
                else:
                    with Image.open(ref.path) as im:
                        if im.width * im.height > MAX_IMAGE_PIXELS:
                            yield ref, f"the image has {im.width} x {im.height} pixels, more than {MAX_IMAGE_PIXELS}"
                            continue
                        im = ImageOps.exif_transpose(im).convert("L")
                        yield ref, np.asarray(im)
            except (OSError, ValueError, Image.DecompressionBombError, pdfium.PdfiumError) as err:
                yield ref, f"cannot be read ({err})"
    finally:
        for doc in (pdf, pike):
            if doc is not None:
                doc.close()


def decode_qr(img: np.ndarray):
    """The examforge QR codes on a page, as (text, four corners: the symbol's top-left,
    top-right, bottom-right, bottom-left, in pixels); other codes as (text, None)."""
    import zxingcpp

    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:  # a second try with a global threshold (faint or uneven scans)
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode,
                                       binarizer=zxingcpp.Binarizer.GlobalHistogram)
    out = []
    for r in found:
        p = r.position
        corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)
        out.append((r.text, corners))
    return out


def parse_payload(text: str) -> tuple[str, str, int, int] | None:
    parts = text.split("|")
    if len(parts) != 4 or parts[0] != "EF":
        return None
    page, _, total = parts[3].partition("/")
    if not (page.isdigit() and total.isdigit()):
        return None
    return parts[1], parts[2], int(page), int(total)


def _reduce(img: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """An image much finer than DPI is reduced by an integer factor first."""
    factor = int(scale / (TARGET_PX_PER_PT * 1.4))
    if factor < 2:
        return img, 1.0
    from PIL import Image

    return np.asarray(Image.fromarray(img).reduce(factor)), float(factor)


def read_page(ref: PageRef, img, info: BuildInfo) -> dict:
    """Identify one page and read its bubbles. Returns a plain dict (crosses processes)."""
    if isinstance(img, str):
        return {"ref": ref, "status": "unreadable", "why": img}
    codes = decode_qr(img)
    ours = [(parse_payload(t), c) for t, c in codes]
    ours = [(p, c) for p, c in ours if p is not None]
    if not ours:
        if codes:
            return {"ref": ref, "status": "foreign", "why": f"its QR code reads {codes[0][0][:60]!r}, not an examforge page"}
        return {"ref": ref, "status": "unreadable", "why": "no QR code could be read"}
    (code, sid, page, total), corners = ours[0]
    marks = info.marks
    if code != marks["exam_code"]:
        return {"ref": ref, "status": "foreign", "why": f"a page of another exam (code {code}, this one is "
                                                        f"{marks['exam_code']}), student {sid} page {page}"}
    if sid not in info.students or total != marks["pages"] or not 1 <= page <= total:
        return {"ref": ref, "status": "foreign", "why": f"student {sid} page {page}/{total} is not in this build"}
    paper_h = _pt(marks["paper_sp"][1])
    x1, y1, x2, y2 = (_pt(v) for v in marks["qr_sp"])
    page_corners = np.array([[x1, paper_h - y2], [x2, paper_h - y2], [x2, paper_h - y1], [x1, paper_h - y1]])
    sim = Similarity.fit(page_corners, corners)
    img, factor = _reduce(img, sim.scale)
    if factor != 1.0:
        sim = Similarity.fit(page_corners, (corners + 0.5) / factor - 0.5)
    upside_down = abs(sim.angle) > math.pi / 2
    result = {"ref": ref, "status": "ok", "student": sid, "page": page, "upside_down": upside_down,
              "angle": math.degrees(sim.angle), "scale_dpi": sim.scale * 72.0, "questions": {}}
    questions = [q for q in info.students[sid]["questions"] if q["options"][next(iter(q["options"]))][0] == page]
    white = float(np.percentile(img[:: 8, :: 8], 90)) or 255.0
    for q in questions:
        box = read_box(img, sim, q, marks, paper_h, white, upside_down)
        box["verdict"] = decide(q, box)
        if box["verdict"]["flag"]:
            box["png"] = _crop_png(img, box["crop"], upside_down)
        result["questions"][q["number"]] = box
    return result


def _crop_png(img: np.ndarray, bounds, upside_down: bool) -> bytes:
    from PIL import Image

    x0, y0, x1, y1 = bounds
    crop = Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1]))
    if upside_down:
        crop = crop.rotate(180)
    buf = io.BytesIO()
    crop.save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def read_box(img, sim: Similarity, q: dict, marks: dict, paper_h: float, white: float, upside_down: bool) -> dict:
    """Locate the box's frame and read each bubble. Returns the state of each option
    (marked / blank / doubtful) with its measurements, and a crop of the box when in doubt."""
    page, bx1, by1, bx2, by2 = marks["boxes"][q["box"]]
    inset = RULE_PT / 2
    left, right = _pt(bx1) + inset, _pt(bx2) - inset
    top, bottom = paper_h - _pt(by1) + inset, paper_h - _pt(by2) - inset
    edges = [
        _edge_line(img, sim, (left, top), (right, top), (0, 1), white),
        _edge_line(img, sim, (right, top), (right, bottom), (1, 0), white),
        _edge_line(img, sim, (right, bottom), (left, bottom), (0, 1), white),
        _edge_line(img, sim, (left, bottom), (left, top), (1, 0), white),
    ]
    nominal = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    found = None
    if all(e is not None for e in edges):
        corners = [_intersect(edges[i - 1], edges[i]) for i in range(4)]  # tl, tr, br, bl
        if all(c is not None for c in corners):
            found = np.array(corners)
    predicted = sim(nominal)
    registered = False
    if found is not None:
        # The frame must be where the QR code says, give or take, and keep its shape.
        drift = np.abs(found - predicted).max()
        sides = np.linalg.norm(found - np.roll(found, -1, axis=0), axis=1)
        expected = np.linalg.norm(predicted - np.roll(predicted, -1, axis=0), axis=1)
        if drift < 12 * sim.scale + 10 and np.all(np.abs(sides / expected - 1) < 0.03):
            registered = True
    transform = _affine(nominal, found if registered else predicted)
    radius = _pt(marks["bubble_radius_sp"]) * sim.scale
    options = {}
    for letter, (_, x, y) in q["options"].items():
        centre = _apply(transform, np.array([[_pt(x), paper_h - _pt(y)]]))[0]
        options[letter] = read_bubble(img, centre, radius, white)
    crop_box = _bounds(found if registered else predicted, img.shape, pad=6 * sim.scale)
    return {"registered": registered, "options": options, "crop": crop_box, "upside_down": upside_down}


def read_bubble(img, centre, radius: float, white: float) -> dict:
    r_in = INNER * radius
    n = max(5, int(math.ceil(r_in)))
    offsets = np.arange(-n, n + 1, 0.5)
    gx, gy = np.meshgrid(offsets, offsets)
    inside = gx ** 2 + gy ** 2 <= r_in ** 2
    values = _sample(img, centre[0] + gx[inside], centre[1] + gy[inside])
    dark = np.clip(1.0 - values / white, 0.0, 1.0)
    ink = float((dark >= DARK).mean())
    mean = float(dark.mean())
    if ink >= MARKED_INK:
        state = "marked"
    elif ink >= FAINT_INK or mean >= SMUDGE_MEAN:
        state = "doubtful"
    else:
        state = "blank"
    return {"state": state, "ink": round(ink, 3), "mean": round(mean, 3)}


def _bounds(corners: np.ndarray, shape, *, pad: float) -> tuple[int, int, int, int]:
    h, w = shape
    x0, y0 = corners.min(axis=0) - pad
    x1, y1 = corners.max(axis=0) + pad
    return (max(0, int(x0)), max(0, int(y0)), min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))


def _read_chunk(refs: list[PageRef]) -> list[dict]:
    """A worker's task: read pages in order."""
    return [read_page(ref, img, _INFO) for ref, img in load_pages(refs, _DPI)]


# -- scoring ---------------------------------------------------------------------------------------------


def score_marked(marked: set[str], correct: set[str], points: float, *, form: str, scoring: str) -> float:
    """Points for a set of marked letters. One-answer questions (mc, tf): full points for exactly
    the correct letter, else 0. Select-all questions: 'all_or_nothing' gives full points for
    exactly the correct set; 'partial' gives max(0, right - wrong) / n_correct x points, where
    right counts the correct options marked and wrong the incorrect ones marked."""
    if form != "multi" or scoring == "all_or_nothing":
        return float(points) if marked == correct else 0.0
    right, wrong = len(marked & correct), len(marked - correct)
    return max(0, right - wrong) / len(correct) * float(points)


def decide(q: dict, box: dict) -> dict:
    """The marked letters, the points and a flag (empty when the reading is clear), for one
    question (its entry in marks.json) and what was read in its box."""
    states = {letter: o["state"] for letter, o in box["options"].items()}
    marked = sorted(letter for letter, s in states.items() if s == "marked")
    doubtful = sorted(letter for letter, s in states.items() if s == "doubtful")
    flags = []
    if not box["registered"]:
        flags.append("box frame not found")
    if doubtful:
        flags.append("doubtful mark at " + ",".join(doubtful))
    if len(marked) > 1 and q["form"] != "multi":
        flags.append("several marks")
    points = None
    if not doubtful and box["registered"]:
        points = score_marked(set(marked), set(q["correct"]), q["points"], form=q["form"], scoring=q["scoring"])
    elif len(marked) > 1 and q["form"] != "multi" and box["registered"]:
        points = 0.0  # several marks on a one-answer question score nothing, doubt or not
    return {"marked": marked, "points": points, "flag": "; ".join(flags)}


# -- the whole stack ------------------------------------------------------------------------------------


@dataclass
class ScanReport:
    pages: int = 0
    identified: int = 0
    students: int = 0
    absent: list[str] = field(default_factory=list)
    missing: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[tuple[str, int, str, str]] = field(default_factory=list)  # sid, page, kept, duplicate
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[tuple[str, str]] = field(default_factory=list)
    flagged: int = 0
    upside_down: int = 0
    items: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"scanned {self.pages} pages: {self.identified} identified ({self.upside_down} upside down), "
               f"{self.students} students; {len(self.missing)} missing, {len(self.duplicates)} duplicate, "
               f"{len(self.unreadable)} unreadable, {len(self.foreign)} foreign pages; {self.flagged} boxes to review"]
        out += [f"missing: student {sid} page {page}" for sid, page in self.missing]
        out += [f"duplicate: student {sid} page {page}: {dup} (kept {kept})" for sid, page, kept, dup in self.duplicates]
        out += [f"unreadable: {where}: {why}" for where, why in self.unreadable]
        out += [f"foreign: {where}: {why}" for where, why in self.foreign]
        out += [f"absent: student {sid} (no page scanned)" for sid in self.absent]
        return out

    def to_json(self) -> dict:
        return {
            "pages": self.pages, "identified": self.identified, "students": self.students,
            "upside_down": self.upside_down, "flagged": self.flagged, "absent": self.absent,
            "missing": [{"student": s, "page": p} for s, p in self.missing],
            "duplicates": [{"student": s, "page": p, "kept": k, "duplicate": d} for s, p, k, d in self.duplicates],
            "unreadable": [{"page": w, "why": y} for w, y in self.unreadable],
            "foreign": [{"page": w, "why": y} for w, y in self.foreign],
        }


def _chunks(refs: list[PageRef], size: int) -> list[list[PageRef]]:
    return [refs[i:i + size] for i in range(0, len(refs), size)]


def scan(inputs: list[Path], build_dir: Path, out_dir: Path, *, jobs: int | None = None, dpi: int = DPI,
         progress: Progress | None = None) -> ScanReport:
    progress = progress or (lambda *_: None)
    info = BuildInfo.load(build_dir)
    if Path(out_dir).resolve() == Path(build_dir).resolve():
        raise InputError(f"{out_dir}: the scan's --out must not be the build folder (its students/ would be replaced)")
    refs = collect_inputs(inputs)
    if not refs:
        raise InputError("no pages to scan")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(refs)))
    chunk = max(1, min(16, -(-len(refs) // (4 * jobs))))
    results: list[dict] = []
    tasks = _chunks(refs, chunk)
    if jobs == 1:
        _init_worker(str(build_dir), dpi)
        for task in tasks:
            results += _read_chunk(task)
            progress("reading", len(results), len(refs))
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(str(build_dir), dpi)) as pool:
            for part in pool.map(_read_chunk, tasks):
                results += part
                progress("reading", len(results), len(refs))
    return _assemble(info, refs, results, out_dir, dpi)


def _assemble(info: BuildInfo, refs: list[PageRef], results: list[dict], out_dir: Path, dpi: int) -> ScanReport:
    report = ScanReport(pages=len(refs))
    n_pages = info.marks["pages"]
    kept: dict[tuple[str, int], dict] = {}
    for r in results:
        if r["status"] == "unreadable":
            report.unreadable.append((r["ref"].label, r["why"]))
        elif r["status"] == "foreign":
            report.foreign.append((r["ref"].label, r["why"]))
        else:
            report.identified += 1
            report.upside_down += r["upside_down"]
            key = (r["student"], r["page"])
            if key in kept:
                report.duplicates.append((*key, kept[key]["ref"].label, r["ref"].label))
            else:
                kept[key] = r
    present = [sid for sid in info.order if any((sid, p) in kept for p in range(1, n_pages + 1))]
    report.students = len(present)
    report.absent = [sid for sid in info.order if sid not in present]
    report.missing = [(sid, p) for sid in present for p in range(1, n_pages + 1) if (sid, p) not in kept]
    _write_student_pdfs(info, present, kept, n_pages, out_dir / "students", dpi)
    rows, review = _score_rows(info, kept)
    report.flagged = len(review)
    _write_csv(out_dir / "scores.csv", rows, ["id", "question", "marked", "points", "max_points", "flag"])
    report.items = item_analysis(info, rows, kept)
    _write_csv(out_dir / "items.csv", report.items, ["question", "form", "what", "count", "fraction"])
    _write_review(info, review, out_dir / "review.pdf")
    (out_dir / "report.txt").write_text("\n".join(report.lines()) + "\n", encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
    return report


def _fmt_points(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _score_rows(info: BuildInfo, kept: dict) -> tuple[list[dict], list[dict]]:
    rows, review = [], []
    for sid in info.order:
        for q in info.students[sid]["questions"]:
            page = q["options"][next(iter(q["options"]))][0]
            r = kept.get((sid, page))
            row = {"id": sid, "question": q["number"], "max_points": _fmt_points(q["points"])}
            if r is None:
                absent = not any((sid, p) in kept for p in range(1, info.marks["pages"] + 1))
                rows.append({**row, "marked": "", "points": "", "flag": "absent" if absent else f"page {page} missing"})
                continue
            box = r["questions"][q["number"]]
            v = box["verdict"]
            rows.append({**row, "marked": ",".join(v["marked"]), "points": _fmt_points(v["points"]), "flag": v["flag"]})
            if v["flag"]:
                review.append({"id": sid, "question": q["number"], "form": q["form"], "flag": v["flag"],
                               "marked": ",".join(v["marked"]) or "none", "page": page, "png": box.get("png"),
                               "source": r["ref"].label})
    return rows, review


def item_analysis(info: BuildInfo, rows: list[dict], kept: dict) -> list[dict]:
    """Per question, over the students whose box was read without doubt: the share that got it
    right, left it blank or marked several options, and how often each named mistake was chosen
    (a wrong option marked stands for its mistake)."""
    by_q: dict[int, list[tuple[dict, dict]]] = defaultdict(list)
    marks_of = {sid: {q["number"]: q for q in info.students[sid]["questions"]} for sid in info.order}
    for row in rows:
        if row["points"] == "":
            continue
        by_q[row["question"]].append((row, marks_of[row["id"]][row["question"]]))
    items = []
    for number in sorted(by_q):
        pairs = by_q[number]
        n = len(pairs)
        form = pairs[0][1]["form"]
        counts: Counter = Counter()
        for row, q in pairs:
            marked = set(row["marked"].split(",")) - {""}
            if float(row["points"]) == float(q["points"]):
                counts["correct"] += 1
            if not marked:
                counts["blank"] += 1
            if len(marked) > 1 and form != "multi":
                counts["several marks"] += 1
            for letter in sorted(marked):
                if letter in q["mistakes"]:
                    counts[f"mistake:{q['mistakes'][letter]}"] += 1
        items.append({"question": number, "form": form, "what": "correct", "count": counts.pop("correct", 0),
                      "fraction": None})
        for what in ("blank", "several marks"):
            items.append({"question": number, "form": form, "what": what, "count": counts.pop(what, 0), "fraction": None})
        for what, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            items.append({"question": number, "form": form, "what": what, "count": count, "fraction": None})
        for item in items:
            if item["question"] == number:
                item["fraction"] = f"{item['count'] / n:.3f}" if n else ""
                item["students"] = n
    return items


def summary(report: ScanReport) -> list[str]:
    """One line per question: the share correct and the mistakes chosen most often."""
    lines = []
    by_q: dict[int, list[dict]] = defaultdict(list)
    for item in report.items:
        by_q[item["question"]].append(item)
    for number, items in by_q.items():
        correct = next(i for i in items if i["what"] == "correct")
        mistakes = [i for i in items if i["what"].startswith("mistake:") and i["count"]]
        text = ", ".join(f"{i['what'][8:]} {float(i['fraction']):.0%}" for i in mistakes[:4]) or "no named mistake"
        blank = next(i for i in items if i["what"] == "blank")
        lines.append(f"question {number} ({items[0]['form']}): {float(correct['fraction'] or 0):.0%} correct of "
                     f"{items[0].get('students', 0)}; {text}" + (f"; blank {blank['count']}" if blank["count"] else ""))
    return lines


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


# -- PDFs ---------------------------------------------------------------------------------------------


def _placeholder(pdf, width: float, height: float, text: str):
    import pikepdf

    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    safe = text.encode("ascii", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    content = b"BT /F1 14 Tf 72 %.1f Td (%s) Tj ET" % (height - 100, safe)
    page = pikepdf.Page(pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, width, height],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=pdf.make_stream(content)))
    return page


def _write_student_pdfs(info: BuildInfo, present: list[str], kept: dict, n_pages: int, folder: Path, dpi: int) -> None:
    """Each student's scanned pages in order, turned the right way up; a page that was not found
    is a placeholder page saying so, so the pages line up with Gradescope's template."""
    import pikepdf
    from PIL import Image, ImageOps

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    w_pt, h_pt = (_pt(v) * 72 / 72.27 for v in info.marks["paper_sp"])
    sources: dict[str, pikepdf.Pdf] = {}
    try:
        for sid in present:
            out = pikepdf.new()
            for page in range(1, n_pages + 1):
                r = kept.get((sid, page))
                if r is None:
                    out.pages.append(_placeholder(out, w_pt, h_pt, f"examforge scan: page {page} of {n_pages} of "
                                                                 f"student {sid} was not found in the scanned stack"))
                    continue
                ref = r["ref"]
                if ref.kind == "pdf":
                    if ref.path not in sources:
                        sources[ref.path] = pikepdf.open(ref.path)
                    out.pages.append(sources[ref.path].pages[ref.index])
                    if r["upside_down"]:
                        out.pages[-1].rotate(180, relative=True)
                else:
                    with Image.open(ref.path) as im:
                        im = ImageOps.exif_transpose(im).convert("L")
                        if r["upside_down"]:
                            im = im.rotate(180)
                        buf = io.BytesIO()
                        im.save(buf, "PDF", resolution=r["scale_dpi"])
                    single = pikepdf.open(io.BytesIO(buf.getvalue()))
                    out.pages.append(single.pages[0])
            out.save(folder / f"{sid}.pdf", static_id=True)
            out.close()
    finally:
        for pdf in sources.values():
            pdf.close()


def _write_review(info: BuildInfo, review: list[dict], target: Path) -> None:
    """Every flagged box, cropped, with the student and the question, typeset by pdflatex."""
    from examforge.renderers.compile import run_pdflatex
    from examforge.graders import sheet_name
    from examforge.renderers.latex import Latex, escape, render

    with tempfile.TemporaryDirectory(prefix="examforge-review-") as tmp:
        items = []
        for k, item in enumerate(review):
            image = ""
            if item.get("png"):
                image = f"box{k:05d}.png"
                Path(tmp, image).write_bytes(item["png"])
            items.append({
                "student": Latex(escape(item["id"]) + " --- " + sheet_name(info.names.get(item["id"], ""))),
                "question": f"Question {item['question']} ({item['form']})", "flag": item["flag"],
                "marked": item["marked"], "source": item["source"], "image": image,
            })
        tex = render("review.tex.j2", items=items)
        path = Path(tmp) / "review.tex"
        path.write_text(tex, encoding="utf-8")
        pdf = run_pdflatex(path, rerun=False)
        shutil.copyfile(pdf, target)
