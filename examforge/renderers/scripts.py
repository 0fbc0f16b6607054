"""Text in any script: what pdflatex prints itself, and what LuaLaTeX typesets once per build.

The exams are typeset by pdflatex, whose fonts (Latin Modern in the T1 and TS1 encodings, read
through the utf8 input encoding) print Latin text and little else. Names, titles and instructions
may be in any script, so each piece of user text takes one of two paths, decided per character
cluster (a character with the combining marks, joiners and variation selectors that follow it):

- pdflatex prints the cluster when, composed (NFC), it is one printable ASCII character or one
  character that t1enc.dfu or ts1enc.dfu declares for the utf8 input encoding: Latin-1, Latin
  Extended-A, typographic punctuation, the TS1 symbols (`pdflatex_prints`).
- Any other cluster goes to LuaLaTeX, with the word it is in. A run of right-to-left words,
  with the digits and punctuation between them, stays one piece (so the bidi algorithm orders
  it); wide characters (CJK ideographs, kana, emoji) are pieces of their own, with a line break
  allowed between them; any other word is one piece. Each distinct piece is typeset ONCE per
  build (`typeset_runs`), in each style the templates print it in, by one LuaLaTeX run: HarfBuzz
  shaping (luaotfload's harf mode) and babel's bidi algorithm, one page per piece and style,
  cropped to the piece's box plus a bleed. The pdflatex documents place those pages at the
  baseline with \\pdfximage, scaled from 10pt to the current font size, never taller or deeper
  than a strut, so a line with a Chinese name is exactly as high as a line without.
- The font of a LuaLaTeX cluster is the first font of a fixed chain that has all its characters
  (fontconfig's character sets): Latin Modern, Noto Serif, Noto Serif Hebrew, Noto Naskh Arabic,
  Noto Serif Devanagari, Noto Serif CJK SC, the other Noto fonts (serif first), Symbola (emoji and
  symbols, in black and white), DejaVu.
- Text that nothing prints (private-use, unassigned or surrogate code points, control characters,
  a character that no installed font has) is refused when the spec or the roster is read
  (`printable_problem`, `check_printable`), naming the character.

Text extraction: pieces that read left to right carry an /ActualText span with the text as
written, so pdftotext gives it back exactly (emoji variation selectors and joiners included).
Right-to-left pieces carry none (poppler would reverse it a second time): their glyphs map to the
characters through the fonts' /ToUnicode maps and pdftotext reorders them into reading order."""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from examforge.errors import InputError, LatexError
from examforge.renderers.latex import Latex, escape

STYLES = ("r", "b", "i", "bi")  # regular, bold, italic, bold italic: the styles a piece is typeset in
SIZE_PT = 10  # pieces are typeset at 10pt and scaled to the size they are printed at
BLEED_SP = 4 * 65536  # each page extends this far beyond the piece's box (accents, overhangs)
RUNS_PDF = "unicode.pdf"  # the LuaLaTeX run's PDF, next to every pdflatex document that uses it

_SPACE = re.compile(r"[ \t\r\n]+|[^ \t\r\n]+")
_SPACES = " \t\r\n"


# -- which path a character takes ------------------------------------------------------------------


@lru_cache(maxsize=1)
def pdflatex_chars() -> frozenset[int]:
    """Code points pdflatex prints with the exam's fonts as one glyph of their own: printable ASCII,
    and what the utf8 input encoding declares for T1 and TS1 (t1enc.dfu, ts1enc.dfu) when T1 or TS1
    has the glyph (a text symbol, or an accented letter the encoding composes into one slot).
    Letters LaTeX builds from a letter and a separate accent (ā, ỳ, ḍ) are left out: they would
    read back as two characters, and Vietnamese stacked accents come apart. So are the few glyphs
    Latin Modern has under a name pdftotext reads as another character (_MISREAD; a test
    typesets every character of this set and reads each one back)."""
    chars = set(range(0x20, 0x7F))
    files = _kpse("t1enc.dfu", "ts1enc.dfu", "t1enc.def", "ts1enc.def")
    if not all(files.values()):  # no TeX to ask: Latin-1, which T1 and TS1 print as single glyphs
        return frozenset(chars | set(range(0xA0, 0x100)))
    definitions = files["t1enc.def"] + files["ts1enc.def"]
    symbols = set(re.findall(r"\\DeclareTextSymbol\{\\(\w+)\}\{(?:T1|TS1)\}", definitions))
    composites = set(re.findall(r"\\DeclareTextComposite\{\\(.+?)\}\{T1\}\{\\?(\w+)\}", definitions))
    for text in (files["t1enc.dfu"], files["ts1enc.dfu"]):
        for code, body in re.findall(r"\\DeclareUnicodeCharacter\{([0-9A-Fa-f]+)\}\{(.*)\}", text):
            body = body.replace("\\@tabacckludge", "\\")
            symbol = re.fullmatch(r"\\(\w+)", body)
            accented = re.fullmatch(r"\\(\W|[A-Za-z]+) ?\{?\\?(\w)\}?", body)
            if (symbol and symbol.group(1) in symbols) or (accented and accented.groups() in composites):
                chars.add(int(code, 16))
    return frozenset(chars - _MISREAD)


