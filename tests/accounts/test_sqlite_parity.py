"""The embedded default (`make run` on SQLite) imports renewals and accounts
exactly like production. The importers' merges, their counts, the lookups in
any case and the churn marking have a PostgreSQL and a SQLite spelling, so
the hand-computed import, API and page tests run again, in a child process, on
a new SQLite database; they must all pass there too."""

from __future__ import annotations

from tests.sqlite_parity import assert_pass_on_sqlite

MODULES = (
    "tests/accounts/test_renewals_import.py",
    "tests/accounts/test_renewals_api.py",
    "tests/accounts/test_renewals_pages.py",
    "tests/accounts/test_accounts_import.py",
)


def test_the_renewal_tests_pass_on_sqlite(tmp_path):
    assert_pass_on_sqlite(tmp_path, MODULES)
