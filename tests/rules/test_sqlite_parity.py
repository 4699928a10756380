"""The embedded default (`make run` on SQLite) finds exactly the matches
production finds. Rules are SQL with a PostgreSQL and a SQLite spelling
(rules.conditions.Dialect), so the hand-computed condition, evaluation and
backtest tests run again, in a child process, on a new SQLite database; they must
all pass there too."""

from __future__ import annotations

from tests.sqlite_parity import assert_pass_on_sqlite

MODULES = (
    "tests/rules/test_conditions.py",
    "tests/rules/test_evaluation.py",
    "tests/rules/test_backtest.py",
)


def test_the_condition_evaluation_and_backtest_tests_pass_on_sqlite(tmp_path):
    assert_pass_on_sqlite(tmp_path, MODULES)