# T1/TS1 glyphs of Latin Modern that read back as something else: ¹²³ as digits, Đ as Ð, ẞ as SS,
# ‒ ― as – —, and symbols whose glyph names poppler does not know.
_MISREAD = frozenset(map(ord, "¹²³Đẞ‒―‱⁒฿₦₱℗℞℠Ω℧␢◯⟨⟩〈〉"))


def _kpse(*names: str) -> dict[str, str]:
    """The text of each of TeX's files `names` ("" for one not found), with one kpsewhich call."""
    found: dict[str, str] = dict.fromkeys(names, "")
    if shutil.which("kpsewhich"):
        out = subprocess.run(["kpsewhich", *names], capture_output=True, text=True).stdout.split("\n")
        for path in filter(None, out):
            if Path(path).name in found:
                found[Path(path).name] = Path(path).read_text(encoding="latin-1")
    return found


def _attaches(ch: str, previous: str) -> bool:
    """Whether `ch` belongs to the cluster before it."""
    cp = ord(ch)
    if unicodedata.category(ch) in ("Mn", "Mc", "Me"):
        return True
    if cp in (0x200C, 0x200D) or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # joiners, selectors
        return True
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:  # emoji skin tones, tag sequences
        return True
    if previous.endswith("\u200d"):  # a zero-width joiner sequence (emoji)
        return True
    return _regional(ch) and len(previous) == 1 and _regional(previous)  # a flag: two regional indicators


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def clusters(text: str) -> list[str]:
    """`text` cut into clusters: a character with the marks, joiners and selectors that follow it."""
    out: list[str] = []
    for ch in text:
        if out and ch not in _SPACES and out[-1] not in _SPACES and _attaches(ch, out[-1]):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def pdflatex_prints(cluster: str) -> bool:
    composed = unicodedata.normalize("NFC", cluster)
    return len(composed) == 1 and ord(composed) in pdflatex_chars()


def _ignorable(ch: str) -> bool:
    """Format characters (joiners, bidi marks...) and variation selectors: they shape the text
    around them and have no glyph of their own (HarfBuzz hides them when a font lacks them)."""
    cp = ord(ch)
    return unicodedata.category(ch) == "Cf" or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _has_glyph_somewhere(ch: str) -> bool:
    return any(face.files["r"].covers(ord(ch)) for face in font_chain())


# -- fonts -----------------------------------------------------------------------------------------


@dataclass(eq=False)
class FontFile:
    path: str
    index: int
    charset: str  # fontconfig's: "20-7e a0-17f ..."
    _starts: list[int] = field(default_factory=list, repr=False)
    _ends: list[int] = field(default_factory=list, repr=False)

    def covers(self, cp: int) -> bool:
        if not self._starts and self.charset:
            for part in self.charset.split():
                a, _, b = part.partition("-")
                self._starts.append(int(a, 16))
                self._ends.append(int(b or a, 16))
        i = bisect.bisect_right(self._starts, cp) - 1
        return i >= 0 and cp <= self._ends[i]

    @property
    def spec(self) -> str:
        """The file as luaotfload reads it, by path (no font name database needed)."""
        return f"[{self.path}]" + (f"({self.index})" if self.index else "")


@dataclass(eq=False)
class Face:
    name: str
    files: dict[str, FontFile]  # style -> file; a style the family lacks uses the nearest one


