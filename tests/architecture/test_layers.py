"""The apps are layers (docs/architecture.md): import-linter checks that each
imports only from the layers beneath it, and that the modules of one app do
not import each other in a cycle. These tests run the same check as
`make lint`, on the real tree and on a copy with a bad import planted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

APPS = (
    "config",
    "core",
    "accounts",
    "notifications",
    "health",
    "risks",
    "reviews",
    "rules",
    "reports",
    "demo",
)


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The project's Python packages and pyproject.toml, copied."""
    base = Path(settings.BASE_DIR)
    for app in APPS:
        shutil.copytree(base / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(base / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layer_contracts_hold_on_the_tree(tree_copy):
    result = _lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import"),
    [
        # Inside a function counts as much as at the top of a module.
        ("accounts/rules.py", "def _planted():\n    from risks.models import RiskRecord\n"),
        ("risks/services/workflow.py", "from reviews import services as _planted\n"),
        ("notifications/outbox.py", "from risks.models import RiskRecord as _planted\n"),
        ("health/models.py", "from risks.models import RootCause as _planted\n"),
        # Side by side in one layer: neither imports the other.
        ("health/models.py", "from notifications import outbox as _planted\n"),
        ("core/lists.py", "import accounts.models as _planted\n"),
        ("risks/selectors.py", "from config import celery_app as _planted\n"),
        # A cycle inside one app: the invite would import the email that imports it.
        ("reviews/ics.py", "from reviews import notifications as _planted\n"),
    ],
)
def test_a_planted_bad_import_breaks_a_contract(tree_copy, module, upward_import):
    target = tree_copy / module
    target.write_text(target.read_text() + "\n\n" + upward_import)

    result = _lint_imports(tree_copy)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout
