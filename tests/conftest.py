import os
import shutil

import pytest

# LaTeX tests never skip in CI: a missing pdflatex there is a failure, not a skip.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
