"""The distribution is "taskwire-client" and provides the import package "taskwire"."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import taskwire

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
DIST = "taskwire-client"


def test_distribution_name_and_version() -> None:
    # (tomllib is 3.11+; the package supports 3.10.)
    text = PYPROJECT.read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^name = "([^"]+)"$', project, re.M).group(1) == DIST  # type: ignore[union-attr]
    assert re.search(r'^version = "([^"]+)"$', project, re.M).group(1) == taskwire.__version__  # type: ignore[union-attr]
    # The installed metadata (scripts/test.sh installs the package) agrees.
    assert md.version(DIST) == taskwire.__version__
    assert DIST in md.packages_distributions()["taskwire"]


def test_old_distribution_is_not_installed() -> None:
    # "taskwire" on PyPI is another project owning the same top-level package.
    try:
        md.distribution("taskwire")
    except md.PackageNotFoundError:
        return
    raise AssertionError("the distribution 'taskwire' is installed next to taskwire-client")