# The chain, by file name: (name, regular, bold, italic, bold italic, fontconfig family in a collection)
_CHAIN = (
    ("Latin Modern Roman", "lmroman10-regular.otf", "lmroman10-bold.otf", "lmroman10-italic.otf",
     "lmroman10-bolditalic.otf", None),
    ("Noto Serif", "NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf", "NotoSerif-Italic.ttf",
     "NotoSerif-BoldItalic.ttf", None),
    ("Noto Serif Hebrew", "NotoSerifHebrew-Regular.ttf", "NotoSerifHebrew-Bold.ttf", None, None, None),
    ("Noto Naskh Arabic", "NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf", None, None, None),
    ("Noto Serif Devanagari", "NotoSerifDevanagari-Regular.ttf", "NotoSerifDevanagari-Bold.ttf", None, None, None),
    ("Noto Serif CJK SC", "NotoSerifCJK-Regular.ttc", "NotoSerifCJK-Bold.ttc", None, None, "Noto Serif CJK SC"),
)
_TAIL = (
    ("Symbola", "Symbola_hint.ttf", None, None, None, None),
    ("Symbola", "Symbola.ttf", None, None, None, None),
    ("DejaVu Serif", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
     "DejaVuSerif-BoldItalic.ttf", None),
    ("DejaVu Sans", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
     "DejaVuSans-BoldOblique.ttf", None),
)
_OTHER_NOTO = re.compile(r"^Noto(Serif|Sans|Naskh|Kufi|Nastaliq|Rashi)[A-Za-z]*-Regular\.(ttf|otf)$")
_NOT_TEXT = re.compile(r"UI|Display|Mono|Symbols|Math|Music|Test")


def _fc(args: list[str]) -> list[list[str]]:
    fmt = "%{file}\t%{index}\t%{family[0]}\t%{charset}\n"
    try:
        out = subprocess.run(args + ["--format", fmt], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split("\t") for line in out.splitlines() if line.count("\t") == 3]


def luatex_available() -> bool:
    if not shutil.which("lualatex") or not shutil.which("kpsewhich"):
        return False
    found = subprocess.run(["kpsewhich", "luaotfload.sty"], capture_output=True, text=True).stdout.strip()
    return bool(found)


@lru_cache(maxsize=1)
def font_chain() -> tuple[Face, ...]:
    """The fonts LuaLaTeX typesets with, in order of preference; empty without LuaLaTeX."""
    if not luatex_available() or not shutil.which("fc-list"):
        return ()
    rows = _fc(["fc-list"])
    if not any(os.path.basename(r[0]) == "lmroman10-regular.otf" for r in rows):  # not known to fontconfig
        path = subprocess.run(["kpsewhich", "lmroman10-regular.otf"], capture_output=True, text=True).stdout.strip()
        if path and shutil.which("fc-query"):
            for name in ("regular", "bold", "italic", "bolditalic"):
                rows += _fc(["fc-query", str(Path(path).with_name(f"lmroman10-{name}.otf"))])
    by_name: dict[str, list[list[str]]] = {}
    for row in sorted(rows):
        by_name.setdefault(os.path.basename(row[0]), []).append(row)

    def find(name: str | None, family: str | None) -> FontFile | None:
        for path, index, fam, charset in by_name.get(name or "", []):
            if family is None or fam == family:
                return FontFile(path, int(index or 0), charset)
        return None

    chain: list[Face] = []
    used: set[str] = set()

    def add(name, regular, bold, italic, bolditalic, family) -> None:
        r = find(regular, family)
        if r is None or regular in used:
            return
        used.update(n for n in (regular, bold, italic, bolditalic) if n)
        b, i, bi = find(bold, family), find(italic, family), find(bolditalic, family)
        chain.append(Face(name, {"r": r, "b": b or r, "i": i or r, "bi": bi or b or i or r}))

    for entry in _CHAIN:
        add(*entry)
    others = sorted(
        (n for n, found in by_name.items() if _OTHER_NOTO.match(n) and not _NOT_TEXT.search(found[0][2])),
        key=lambda n: (not n.startswith("NotoSerif"), n),
    )
    for regular in others:
        add(by_name[regular][0][2], regular, regular.replace("-Regular", "-Bold"), None, None, None)
    for entry in _TAIL:
        add(*entry)
    return tuple(chain)


