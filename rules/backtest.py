"""A rule's backtest (docs/domain.md, "Rule backtest"): its conditions
replayed on a date every week back from today, each replay with only the
data known on its date, set against the churns that followed. Nothing is
written.

With ``end`` (today), ``weeks = months * 52 // 12`` and the replay dates
D_k = end - 7k (k = 0 … weeks - 1), window_start the earliest:

- fired: the accounts the rule matched on at least one replay date;
  first_match the earliest such date;
- churned_after: the fired accounts with a churn (a renewal with outcome
  churned) dated in (first_match, first_match + horizon_days];
- precision = churned_after / fired;
- recall = recalled / churns_in_window, where churns_in_window are the churns
  of the accounts in the rule's scope dated in (window_start, end] and
  recalled those whose account matched on some replay date D with
  D < churn date ≤ D + horizon_days;
- median_lead_days: the median over the churned_after accounts of (their
  first churn in that horizon - first_match).

One statement computes every figure (rules.conditions.build_replay_query
replays every date at once), whatever the number of accounts or dates.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from .evaluation import measures_by_code, rule_replay_query
from .models import Rule

DEFAULT_MONTHS = 12
MAX_MONTHS = 36
DEFAULT_HORIZON_DAYS = 180
MAX_HORIZON_DAYS = 730
# The fired accounts listed: the first ones to match.
LISTED = 50
RATE_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.1")


def replay_dates(end: dt.date, months: int) -> list[dt.date]:
    """The replay dates, oldest first: end - 7k for k = 0 … months * 52 // 12 - 1."""
    weeks = months * 52 // 12
    return [end - dt.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]


@dataclass(frozen=True)
class WeekCount:
    day: dt.date
    matched: int  # the accounts the rule matched on this replay date


@dataclass(frozen=True)
class FiredAccount:
    account_id: int
    name: str
    first_match: dt.date
    churn_date: dt.date | None  # the first churn in (first_match, first_match + horizon]
    lead_days: int | None  # churn_date - first_match


@dataclass(frozen=True)
class Backtest:
    months: int
    horizon_days: int
    end: dt.date
    window_start: dt.date
    weekly: list[WeekCount]  # one per replay date, oldest first
    fired: int
    churned_after: int
    precision: Decimal | None
    churns_in_window: int
    recalled: int
    recall: Decimal | None
    median_lead_days: Decimal | None
    accounts: list[FiredAccount]  # the first LISTED by first match

    @property
    def weeks(self) -> int:
        return len(self.weekly)

    @property
    def replay_dates(self) -> list[dt.date]:
        return [week.day for week in self.weekly]


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole to 4 places; None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _json(value: Any) -> list[Any]:
    # PostgreSQL hands json back as text here, SQLite always does; no rows → NULL.
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _sql(ctes: str, scope: str, d: Any, horizon_days: int) -> str:
    horizon = str(int(horizon_days))
    lead = d.days_between.format(start="first_match", end="churn_date")
    weekly_item = d.json_array.format(items="w.day, w.matched")
    listed_item = d.json_array.format(items="account_id, name, first_match, churn_date")
    return f"""WITH {ctes},
    first_matches AS (
        SELECT account_id, min(day) AS first_match FROM hit GROUP BY account_id),
    fired AS (
        SELECT f.account_id, f.first_match,
               (SELECT min(r.renewal_date) FROM accounts_renewal r
                WHERE r.account_id = f.account_id AND r.outcome = 'churned'
                  AND r.renewal_date > f.first_match
                  AND r.renewal_date <= {d.plus_days.format(d="f.first_match", n=horizon)}
               ) AS churn_date
        FROM first_matches f),
    churns AS (
        SELECT r.account_id, r.renewal_date FROM accounts_renewal r
        JOIN accounts_account a ON a.id = r.account_id
        WHERE r.outcome = 'churned' AND r.renewal_date > {d.date.format(name="window_start")}
          AND r.renewal_date <= {d.date.format(name="end")} AND {scope}),
    leads AS (
        SELECT {lead} AS lead_days, row_number() OVER (ORDER BY {lead}) AS place,
               count(*) OVER () AS total
        FROM fired WHERE churn_date IS NOT NULL),
    weekly AS (
        SELECT w.day, count(h.account_id) AS matched
        FROM replay_days w LEFT JOIN hit h ON h.day = w.day GROUP BY w.day),
    listed AS (
        SELECT f.account_id, a.name, f.first_match, f.churn_date
        FROM fired f JOIN accounts_account a ON a.id = f.account_id
        ORDER BY f.first_match, f.account_id LIMIT %(listed)s)
    SELECT
        (SELECT count(*) FROM fired),
        (SELECT count(churn_date) FROM fired),
        (SELECT count(*) FROM churns),
        (SELECT count(*) FROM churns c WHERE EXISTS (
            SELECT 1 FROM hit h WHERE h.account_id = c.account_id
              AND h.day < c.renewal_date
              AND h.day >= {d.minus_days.format(d="c.renewal_date", n=horizon)})),
        -- The median: the middle lead, or the mean of the two middle ones.
        (SELECT avg(lead_days) FROM leads
         WHERE place IN ((total + 1) / 2, (total + 2) / 2)),
        (SELECT {d.json_list.format(item=weekly_item)} FROM weekly w),
        (SELECT {d.json_list.format(item=listed_item)} FROM listed)"""


def backtest(
    rule: Rule,
    *,
    months: int = DEFAULT_MONTHS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    end: dt.date | None = None,
) -> Backtest:
    """Replay the rule (saved, or an unsaved one holding a definition: its
    scope and clean conditions) on every replay date back from ``end``
    (today), with only the data known on each date, and set its matches
    against the churns. ``months`` and ``horizon_days`` must already be
    checked (rules.services.rule_backtest). Conflict when its conditions can
    no longer run. Two queries (the measures, then every figure)."""
    end = end or timezone.localdate()
    days = replay_dates(end, months)
    query, scope, d = rule_replay_query(rule, days=days, measures=measures_by_code())
    params = {
        **query.params,
        "window_start": days[0],
        "end": end,
        "listed": LISTED,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(query.ctes, scope, d, horizon_days), params)
        fired, churned_after, churns, recalled, median, weekly, listed = cursor.fetchone()
    weeks = sorted(
        (WeekCount(day=_date(day), matched=int(matched)) for day, matched in _json(weekly)),
        key=lambda week: week.day,
    )
    accounts = []
    for account_id, name, first_match, churn_date in _json(listed):
        first, churned = _date(first_match), _date(churn_date)
        accounts.append(
            FiredAccount(
                account_id=int(account_id),
                name=name,
                first_match=first,
                churn_date=churned,
                lead_days=(churned - first).days if churned else None,
            )
        )
    accounts.sort(key=lambda row: (row.first_match, row.account_id))
    return Backtest(
        months=months,
        horizon_days=horizon_days,
        end=end,
        window_start=days[0],
        weekly=weeks,
        fired=fired,
        churned_after=churned_after,
        precision=rate(churned_after, fired),
        churns_in_window=churns,
        recalled=recalled,
        recall=rate(recalled, churns),
        median_lead_days=(
            None
            if median is None
            else Decimal(str(median)).quantize(DAYS_PLACES, rounding=ROUND_HALF_UP)
        ),
        accounts=accounts,
    )
