"""Two years of renewals for the demo accounts, told by the same story as
their risk records and their health.

Every account's contract comes up once a year, on the anniversary of its
renewal date (``Account.renewal_date`` is the next one); a churned account's on
the anniversary of its churn, which is its last renewal. The plan reaches back
further than the two years written, so that the fees year on year of the
health history (demo.health) follow the same contracts. The outcomes:

- an account whose record closed as churned churns on the day it closed
  (``churned_on``); the renewal a year before was most often a downsell, the
  first sign. Two of them churned "out of the blue": a sponsor left months
  before while everything else stayed well (demo.health), so the score was
  still green three months before the churn, and their renewal before was an
  ordinary one. The lesson the calibration report shows;
- a save with a downsell (``arr_retained`` below ``arr_at_risk``) is a
  downsell at the account's first renewal after the closing, by the ARR the
  record gave up; an account that was saved renews (or downsells), never churns;
- ten accounts went through a rough patch in the year before last, before
  the team filed risk records: their signals were red three months before the
  renewal, and they renewed, most of them at a lower price;
- the rest renew, most of them with a small increase, a few flat, now and then
  with a small downsell.

ARR chains back from today's: the newest renewal of an active account ends at
``Account.arr``, a churned account's ARR before its churn is ``Account.arr``, and
each renewal's ARR before is the ARR after of the one a year earlier. All from
fixed seeds, so every machine sees the same story.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from accounts.models import RenewalOutcome

from .facts import AccountFacts, RecordFacts

RENEWAL_SEED = 20250604
WINDOW_YEARS = 2
ROUGH_PATCH_COUNT = 10
SUDDEN_CHURN_COUNT = 2
# Causes under which a churn can come "out of the blue": people leave.
SUDDEN_CAUSES = {"lost-champion", "organisational-change"}
# A sudden churn's record was open briefly: its trouble showed late.
SUDDEN_MAX_OPEN_DAYS = 45
# A rough patch led up to a renewal in this span before today (days): old enough
# to be before the risk records, recent enough for the score history to cover
# the fall before it.
ROUGH_PATCH_DAYS = (400, 660)
# The patch is over this long after its renewal, before any record's trouble.
ROUGH_PATCH_CLEAR = dt.timedelta(days=150)

SUDDEN_CHURN = "sudden_churn"
ROUGH_PATCH = "rough_patch"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PlannedRenewal:
    renewal_date: dt.date
    outcome: str
    arr_before: Decimal
    arr_after: Decimal

    def as_record(self, account_id: int) -> dict[str, str | int]:
        """The row the renewal importer takes."""
        return {
            "account": account_id,
            "renewal_date": self.renewal_date.isoformat(),
            "outcome": self.outcome,
            "arr_before": str(self.arr_before),
            "arr_after": str(self.arr_after),
        }


@dataclass(frozen=True)
class AccountRenewals:
    """One account's renewals, oldest first, including those before the two
    years written (they set the fees of the oldest health history)."""

    renewals: tuple[PlannedRenewal, ...]
    story: str = ""  # SUDDEN_CHURN, ROUGH_PATCH or ""
    rough_patch: dt.date | None = None  # the renewal the rough patch led up to

    def written(self, today: dt.date) -> list[PlannedRenewal]:
        """The renewals in the two years up to today."""
        since = years_before(today, WINDOW_YEARS)
        return [r for r in self.renewals if since < r.renewal_date <= today]

    def arr_on(self, day: dt.date) -> Decimal:
        """The ARR of the contract in force on ``day`` (a churn ends it: no
        signal is recorded after that)."""
        current = None
        for renewal in self.renewals:
            if renewal.outcome == RenewalOutcome.CHURNED:
                break
            if renewal.renewal_date > day:
                return current if current is not None else renewal.arr_before
            current = renewal.arr_after
        return current if current is not None else Decimal(0)

    def fees_yoy(self, day: dt.date) -> Decimal:
        """The health measure "fees year on year": the change, in %, of the
        contract's ARR on ``day`` against a year earlier."""
        now, before = self.arr_on(day), self.arr_on(day - dt.timedelta(days=365))
        if not before:
            return Decimal(0)
        return (now / before - 1) * HUNDRED


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _hundreds(amount: Decimal, rounding: str) -> Decimal:
    return ((amount / HUNDRED).quantize(Decimal(1), rounding=rounding) * HUNDRED).quantize(
        Decimal("0.01")
    )


def _raised_from(arr_after: Decimal, uplift: float) -> Decimal:
    """The ARR before a renewal that raised it by ``uplift`` (a share) to ``arr_after``."""
    if uplift <= 0:
        return arr_after
    before = _hundreds(arr_after / Decimal(str(1 + uplift)), ROUND_FLOOR)
    return max(HUNDRED, min(before, arr_after))


def _cut_from(arr_after: Decimal, cut: float) -> Decimal:
    """The ARR before a downsell that cut it by ``cut`` (a share) to ``arr_after``."""
    before = _hundreds(arr_after / Decimal(str(1 - cut)), ROUND_CEILING)
    return max(before, arr_after + HUNDRED)


