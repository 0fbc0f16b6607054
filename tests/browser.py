"""What the browser tests share: Debian's Chromium driven by Playwright (no browser download),
and the drill app served by uvicorn with the protocol `examforge serve` uses, on a free loopback
port in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest

from .conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_browser() -> None:
    """Skip locally when Chromium or Playwright is missing; in CI that is a failure."""
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing (Debian package 'chromium'; 'make test' installs it "
                        "with scripts/ensure-chromium.sh)")
    try:
        import playwright.sync_api  # noqa: F401  (only checks that it is installed)
    except ImportError:
        problems.append("the playwright package is missing (pip install -e '.[dev]')")
    if problems:
        if IN_CI:
            pytest.fail("browser test cannot run in CI: " + "; ".join(problems))
        pytest.skip("; ".join(problems))


@contextlib.contextmanager
def serving(app):
    """`app` under uvicorn as `examforge serve` runs it; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            http="examforge.drill.server:DrillProtocol")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started:
        if time.time() > deadline or not thread.is_alive():
            pytest.fail("the drill server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def launch(playwright, profile: Path, **options):
    """A Chromium context with a fresh user-data-dir (`options` as Playwright takes them)."""
    return playwright.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                         args=ARGS, **options)