def _pick(cluster: str, style: str) -> FontFile | None:
    """The first font of the chain that has every character of `cluster` (in `style`, else regular)."""
    needed = [ord(ch) for ch in cluster if not _ignorable(ch)] or [ord(cluster[0])]
    for wanted in (style, "r"):
        for face in font_chain():
            font = face.files[wanted]
            if all(font.covers(cp) for cp in needed):
                return font
    return None


# -- validation ------------------------------------------------------------------------------------


def printable_problem(text: str) -> str | None:
    """Why `text` cannot be printed as written, or None when it can."""
    if text.isascii() and text.replace("\t", " ").replace("\n", " ").replace("\r", " ").isprintable():
        return None
    for ch in text:
        cp, category = ord(ch), unicodedata.category(ch)
        what = f"U+{cp:04X}"
        if category == "Co":
            return f"{what} is a private-use character: no standard font prints it"
        if category == "Cn":
            return f"{what} is not an assigned Unicode character"
        if category == "Cs":
            return f"{what} is a lone surrogate, not a character"
        if category == "Cc" and ch not in _SPACES:
            return f"{what} is a control character"
    chain = None
    for cluster in clusters(text):
        if cluster in _SPACES or pdflatex_prints(cluster):
            continue
        chain = chain if chain is not None else font_chain()
        if not chain:
            return (f"{_show(cluster)} needs LuaLaTeX and the Noto fonts, which are not installed "
                    "(scripts/ensure-tex.sh installs texlive-luatex and fonts-noto-*)")
        if _pick(cluster, "r") is None:
            missing = [ch for ch in cluster if not _ignorable(ch) and not _has_glyph_somewhere(ch)]
            return f"no installed font prints {_show(''.join(missing) or cluster)}"
    return None


def check_printable(value: str) -> str:
    """For validators: `value` unchanged, or ValueError saying what cannot be printed."""
    problem = printable_problem(value) if isinstance(value, str) else None
    if problem:
        raise ValueError(problem)
    return value


def _show(text: str) -> str:
    return repr(text) + " (" + " ".join(f"U+{ord(c):04X}" for c in text) + ")"


# -- pieces ----------------------------------------------------------------------------------------


def _rtl(word: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in word)


def _ltr(word: str) -> bool:
    return any(unicodedata.bidirectional(ch) == "L" for ch in word)


def _number(word: str) -> bool:
    """Digits after right-to-left text belong to it (UAX #9: rules W2, N1, I1)."""
    return any(unicodedata.bidirectional(ch) in ("EN", "AN") for ch in word)


def _wide(cluster: str) -> bool:
    return unicodedata.east_asian_width(cluster[0]) in ("W", "F")


def _breakable(before: str, after: str) -> bool:
    """A line may break between two pieces of a word unless punctuation binds them: no break
    before a closing or ending mark (、。」！), nor after an opening one (「（)."""
    return unicodedata.category(after[0]) not in ("Pe", "Po", "Pf") and unicodedata.category(before[-1]) not in ("Ps", "Pi")


def piece_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Part:
    kind: str  # "tex" (pdflatex prints it), "lua" (a piece), "break" (a line may break here)
    text: str


def split(text: str) -> list[Part]:
    """`text` as pdflatex text and LuaLaTeX pieces (see the module's docstring for the rule).
    Right-to-left pieces run from a word with right-to-left letters to the last such word or
    word with digits before the next left-to-right word: the stretch the Unicode bidi algorithm
    reorders in a left-to-right line (in "Ana محمد 12 علي. end", "محمد 12 علي."). Leading
    digits and closing punctuation outside it stay in the left-to-right line, as in UAX #9."""
    if all(pdflatex_prints(c) or c in _SPACES for c in (text if text.isascii() else clusters(text))):
        return [Part("tex", unicodedata.normalize("NFC", text))] if text else []
    tokens = _SPACE.findall(text)
    parts: list[Part] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[0] in _SPACES or all(pdflatex_prints(c) for c in clusters(token)):
            token = unicodedata.normalize("NFC", token)
            if parts and parts[-1].kind == "tex":
                parts[-1] = Part("tex", parts[-1].text + token)
            else:
                parts.append(Part("tex", token))
            i += 1
            continue
        if _rtl(token):  # right to left: what the bidi algorithm orders together stays together
            end, k = i, i + 1
            while k < len(tokens) and not (_ltr(tokens[k]) and not _rtl(tokens[k])):
                if tokens[k][0] not in _SPACES and (_rtl(tokens[k]) or _number(tokens[k])):
                    end = k
                k += 1
            parts.append(Part("lua", "".join(tokens[i:end + 1]).translate(_AS_SPACE)))
            i = end + 1
            continue
        pieces: list[str] = []  # left to right: wide characters (CJK, emoji) one by one
        for cluster in clusters(token):
            if _wide(cluster) or not pieces or _wide(pieces[-1]):
                pieces.append(cluster)
            else:
                pieces[-1] += cluster
        for n, piece in enumerate(pieces):
            if n and (_wide(piece) or _wide(pieces[n - 1])) and _breakable(pieces[n - 1], piece):
                parts.append(Part("break", ""))
            parts.append(Part("lua", piece))
        i += 1
    return parts