def _sudden_churns(records: Sequence[RecordFacts]) -> set[int]:
    """The accounts whose churn came out of the blue: churns under a people
    cause whose record was open only briefly, the most recent first."""

    def fit(record: RecordFacts) -> tuple[bool, bool, int]:
        closed_on = record.closed_on or record.opened_on
        brief = (closed_on - record.opened_on).days <= SUDDEN_MAX_OPEN_DAYS
        return (record.cause not in SUDDEN_CAUSES, not brief, -closed_on.toordinal())

    churns = sorted((r for r in records if r.status == "churned" and r.closed_on), key=fit)
    return {record.account_index for record in churns[:SUDDEN_CHURN_COUNT]}


def _anniversaries(anchor: dt.date, since: dt.date, today: dt.date) -> list[dt.date]:
    """The anniversaries of ``anchor`` before it, from ``since`` to ``today``, newest first."""
    days = []
    years = 1
    while (day := years_before(anchor, years)) >= since:
        if day <= today:
            days.append(day)
        years += 1
    return days


def plan_renewals(
    accounts: Sequence[AccountFacts],
    records: Sequence[RecordFacts],
    today: dt.date,
    since: dt.date,
) -> list[AccountRenewals]:
    """Each account's renewals (in the order given) from ``since`` to today,
    from the fixed seed, the accounts and their records alone."""
    by_account: dict[int, list[RecordFacts]] = {}
    for record in records:
        by_account.setdefault(record.account_index, []).append(record)
    churns = {r.account_index: r for r in records if r.status == "churned" and r.closed_on}
    sudden = _sudden_churns(records)

    # The rough patches: accounts with a renewal in the span, well before any
    # record of theirs, chosen by the seed.
    span = [today - dt.timedelta(days=days) for days in reversed(ROUGH_PATCH_DAYS)]
    candidates: dict[int, dt.date] = {}
    for index, account in enumerate(accounts):
        if index in churns:
            continue
        first_record = min((r.opened_on for r in by_account.get(index, [])), default=today)
        in_span = [
            day
            for day in _anniversaries(account.renewal_date, since, today)
            if span[0] <= day <= span[1] and day + ROUGH_PATCH_CLEAR < first_record
        ]
        if in_span:
            candidates[index] = in_span[0]
    chosen = random.Random(RENEWAL_SEED).sample(
        sorted(candidates), min(ROUGH_PATCH_COUNT, len(candidates))
    )
    rough = {index: candidates[index] for index in chosen}

    plans = []
    for index, account in enumerate(accounts):
        story = SUDDEN_CHURN if index in sudden else ROUGH_PATCH if index in rough else ""
        plans.append(
            _account_renewals(
                account,
                by_account.get(index, []),
                churns.get(index),
                story,
                rough.get(index),
                today,
                since,
            )
        )
    return plans


def _account_renewals(
    account: AccountFacts,
    records: list[RecordFacts],
    churn: RecordFacts | None,
    story: str,
    rough_patch: dt.date | None,
    today: dt.date,
    since: dt.date,
) -> AccountRenewals:
    rng = random.Random(f"{RENEWAL_SEED}-{account.external_id}")
    anchor = churn.closed_on if churn and churn.closed_on else account.renewal_date
    days = _anniversaries(anchor, since, today)
    # A save that gave up ARR is a downsell at the first renewal after it.
    given_up: dict[dt.date, Decimal] = {}
    for record in records:
        if record.status == "saved" and record.closed_on and record.arr_lost > 0:
            later = [day for day in days if day > record.closed_on]
            if later:
                first = min(later)
                given_up[first] = given_up.get(first, Decimal(0)) + record.arr_lost

    planned = []
    arr = account.arr
    if churn and churn.closed_on:
        planned.append(
            PlannedRenewal(churn.closed_on, RenewalOutcome.CHURNED, arr, Decimal("0.00"))
        )
    # Newest first: each renewal's ARR after is the ARR before of the next one.
    for position, day in enumerate(days):
        if day in given_up:
            before = arr + given_up[day]
        elif churn and position == 0 and story != SUDDEN_CHURN and rng.random() < 0.6:
            before = _cut_from(arr, rng.uniform(0.04, 0.18))
        elif day == rough_patch:
            cut = rng.random() < 0.7
            before = _cut_from(arr, rng.uniform(0.1, 0.3)) if cut else arr
        elif rng.random() < 0.06:
            before = _cut_from(arr, rng.uniform(0.05, 0.15))
        else:
            before = _raised_from(arr, 0 if rng.random() < 0.25 else rng.uniform(0.02, 0.1))
        outcome = RenewalOutcome.DOWNSELL if before > arr else RenewalOutcome.RENEWED
        planned.append(PlannedRenewal(day, outcome, before, arr))
        arr = before
    planned.sort(key=lambda renewal: renewal.renewal_date)
    return AccountRenewals(tuple(planned), story, rough_patch)
