"""The embedded default (`make run` on SQLite) gives the Health calibration
figures production gives. Its SQL has a SQLite spelling
(``reports.calibration._SQLITE``: a correlated lookup instead of a lateral
one, json_each instead of jsonb_each), so the hand-computed selector and API
tests run again, in a child process, on a new SQLite database; they must all
pass there too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("tests/reports/test_calibration.py", "tests/reports/test_calibration_api.py")


def test_the_calibration_selector_and_api_tests_pass_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parity.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDACCOUNT_SQLITE_PARITY": "1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            *MODULES,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