def _pdflatex_text(text: str) -> Latex:
    return escape(text.translate(_AS_SPACE))  # a tab or a line break is a space


_AS_SPACE = {ord("\t"): " ", ord("\r"): " ", ord("\n"): " "}


@dataclass(frozen=True)
class UserText:
    """A piece of user text, where it comes from (for messages) and the styles it is printed in."""

    text: str
    where: str
    styles: tuple[str, ...] = STYLES


# -- the LuaLaTeX run ------------------------------------------------------------------------------


_SCRIPT_TAGS = {  # the first word of a character's Unicode name -> its OpenType script tag
    "LATIN": "latn", "GREEK": "grek", "CYRILLIC": "cyrl", "ARMENIAN": "armn", "GEORGIAN": "geor",
    "HEBREW": "hebr", "ARABIC": "arab", "SYRIAC": "syrc", "THAANA": "thaa", "NKO": "nko",
    "DEVANAGARI": "dev2", "BENGALI": "bng2", "GURMUKHI": "gur2", "GUJARATI": "gjr2", "ORIYA": "ory2",
    "TAMIL": "tml2", "TELUGU": "tel2", "KANNADA": "knd2", "MALAYALAM": "mlm2", "SINHALA": "sinh",
    "THAI": "thai", "LAO": "lao", "TIBETAN": "tibt", "MYANMAR": "mym2", "KHMER": "khmr",
    "ETHIOPIC": "ethi", "CHEROKEE": "cher", "MONGOLIAN": "mong", "TIFINAGH": "tfng",
    "HANGUL": "hang", "HIRAGANA": "kana", "KATAKANA": "kana", "BOPOMOFO": "bopo", "CJK": "hani",
    "YI": "yi", "JAVANESE": "java", "BALINESE": "bali", "CANADIAN": "cans",
}


def _script(cluster: str) -> str | None:
    name = unicodedata.name(cluster[0], "")
    return _SCRIPT_TAGS.get(name.split(" ", 1)[0]) if name else None


def _segments(piece: str, style: str) -> list[tuple[FontFile, str | None, str]]:
    """A piece as (font, script, text) segments: each cluster in the first font that has it;
    digits, spaces and punctuation stay in the font (and script) of the text before them."""
    out: list[list] = []
    for cluster in clusters(piece):
        script = _script(cluster)
        last = out[-1] if out else None
        if last and script is None and all(last[0].covers(ord(c)) for c in cluster if not _ignorable(c)):
            last[2] += cluster
            continue
        font = _pick(cluster, style)
        if font is None:
            raise InputError(f"no installed font prints {_show(cluster)}")
        if last and last[0] is font and (script is None or last[1] in (None, script)):
            last[1] = last[1] or script
            last[2] += cluster
        else:
            out.append([font, script, cluster])
    return [tuple(s) for s in out]  # type: ignore[misc]


