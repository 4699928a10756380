"""Run test modules again in a child process on a new SQLite database: the
embedded default of `make run` must give the figures production gives. The
child sees ``REDACCOUNT_SQLITE_PARITY=1``, the one switch that lets the test
settings use SQLite (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def assert_pass_on_sqlite(tmp_path: Path, modules: Sequence[str]) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parity.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDACCOUNT_SQLITE_PARITY": "1",
    }
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"),
            *modules,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
