import os
import shutil

import pytest
from hypothesis import settings

# LaTeX tests never skip in CI: a missing pdflatex there is a failure, not a skip.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# In CI, property tests draw the same examples on every run (a CI run is reproducible; locally
# they keep exploring new examples, and every failure they find becomes a fix and a test).
settings.register_profile("ci", derandomize=True, deadline=None)
if IN_CI:
    settings.load_profile("ci")


def require_tex():
    missing = [tool for tool in ("pdflatex", "pdftotext") if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{', '.join(missing)} missing in CI; run 'make test' (it installs TeX Live)")
        pytest.skip(f"{', '.join(missing)} not installed; 'make test' installs TeX Live")


@pytest.fixture
def tex():
    require_tex()


def require_tools(*tools: str) -> None:
    """Skip locally when a command-line tool is missing; in CI that is a failure."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{', '.join(missing)} missing in CI; 'make test' installs them")
        pytest.skip(f"{', '.join(missing)} not installed; 'make test' installs them")