def _needs_span(text: str) -> bool:
    """Whether a piece needs an /ActualText span to read back as written: it holds characters
    that have no glyph (emoji variation selectors, joiners), and reads left to right (poppler
    would reverse a right-to-left one a second time)."""
    return any(_ignorable(ch) for ch in text) and not _rtl(text)


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def runs_document(pieces: list[tuple[str, tuple[str, ...]]]) -> tuple[str, list[tuple[str, str]]]:
    """The LuaLaTeX source typesetting every (piece, styles), and its pages: [(piece id, style)]."""
    fonts: dict[tuple[str, str | None], str] = {}
    body, pages = [], []
    for text, styles in pieces:
        for style in styles:
            content = []
            for font, script, segment in _segments(text, style):
                key = (font.spec, script)
                if key not in fonts:
                    fonts[key] = "\\efF" + "".join(chr(ord("a") + int(d)) for d in str(len(fonts)))
                content.append(fonts[key] + r"\eftext{" + segment.encode("utf-8").hex() + "}")
            inner = "".join(content)
            if _needs_span(text):
                inner = r"\efspan{" + _utf16_hex(text) + "}{" + inner + "}"
            pages.append((piece_id(text), style))
            body.append(rf"\efrun{{{len(pages)}}}{{{piece_id(text)}}}{{{style}}}{{{inner}}}")
    font_lines = []
    for (spec, script), name in fonts.items():
        path = spec[1:spec.index("]")]
        size = os.path.getsize(path) if os.path.exists(path) else 0
        feature = f"script={script};" if script else ""
        font_lines.append(rf'\font{name}="{spec}:mode=harf;{feature}" at {SIZE_PT}pt % {size} bytes')
        font_lines.append(rf"\directlua{{examforge.letters('{name[1:]}')}}")
    source = "\n".join([
        "% Text pdflatex's fonts cannot print, typeset once per build by LuaLaTeX (examforge.renderers.scripts):",
        "% one page per piece and style, the piece's box plus a bleed; \\jobname.efl has U|page|id|style|wd|ht|dp.",
        r"\documentclass{article}",
        r"\usepackage[bidi=basic]{babel}",
        r"\babelprovide[main,import]{english}",
        r"\pdfvariable suppressoptionalinfo 1023",
        r"\pdfvariable horigin 0pt",
        r"\pdfvariable vorigin 0pt",
        r"\tracinglostchars=2",
        r"\newwrite\efout",
        r"\immediate\openout\efout=\jobname.efl",
        r"\directlua{examforge = {} function examforge.text(h) tex.sprint(-2, (string.gsub(h, '..',"
        r" function(c) return string.char(tonumber(c, 16)) end))) end}",
        r"\def\eftext#1{\directlua{examforge.text('#1')}}",
        # A glyph that is the nominal glyph of a letter and of its presentation form (Arabic ا and
        # ﺍ) reads back as the letter, not the form luaotfload picks (the highest code point).
        r"\directlua{function examforge.letters(name) local f = font.getfont(font.id(name))"
        r" local shared = f and f.hb and f.hb.shared if not shared then return end"
        r" for _, r in ipairs({{0x0590, 0x05FF}, {0x0600, 0x06FF}, {0x0750, 0x077F}, {0x08A0, 0x08FF}}) do"
        r" for u = r[1], r[2] do local g = shared.font:get_nominal_glyph(u)"
        r" if g then shared.nominals[g] = u end end end end}",
        r"\def\efspan#1#2{\pdfextension literal page{/Span<</ActualText<FEFF#1>>>BDC}#2\pdfextension literal page{EMC}}",
        rf"\newdimen\efbleed \efbleed={BLEED_SP}sp",
        r"\def\efrun#1#2#3#4{\setbox0\hbox{#4}%",
        r"  \pagewidth=\dimexpr\wd0+2\efbleed\relax \pageheight=\dimexpr\ht0+\dp0+2\efbleed\relax",
        r"  \immediate\write\efout{U|#1|#2|#3|\number\wd0|\number\ht0|\number\dp0}%",
        r"  \shipout\vbox{\kern\efbleed\hbox{\kern\efbleed\box0}}}",
        *font_lines,
        r"\begin{document}",
        *body,
        r"\end{document}",
        "",
    ])
    return source, pages


_MISSING = re.compile(r"Missing character: There is no (.+?) \(U\+([0-9A-F]+)\)")


