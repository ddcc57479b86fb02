"""The import contracts in pyproject.toml hold, and break when an import goes the wrong way.

Each case copies the packages, adds one import that breaks DESIGN's direction (digest's lower
stages < subscriptions < the stages that compose, deliver and serve) and runs import-linter on
the copy: a contract that did not cover the case would pass it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in ("config", "digest", "subscriptions"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "data", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_hold(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # a reader's service rendering a digest: subscriptions reaching up into composing
        (
            "subscriptions/readers/services.py",
            "import digest.composing.build",
            "subscriptions.readers is not allowed to import digest.composing",
        ),
        # the papers stage reading who follows what: digest's lower stages reaching up
        (
            "digest/papers/selectors.py",
            "import subscriptions.feedback.selectors",
            "digest.papers is not allowed to import subscriptions.feedback",
        ),
        # a model module outside the layers, reaching into a lower stage's forbidden neighbour
        (
            "digest/models.py",
            "import subscriptions.models",
            "digest.models is not allowed to import subscriptions",
        ),
        (
            "subscriptions/models.py",
            "import digest.delivery.sender",
            "subscriptions.models is not allowed to import digest.delivery",
        ),
    ],
)
def test_an_import_against_the_direction_breaks_a_contract(tree, module, line, broken):
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert broken in " ".join(result.stdout.split())
