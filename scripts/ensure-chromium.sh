#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser test (tests/test_drill_browser.py,
# driven by Playwright with executable_path=/usr/bin/chromium). Installs the `chromium` package when
# missing; idempotent. Playwright's own browser download is never used.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

echo "examforge: $CHROMIUM is missing; installing Debian's chromium package..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; }; then
  cat >&2 <<MSG
examforge: cannot install Chromium automatically (no apt-get, or not root and no sudo).
The browser test needs Chromium at $CHROMIUM (Debian/Ubuntu: apt-get install chromium).
Without it the browser test is skipped locally, and fails in CI (CI=true).
MSG
  if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then exit 1; fi
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "examforge: chromium installed but $CHROMIUM is still missing." >&2; exit 1; }
echo "examforge: Chromium installed ($("$CHROMIUM" --version 2>/dev/null | head -1))." >&2