@dataclass
class Runs:
    """The pieces typeset by LuaLaTeX for one build, and how to place them in pdflatex documents."""

    where: dict[str, str] = field(default_factory=dict)  # piece text -> the field that first holds it
    metrics: dict[tuple[str, str], tuple[int, int, int, int]] = field(default_factory=dict)  # page, wd, ht, dp
    source: str = ""
    pdf: Path | None = None
    sha256: str = ""
    compiled: object = None  # examforge.renderers.compile.Compiled, when LuaLaTeX ran (or was cached)

    @property
    def files(self) -> dict[str, Path]:
        """What a pdflatex document using the pieces needs next to it."""
        return {RUNS_PDF: self.pdf} if self.pdf is not None else {}

    def latex(self, text: str) -> Latex:
        """User text for pdflatex: escaped text, and \\efu{id} where LuaLaTeX typeset a piece."""
        out = []
        for part in split(text):
            if part.kind == "tex":
                out.append(_pdflatex_text(part.text))
            elif part.kind == "break":
                out.append(r"\allowbreak{}")
            else:
                key = piece_id(part.text)
                if (key, "r") not in self.metrics:
                    raise LatexError(
                        f"{part.text!r} needs LuaLaTeX, but it was not typeset in this build's LuaLaTeX pass "
                        "(examforge.renderers.scripts.typeset_runs)"
                    )
                out.append(rf"\efu{{{key}}}")
        return Latex("".join(out))

    def annotate(self, tex: str) -> str:
        """Declare, before \\begin{document}, the pieces the document places (and no others, so a
        document's source changes only with its own pieces and the LuaLaTeX PDF's bytes)."""
        used = list(dict.fromkeys(re.findall(r"\\efu\{([0-9a-f]{12})\}", tex)))
        if not used:
            return tex
        lines = [rf"\def\ef@ufile{{{RUNS_PDF}}}% sha256 {self.sha256}", rf"\ef@ubleed={BLEED_SP}sp"]
        for key in used:
            for style in STYLES:
                if (key, style) in self.metrics:
                    page, wd, ht, dp = self.metrics[key, style]
                    lines.append(rf"\efurun{{{key}}}{{{style}}}{{{page}}}{{{wd}}}{{{ht}}}{{{dp}}}")
        head, begin, body = tex.partition("\\begin{document}")
        block = "\\makeatletter\n" + "\n".join(lines) + "\n\\makeatother\n"
        return head + block + begin + body


def plan_pieces(texts: Iterable[UserText]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Every distinct LuaLaTeX piece of `texts` with the styles it is needed in, in order of first
    appearance, and the field each piece first appears in."""
    styles: dict[str, set[str]] = {}
    where: dict[str, str] = {}
    for t in texts:
        for part in split(t.text):
            if part.kind == "lua":
                styles.setdefault(part.text, set()).update(t.styles)
                where.setdefault(part.text, f"{t.where}: value {t.text!r}")
    return {p: tuple(s for s in STYLES if s in found) for p, found in styles.items()}, where


def typeset_runs(texts: Iterable[UserText], workdir: Path, cache_dir: Path | None) -> Runs:
    """One LuaLaTeX run for every piece of `texts` that pdflatex cannot print; none when there
    is no such piece. Cached by content like every other run."""
    from examforge.renderers.compile import compile_cached

    pieces, where = plan_pieces(texts)
    if not pieces:
        return Runs()
    for piece, field_name in where.items():  # the spec and roster were checked; this is the backstop
        problem = printable_problem(piece)
        if problem:
            raise InputError(f"{field_name}: {problem}")
    source, pages = runs_document(sorted(pieces.items()))
    compiled = compile_cached(source, Path(workdir), "unicode", cache_dir, engine="lualatex")
    missing = _MISSING.findall(compiled.log)
    if missing:
        char = chr(int(missing[0][1], 16))
        field_name = next((w for p, w in where.items() if char in p), "a piece of text")
        raise InputError(f"{field_name}: LuaLaTeX has no glyph for {_show(char)}")
    metrics = {}
    for line in compiled.side.splitlines():
        if line.startswith("U|"):
            _, page, key, style, wd, ht, dp = line.split("|")
            metrics[key, style] = (int(page), int(wd), int(ht), int(dp))
    if len(metrics) != len(pages):
        raise LatexError(f"LuaLaTeX typeset {len(metrics)} of {len(pages)} pieces (see {workdir}/unicode.log)")
    digest = hashlib.sha256(compiled.pdf.read_bytes()).hexdigest()
    return Runs(where=where, metrics=metrics, source=source, pdf=compiled.pdf, sha256=digest, compiled=compiled)
