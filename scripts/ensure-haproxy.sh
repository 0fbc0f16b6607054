#!/usr/bin/env bash
# Make sure Debian's haproxy is installed for the load-balancer test (tests/test_drill_serving.py,
# which runs examples/haproxy.cfg in front of two `examforge serve` processes on loopback ports).
# Installs the `haproxy` package when missing; idempotent. The package's service is not used:
# the test starts haproxy itself, in the foreground, and stops it.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi

echo "examforge: haproxy is missing; installing Debian's haproxy package..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; }; then
  cat >&2 <<MSG
examforge: cannot install haproxy automatically (no apt-get, or not root and no sudo).
The load-balancer test needs haproxy on the PATH (Debian/Ubuntu: apt-get install haproxy).
Without it that test is skipped locally, and fails in CI (CI=true).
MSG
  if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then exit 1; fi
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# (where an init system starts the packaged service, its default configuration listens on no port)
$SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
command -v haproxy >/dev/null 2>&1 || { echo "examforge: haproxy installed but not on the PATH." >&2; exit 1; }
echo "examforge: haproxy installed ($(haproxy -v 2>/dev/null | head -1))." >&2
