#!/usr/bin/env bash
# Make sure pdflatex, the LaTeX packages examforge uses and poppler-utils are present, and, for
# names and titles in any script, LuaLaTeX (luaotfload with HarfBuzz) and the fonts it typesets
# them with (examforge/renderers/scripts.py): Noto (Latin, Greek, Cyrillic, Hebrew, Arabic,
# Devanagari and ~150 other scripts: fonts-noto-core, 42 MB), Noto CJK (Chinese, Japanese,
# Korean: fonts-noto-cjk, 91 MB; no smaller Debian font has serif CJK in two weights) and
# Symbola (emoji in black and white, 3 MB; fonts-noto-color-emoji's colour bitmaps do not read
# back as text). Installs them from Debian's packages when missing; idempotent.
set -euo pipefail

PACKAGES="texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-pictures lmodern latexmk poppler-utils zbar-tools texlive-luatex fonts-noto-core fonts-noto-cjk fonts-symbola"

have_all() {
  command -v pdflatex >/dev/null 2>&1 || return 1
  command -v pdftotext >/dev/null 2>&1 || return 1
  command -v pdftoppm >/dev/null 2>&1 || return 1
  command -v zbarimg >/dev/null 2>&1 || return 1  # reads exam QR codes back in the tests
  for sty in exam.cls tikz.sty pgfplots.sty lmodern.sty zref-savepos.sty; do
    [ -n "$(kpsewhich "$sty" 2>/dev/null)" ] || return 1
  done
  command -v lualatex >/dev/null 2>&1 || return 1  # text in scripts pdflatex's fonts cannot print
  [ -n "$(kpsewhich luaotfload.sty 2>/dev/null)" ] || return 1
  command -v fc-list >/dev/null 2>&1 || return 1
  for family in "Latin Modern Roman" "Noto Serif" "Noto Naskh Arabic" "Noto Serif CJK SC" "Symbola"; do
    [ -n "$(fc-list "$family" family 2>/dev/null)" ] || return 1
  done
}

if have_all; then
  exit 0
fi

echo "examforge: TeX Live, poppler-utils or the Noto fonts are missing; installing from Debian packages..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; }; then
  cat >&2 <<MSG
examforge: cannot install TeX automatically (no apt-get, or not root and no sudo).
Please install, with your system's package manager:
  - a TeX Live with pdflatex and the packages: exam, tikz/pgfplots, lmodern, zref, and LuaLaTeX
    with luaotfload; the fonts Noto (core and CJK) and Symbola
    (Debian/Ubuntu: $PACKAGES)
  - poppler-utils (pdftotext, pdftoppm)
  (macOS: brew install --cask mactex-no-gui && brew install poppler)
then run the command again.
MSG
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
have_all || { echo "examforge: TeX install finished but pdflatex/lualatex/packages/fonts are still missing." >&2; exit 1; }
echo "examforge: TeX Live installed." >&2
