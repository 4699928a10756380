"""The embedded default (`make run` on SQLite) gives the learning reports'
figures production gives. Their SQL has SQLite spellings (a correlated lookup
instead of a lateral one and json_each for the calibration, window medians
for program effectiveness, date arithmetic for flag coverage), so the
hand-computed selector and API tests run again, in a child process, on a new
SQLite database; they must all pass there too."""

from __future__ import annotations

from tests.sqlite_parity import assert_pass_on_sqlite

MODULES = (
    "tests/reports/test_calibration.py",
    "tests/reports/test_calibration_api.py",
    "tests/reports/test_programs.py",
    "tests/reports/test_flag_coverage.py",
)


def test_the_learning_report_tests_pass_on_sqlite(tmp_path):
    assert_pass_on_sqlite(tmp_path, MODULES)
