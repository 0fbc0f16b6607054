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
