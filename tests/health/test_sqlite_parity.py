"""The embedded default (`make run` on SQLite) scores exactly like production.

health.scoring is one SQL statement with a PostgreSQL and a SQLite spelling.
The suite runs on PostgreSQL, so this test builds one scenario twice: here, on
the test database, and in a fresh process with the local settings on a new
SQLite file. Both score it and must write the same HealthScore rows (score,
band, coverage, sub-scores, parts) and mirror the same figures onto accounts.

The scenario is a list of cases, each with its own measures (the earlier
cases' are switched off) and accounts, scored by id as of D; a last pass
scores the whole book in small chunks, the way the daily task does."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
D = dt.date(2026, 6, 30)
_NOT_INHERITED = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "EMAIL_", "SITE_URL", "PORT")


class _Book:
    """Accounts, measures and observations for one case, written with the ORM
    only (no factories), so both processes create exactly the same rows."""

    def __init__(self) -> None:
        from accounts.models import Region, Role, Segment, User

        self.region, _ = Region.objects.get_or_create(
            code="PARITY",
            defaults={
                "name": "Parity",
                "timezone": "UTC",
                "review_weekday": 1,
                "review_time": dt.time(10),
            },
        )
        self.csm, _ = User.objects.get_or_create(
            username="parity-csm", defaults={"role": Role.CSM, "region": self.region}
        )
        self.segments = {segment.code: segment for segment in Segment.objects.all()}
        self.case = ""
        self.ids: list[int] = []

    def start(self, case: str) -> None:
        from health.models import Measure

        Measure.objects.update(active=False)
        self.case, self.ids = case, []

    def account(self, key: str, segment: str = "mid-market", **fields: Any):
        from accounts.models import Account

        account = Account.objects.create(
            external_id=f"{self.case}/{key}",
            name=f"{self.case} {key}",
            region=self.region,
            segment=self.segments[segment],
            arr=Decimal("50000"),
            renewal_date=D + dt.timedelta(days=200),
            csm=self.csm,
            **fields,
        )
        self.ids.append(account.pk)
        return account

    def measure(
        self,
        key: str,
        red: str | int,
        green: str | int,
        weight: int = 10,
        lines: tuple[tuple[str, int, int, int], ...] = (),
        **fields: Any,
    ):
        from health.models import Measure, Threshold

        fields.setdefault("dimension", "current_state")
        fields.setdefault("kind", "number")
        fields.setdefault("better", "" if fields["kind"] == "event" else "higher")
        measure = Measure.objects.create(
            code=f"{self.case}-{key}", name=f"{self.case} {key}", **fields
        )
        Threshold.objects.create(
            measure=measure, segment=None, red=Decimal(red), green=Decimal(green), weight=weight
        )
        for segment, segment_red, segment_green, segment_weight in lines:
            Threshold.objects.create(
                measure=measure,
                segment=self.segments[segment],
                red=Decimal(segment_red),
                green=Decimal(segment_green),
                weight=segment_weight,
            )
        return measure

    @staticmethod
    def observe(account, measure, value: str | int, days_before: int = 0) -> None:
        from django.utils import timezone

        from health.models import Observation

        Observation.objects.create(
            account=account,
            measure=measure,
            value=Decimal(str(value)),
            observed_on=D - dt.timedelta(days=days_before),
            recorded_at=timezone.now(),
        )

    def score(self, as_of: dt.date = D) -> None:
        from health.scoring import score_accounts

        score_accounts(as_of, self.ids)


def _values(book: _Book) -> None:
    book.start("values")
    up = book.measure("up", 20, 100, weight=10)
    down = book.measure("down", 30, 7, weight=30, better="lower")
    nps = book.measure("nps", -20, 40, weight=7, dimension="interest")
    cases = {
        "between": (60, 12, 10),  # 50 and 78.26…: 71 overall
        "beyond-red": (10, 45, -50),
        "at-red": (20, 30, -20),
        "beyond-green": (150, 0, 77),
        "at-green": (100, 7, 40),
        "decimals": ("33.3333", "7.5", "-0.0001"),
    }
    for key, (up_value, down_value, nps_value) in cases.items():
        account = book.account(key)
        book.observe(account, up, up_value)
        book.observe(account, down, down_value, days_before=3)
        book.observe(account, nps, nps_value, days_before=30)
    book.account("nothing-observed")
    book.score()


def _freshness(book: _Book) -> None:
    book.start("freshness")
    one = book.measure("one", 0, 100, stale_after_days=45)
    other = book.measure("other", 0, 100, stale_after_days=45)
    newest = book.account("newest-on-or-before-the-day")
    book.observe(newest, one, 10, days_before=20)
    book.observe(newest, one, 80, days_before=5)
    book.observe(newest, one, 0, days_before=-1)  # after the day: not seen
    book.observe(newest, other, 30, days_before=45)  # exactly 45 days: still fresh
    stale = book.account("one-stale")
    book.observe(stale, one, 40)
    book.observe(stale, other, 100, days_before=46)
    both_stale = book.account("both-stale")
    book.observe(both_stale, one, 40, days_before=60)
    book.observe(both_stale, other, 100, days_before=46)
    book.score()


def _change(book: _Book) -> None:
    book.start("change")
    usage = book.measure("usage", -30, 0, weight=15, scoring="change", baseline_days=90)
    anchor = book.measure("anchor", 0, 100, weight=5)
    series = {
        # m = 150 (the value 91 days back is outside the window): -20 %
        "window-edges": [(91, 1000), (90, 100), (60, 150), (30, 200), (0, 120)],
        # m = 200: -12.345 % exactly, a half at the second decimal
        "half-cent-change": [(14, 200), (7, 200), (0, "175.31")],
        # m = 100.333…: a mean that does not terminate
        "thirds-mean": [(21, 100), (14, 100), (7, 101), (0, 90)],
        "growth": [(30, 100), (0, 130)],
        "at-red": [(30, 100), (0, 70)],
        "no-baseline": [(0, 120)],
        "zero-baseline": [(7, 0), (0, 50)],
        "decimal-values": [(35, "12.3456"), (28, "0.0001"), (0, "9.8765")],
        "negative-baseline": [(14, -40), (0, -10)],
    }
    for key, points in series.items():
        account = book.account(key)
        for days_before, value in points:
            book.observe(account, usage, value, days_before)
        book.observe(account, anchor, 55)
    book.score()
    # The baseline window moves with the latest observation, not with the day scored.
    book.score(D + dt.timedelta(days=30))


def _events(book: _Book) -> None:
    book.start("events")
    sponsor_left = book.measure(
        "sponsor-left", 0, 0, weight=5, kind="event", stale_after_days=90, dimension="interest"
    )
    logins = book.measure("logins", 0, 100, weight=15)
    cases = {"inside": 89, "edge": 90, "long-ago": 400, "on-the-day": 0, "after-the-day": -3}
    for key, days_before in cases.items():
        account = book.account(key)
        book.observe(account, sponsor_left, 1, days_before)
        book.observe(account, logins, 64)
    never = book.account("never")
    book.observe(never, logins, 64)
    book.account("only-the-event-counts")  # an event never leaves the card: 5 / 20 covered
    book.score()


def _coverage(book: _Book) -> None:
    # Coverage rounds half up at the fourth decimal: 17/32 = 0.53125, 81/160 = 0.50625.
    for case, weights in {"coverage-32": (17, 15), "coverage-160": (81, 79)}.items():
        book.start(case)
        covered = book.measure("covered", 0, 100, weight=weights[0])
        book.measure("uncovered", 0, 100, weight=weights[1])
        account = book.account("half-up")
        book.observe(account, covered, 45)
        book.score()
    book.start("coverage-under-half")
    ten = book.measure("ten", 0, 100, weight=10)
    book.measure("eleven", 0, 100, weight=11)
    account = book.account("ten-of-twenty-one")
    book.observe(account, ten, 90)
    book.score()


def _segments(book: _Book) -> None:
    book.start("segments")
    logins = book.measure("logins", 20, 100, weight=10, lines=(("smb", 5, 30, 10),))
    size = book.measure("size", 1, 4, weight=10, dimension="fit", lines=(("smb", 1, 2, 0),))
    tickets = book.measure(
        "tickets", 10, 2, weight=5, better="lower", lines=(("strategic", 20, 5, 8),)
    )
    # Not scored by default, only for SMB.
    checks = book.measure("checks", 0, 2, weight=0, lines=(("smb", 0, 1, 10),))
    for segment in ("mid-market", "smb", "strategic"):
        account = book.account(segment, segment=segment)
        book.observe(account, logins, 25)
        book.observe(account, tickets, 9)
        book.observe(account, checks, 1)
        if segment != "mid-market":
            book.observe(account, size, 3)
    book.score()


def _halves(book: _Book) -> None:
    book.start("halves")
    over_200 = book.measure("over-200", 0, 200, weight=1)
    # 49.5, 50.5, 0.5, 48.5, 39.5 (red or yellow?), 69.5 (yellow or green?)
    for value in (99, 101, 1, 97, 79, 139):
        book.observe(book.account(f"v{value}"), over_200, value)
    book.score()

    book.start("thirds")
    first = book.measure("first", 0, 3, weight=1, dimension="interest")
    second = book.measure("second", 0, 3, weight=1, dimension="interest")
    third = book.measure("third", 0, 200, weight=1, dimension="interest")
    fit = book.measure("fit", 0, 3, weight=3, dimension="fit")
    for key, values in {
        # (100/3 + 200/3 + 48.5) / 3 = 49.5 in every dimension that has them
        "sum-is-49.5": (1, 2, 97, None),
        "with-fit": (1, 2, 97, 1),  # (148.5 + 3 · 33.33…) / 6 = 41.41…
        "sum-is-69.5": (2, 2, "141.6666", 2),
    }.items():
        account = book.account(key)
        for measure, value in zip((first, second, third, fit), values, strict=True):
            if value is not None:
                book.observe(account, measure, value)
    book.score()


def _sub_scores(book: _Book) -> None:
    book.start("sub-scores")
    fit = book.measure("fit", 0, 100, weight=10, dimension="fit")
    interest_a = book.measure("interest-a", 0, 100, weight=10, dimension="interest")
    interest_b = book.measure("interest-b", 0, 100, weight=30, dimension="interest")
    book.measure("state", 0, 100, weight=10, dimension="current_state")  # never observed
    account = book.account("three-dimensions")
    book.observe(account, fit, 30)
    book.observe(account, interest_a, 60)
    book.observe(account, interest_b, 100)
    book.score()


def _whole_book(book: _Book) -> list[int]:
    """Every account active on the day, chunk by chunk, as the daily task does;
    an older day scored afterwards does not replace the newest on the account."""
    from accounts.models import AccountStatus
    from health.scoring import score_accounts

    book.start("book")
    level = book.measure("level", 0, 100, weight=10)
    for index in range(5):
        book.observe(book.account(f"active-{index}"), level, 15 * index + 12)
    book.account("churned-before", status=AccountStatus.CHURNED, churned_on=D)
    late = book.account(
        "churned-after", status=AccountStatus.CHURNED, churned_on=D + dt.timedelta(days=10)
    )
    book.observe(late, level, 44)
    return [
        score_accounts(D + dt.timedelta(days=1), chunk_size=2),
        score_accounts(D - dt.timedelta(days=6), chunk_size=3),
    ]


def run_scenario() -> dict[str, Any]:
    """Build the scenario, score it and return every HealthScore row and each
    account's mirrored health, in an order both databases agree on."""
    from accounts.models import Account
    from health.models import HealthScore

    book = _Book()
    for case in (_values, _freshness, _change, _events, _coverage, _segments, _halves):
        case(book)
    _sub_scores(book)
    counts = _whole_book(book)
    rows = [
        {
            "account": row["account__external_id"],
            "as_of": row["as_of"].isoformat(),
            "score": row["score"],
            "band": row["band"],
            "coverage": str(row["coverage"]),
            "fit": row["fit"],
            "current_state": row["current_state"],
            "interest": row["interest"],
            "parts": row["parts"],
        }
        for row in HealthScore.objects.order_by("account__external_id", "as_of").values(
            "account__external_id",
            "as_of",
            "score",
            "band",
            "coverage",
            "fit",
            "current_state",
            "interest",
            "parts",
        )
    ]
    mirrored = {
        external_id: [score, band, as_of.isoformat() if as_of else None]
        for external_id, score, band, as_of in Account.objects.filter(
            external_id__isnull=False
        ).values_list("external_id", "health_score", "health_band", "health_as_of")
    }
    return {"counts": counts, "rows": rows, "accounts": mirrored}


