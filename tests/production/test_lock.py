"""requirements.lock follows pyproject.toml (docker/lock.py, `make lock`; `make lint` checks)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("lock", ROOT / "docker" / "lock.py")
assert spec and spec.loader
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


def test_the_committed_lock_is_current_and_pins_every_package_with_hashes():
    done = subprocess.run(
        [sys.executable, "docker/lock.py", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = (ROOT / "requirements.lock").read_text()
    requirements = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, flags=re.M)
    assert {"django", "celery", "gunicorn", "psycopg"} <= {r.lower() for r in requirements}
    # Every requirement is followed by at least one hash (pip's --require-hashes needs them).
    for block in re.split(r"\n(?=[A-Za-z])", text.split("\n", 4)[-1]):
        if "==" in block:
            assert "--hash=sha256:" in block, block[:80]


def test_a_dependency_change_makes_the_lock_stale(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    original = (ROOT / "pyproject.toml").read_text()
    pyproject.write_text(original)
    assert lock.dependencies_digest(pyproject) == lock.recorded_digest()
    # Formatting and comments do not count; a new dependency or a changed range does.
    pyproject.write_text(original.replace('"redis>=5",', '"redis >= 5",  # spaced'))
    assert lock.dependencies_digest(pyproject) == lock.recorded_digest()
    pyproject.write_text(original.replace('"redis>=5",', '"redis>=5",\n    "rispy>=0.9",'))
    assert lock.dependencies_digest(pyproject) != lock.recorded_digest()
    pyproject.write_text(original.replace('"redis>=5",', '"redis>=6",'))
    assert lock.dependencies_digest(pyproject) != lock.recorded_digest()
    # The dev extras are not in the image: changing them leaves the lock current.
    pyproject.write_text(original.replace('"pytest>=8",', '"pytest>=9",'))
    assert lock.dependencies_digest(pyproject) == lock.recorded_digest()