_SQLITE_SCRIPT = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
assert connection.vendor == "sqlite", connection.vendor
from tests.health.test_sqlite_parity import run_scenario
print("PARITY " + json.dumps(run_scenario()))
"""


def _on_sqlite(folder: Path) -> dict[str, Any]:
    """run_scenario in a fresh process with the local settings (what `make run`
    uses) on a new SQLite file."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_NOT_INHERITED)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{folder / 'parity.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "-c", _SQLITE_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PARITY "))
    return json.loads(line.removeprefix("PARITY "))


def _numbers_as_decimals(value: Any) -> Any:
    """JSON numbers compared by value: PostgreSQL writes 60.0000 where SQLite
    writes 60, and both mean the same."""
    if isinstance(value, dict):
        return {key: _numbers_as_decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_decimals(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return Decimal(str(value))


def test_sqlite_scores_the_scenario_exactly_like_postgresql(tmp_path):
    from django.db import connection

    assert connection.vendor == "postgresql"
    postgres = json.loads(json.dumps(run_scenario()))
    sqlite = _on_sqlite(tmp_path)

    assert sqlite["counts"] == postgres["counts"]
    assert sqlite["accounts"] == postgres["accounts"]
    assert [(row["account"], row["as_of"]) for row in sqlite["rows"]] == [
        (row["account"], row["as_of"]) for row in postgres["rows"]
    ]
    for on_sqlite, on_postgres in zip(sqlite["rows"], postgres["rows"], strict=True):
        assert _numbers_as_decimals(on_sqlite) == _numbers_as_decimals(on_postgres), (
            on_postgres["account"],
            on_postgres["as_of"],
        )


def test_the_scenario_reaches_the_cases_it_is_about():
    """The parity above means little unless the scenario hits the edges."""
    rows = {(row["account"], row["as_of"]): row for row in run_scenario()["rows"]}

    def at(account: str, as_of: dt.date = D) -> dict[str, Any]:
        return rows[(account, as_of.isoformat())]

    # 50 (w 10), 78.26… (w 30) and 50 (w 7): 3197.8… / 47 = 68.04…
    assert at("values/between")["score"] == 68
    assert at("halves/v99")["score"] == 50 and at("halves/v79")["band"] == "yellow"
    assert at("halves/v139")["band"] == "green"
    thirds = at("thirds/sum-is-49.5")
    assert (thirds["score"], thirds["interest"], thirds["fit"]) == (50, 50, None)
    assert at("change/half-cent-change")["parts"]["change-usage"]["change"] == -12.35
    assert at("change/no-baseline")["parts"]["change-usage"]["score"] is None
    assert at("coverage-32/half-up")["coverage"] == "0.5313"
    assert at("coverage-160/half-up")["coverage"] == "0.5063"
    under = at("coverage-under-half/ten-of-twenty-one")
    assert (under["score"], under["band"], under["coverage"]) == (None, "unknown", "0.4762")
    assert at("events/inside")["parts"]["events-sponsor-left"]["score"] == 0
    assert at("events/edge")["parts"]["events-sponsor-left"]["score"] == 100
    assert at("freshness/both-stale")["band"] == "unknown"
    assert at("segments/smb")["score"] != at("segments/mid-market")["score"]
    sub = at("sub-scores/three-dimensions")
    assert (sub["fit"], sub["interest"], sub["current_state"]) == (30, 90, None)
    assert ("book/churned-before", (D + dt.timedelta(days=1)).isoformat()) not in rows
    assert ("book/churned-after", (D + dt.timedelta(days=1)).isoformat()) in rows
