"""Health signals for the demo accounts since before their two years of
renewals, shaped by their risk history and their renewals.

Every demo account gets an observation of each seeded measure every week for
the year before today, and every four weeks for the 15 months before that
(the feed's monthly history from before the team moved to Red Account), NPS
once a quarter, a sponsor leaving as an event on its day. The score history
is then computed with the real scoring on each of those days, as
``manage.py health_backfill`` does, so that the renewals of the last two years
(demo.renewals) have a score from 90 days before them. The values follow a
story per account, drawn from a fixed seed, so every machine sees the same one:

- accounts that later churned decline for months before the churn: usage and
  logins fall, a ticket stays open and ages, often a sponsor leaves, and their
  data ends on the day they churned. Most were red three months before; two
  lost their sponsor months before and otherwise stayed well until weeks
  before the end (the churns the score missed);
- accounts with a saved (or withdrawn) record dip around the record and recover;
- accounts with an open record are falling now, deeper at higher tiers;
- a few accounts with no open record have turned red in the last weeks (the
  Health page's accountability list), one of them in the demo CSM's book;
- a few have stale or missing product data, so their band is unknown;
- ten went through a rough patch the year before last, red three months before
  a renewal that they renewed, most at a lower price;
- the rest stay healthy, most of them green.

The fees year on year follow the account's renewals (the change of the
contract's ARR against a year earlier).

Each measure's value is placed between its red and green thresholds for the
account's segment (as the scorecard holds them when the seed runs), so the
bands follow the scorecard. Writing is idempotent like the rest of the demo:
only accounts without any observation get them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from health.models import Observation, Source, Threshold
from health.scoring import score_accounts
from health.services import backfill_days

from . import renewals as demo_renewals
from .facts import AccountFacts, RecordFacts

HEALTH_SEED = 20250602
BATCH_SIZE = 5000
# Weekly observations over the last year, every four weeks before, back to
# here: 90 days before a renewal two years ago, and a little more.
WEEKLY_DAYS = 365
HISTORY_DAYS = 840

# Observations from the product and the support desk; a broken feed stops them.
USAGE, SUPPORT, SENTIMENT = 0, 1, 2
FEED_MEASURES = (
    "logins-30d",
    "active-user-share",
    "feature-adoption",
    "usage-volume",
    "open-tickets",
    "oldest-ticket-age",
)
SPONSOR_LEFT = "sponsor-left"
# Which signals a record's primary cause pulls down most: (usage, support, sentiment).
CAUSE_EMPHASIS = {
    "low-usage": (1.0, 0.5, 0.7),
    "incomplete-onboarding": (1.0, 0.6, 0.6),
    "lost-champion": (0.8, 0.4, 1.0),
    "organisational-change": (0.8, 0.4, 1.0),
    "value-not-realised": (0.8, 0.5, 1.0),
    "missing-capability": (0.8, 0.5, 1.0),
    "defects": (0.6, 1.0, 0.8),
    "performance-reliability": (0.6, 1.0, 0.8),
    "integration-gap": (0.7, 1.0, 0.8),
    "usability": (0.8, 0.8, 0.8),
}
SPONSOR_CAUSES = {"lost-champion", "organisational-change"}
TICKET_CAUSES = {"defects", "performance-reliability", "integration-gap", "usability"}
# Weekly product events of a typical account per segment.
SEGMENT_VOLUME = {"strategic": 150_000, "enterprise": 40_000, "mid-market": 10_000, "smb": 2_000}
# Company size band (1 to 5) per segment.
SEGMENT_SIZE = {"strategic": (4, 5), "enterprise": (3, 4), "mid-market": (2, 3), "smb": (1, 2)}
SILENT_RED_COUNT = 6
STALE_COUNT = 2
MISSING_COUNT = 1
# Only accounts whose last record closed longer ago than this turn red unnoticed
# or lose their feed, so that each trouble is a story of its own.
QUIET_AFTER_DAYS = 150
# A record is about the renewal when the renewal came this soon after a day it was open.
AT_STAKE = dt.timedelta(days=90)


@dataclass(frozen=True)
class Episode:
    """A dip of the account's signals: they fall from `start` to `depth` below
    normal by `bottom`, stay there until `hold_until`, then climb back by
    `recovered` (never, when `recovered` is None)."""

    start: dt.date
    bottom: dt.date
    depth: float
    emphasis: tuple[float, float, float]
    hold_until: dt.date | None = None
    recovered: dt.date | None = None
    # A ticket raised early in the trouble that stays open while it lasts.
    stuck_ticket: dt.date | None = None

    def dip(self, day: dt.date) -> float:
        if day <= self.start:
            return 0.0
        if day < self.bottom:
            share = (day - self.start).days / max(1, (self.bottom - self.start).days)
            return self.depth * share * share * (3 - 2 * share)  # a smooth fall
        if self.recovered is None or self.hold_until is None or day <= self.hold_until:
            return self.depth
        if day >= self.recovered:
            return 0.0
        share = (day - self.hold_until).days / max(1, (self.recovered - self.hold_until).days)
        return self.depth * (1 - share)

    def ticket_age(self, day: dt.date) -> int | None:
        if self.stuck_ticket is None or day < self.stuck_ticket:
            return None
        if self.recovered is not None and day >= self.recovered:
            return None
        return (day - self.stuck_ticket).days


@dataclass
class Story:
    kind: str
    base: float  # 1 = at the green thresholds, 0 = at the red ones
    episodes: list[Episode] = field(default_factory=list)
    sponsor_left: list[dt.date] = field(default_factory=list)
    last_day: dt.date | None = None  # churned: no data after it
    feed_stopped: dt.date | None = None  # product and support data end here
    feed_missing: bool = False  # never had product or support data
    contract: demo_renewals.AccountRenewals | None = None  # its fees year on year

    def level(self, day: dt.date, signal: int, wobble: float) -> float:
        dip = sum(episode.dip(day) * episode.emphasis[signal] for episode in self.episodes)
        return max(-0.15, min(1.25, self.base + wobble - dip))

    def ticket_age(self, day: dt.date) -> int | None:
        ages = [age for e in self.episodes if (age := e.ticket_age(day)) is not None]
        return max(ages) if ages else None

    def fees_on(self, day: dt.date) -> Decimal:
        return self.contract.fees_yoy(day) if self.contract else Decimal(0)


# --- the stories -----------------------------------------------------------------


def _days(rng: random.Random, low: int, high: int) -> dt.timedelta:
    return dt.timedelta(days=rng.randint(low, high))


def _record_episodes(
    rng: random.Random,
    record: RecordFacts,
    today: dt.date,
    *,
    sudden: bool = False,
    renewal_at_stake: bool = False,
) -> list[Episode]:
    """The dips of a record's story, the first one starting weeks before it
    opened. ``sudden``: a churn that came out of the blue (demo.renewals);
    ``renewal_at_stake``: a renewal came up while the record was open or
    within three months of it."""
    emphasis = CAUSE_EMPHASIS.get(record.cause, (0.8, 0.7, 0.8))
    start = record.opened_on - _days(rng, 21, 49)
    if record.status == "churned" and record.closed_on is not None:
        return _churn_episodes(rng, start, record.closed_on, emphasis, sudden=sudden)
    stuck = None
    if record.cause in TICKET_CAUSES or record.tier == 3:
        stuck = _stuck(rng, start)
    if record.status == "open":
        # The higher the tier, the more of every signal is down.
        floor = {1: 0.0, 2: 0.75, 3: 0.9}[record.tier]
        emphasis = (
            max(floor, emphasis[USAGE]),
            max(floor, emphasis[SUPPORT]),
            max(floor, emphasis[SENTIMENT]),
        )
        depth = {1: (0.45, 0.7), 2: (0.6, 0.85), 3: (0.8, 1.0)}[record.tier]
        bottom = min(today, record.opened_on + _days(rng, 7, 21))
        return [Episode(start, bottom, rng.uniform(*depth), emphasis, stuck_ticket=stuck)]
    closed = record.closed_on
    bottom = max(record.opened_on + (closed - record.opened_on) / 2, start + dt.timedelta(days=7))
    if record.status == "saved":
        low, high = (0.55, 0.85)
        if renewal_at_stake:
            # Saved with the renewal at stake: in deep trouble, and red early,
            # before the save.
            low, high = (0.85, 1.05)
            emphasis = (max(0.9, emphasis[USAGE]), max(0.8, emphasis[SUPPORT]), 0.9)
            bottom = min(bottom, start + _days(rng, 14, 28))
        depth, back = rng.uniform(low, high), _days(rng, 21, 42)
    else:  # withdrawn: a scare that was not one
        depth, back = rng.uniform(0.2, 0.4), _days(rng, 7, 21)
    return [
        Episode(
            start,
            bottom,
            depth,
            emphasis,
            hold_until=closed,
            recovered=closed + back,
            stuck_ticket=stuck,
        )
    ]


def _churn_episodes(
    rng: random.Random,
    start: dt.date,
    closed: dt.date,
    emphasis: tuple[float, float, float],
    *,
    sudden: bool,
) -> list[Episode]:
    """Down and red by the last weekly score before the churn on ``closed``."""
    # Usage and logins always go: a churning customer has stopped using the product.
    emphasis = (1.0, max(0.9, emphasis[SUPPORT]), max(0.9, emphasis[SENTIMENT]))
    last_weeks = closed - dt.timedelta(days=10)
    if sudden:
        # Nothing showed but the sponsor leaving until the last weeks.
        start = max(start, closed - dt.timedelta(days=70))
        bottom = max(start + dt.timedelta(days=14), last_weeks)
        return [
            Episode(
                start, bottom, rng.uniform(0.92, 1.05), emphasis, stuck_ticket=_stuck(rng, start)
            )
        ]
    # Months of decline, most often well before anyone filed (most were red
    # three months before the churn), then a slide to nothing: what use was
    # left goes too, so the usage keeps falling against its own past.
    start = min(start, closed - _days(rng, 100, 190))
    bottom = min(start + _days(rng, 25, 50), last_weeks)
    return [
        Episode(start, bottom, rng.uniform(0.75, 0.9), emphasis, stuck_ticket=_stuck(rng, start)),
        Episode(bottom, last_weeks, rng.uniform(0.2, 0.3), emphasis),
    ]


def _stuck(rng: random.Random, start: dt.date) -> dt.date:
    """A ticket raised early in the trouble that stays open."""
    return start + _days(rng, 0, 14)


def plan_stories(
    accounts: list[AccountFacts],
    records: list[RecordFacts],
    today: dt.date,
    renewals: list[demo_renewals.AccountRenewals] | None = None,
) -> list[Story]:
    """One story per account (in the order given), from the fixed seed alone.
    ``renewals``: the accounts' renewals (demo.renewals), planned from the same
    facts when not given."""
    if renewals is None:
        renewals = plan_renewals(accounts, records, today)
    rng = random.Random(HEALTH_SEED)
    by_account: dict[int, list[RecordFacts]] = {}
    for record in sorted(records, key=lambda r: (r.account_index, r.opened_on)):
        by_account.setdefault(record.account_index, []).append(record)

    # Accounts with no record open or churned, and none closed lately: most stay
    # healthy; some turn red unnoticed, some lose their data feed.
    settled = today - dt.timedelta(days=QUIET_AFTER_DAYS)
    quiet = [
        index
        for index in range(len(accounts))
        if all(
            record.closed_on is not None
            and record.status != "churned"
            and record.closed_on < settled
            for record in by_account.get(index, [])
        )
    ]
    demo_csm = [index for index in quiet if accounts[index].csm == "csm"]
    others = [index for index in quiet if index not in demo_csm]
    rng.shuffle(others)
    # One of them in SMB, where the demo's usage rule (demo.rules) watches.
    smb = [index for index in others if accounts[index].segment == "smb"][:1]
    others = smb + [index for index in others if index not in smb]
    silent_red = set(demo_csm[:1] + others[: SILENT_RED_COUNT - len(demo_csm[:1])])
    others = others[SILENT_RED_COUNT - len(demo_csm[:1]) :]
    stale = set(others[:STALE_COUNT])
    missing = set(others[STALE_COUNT : STALE_COUNT + MISSING_COUNT])

    stories = []
    for index, account in enumerate(accounts):
        # Each account draws from its own generator: its story does not move
        # when another account's changes.
        account_rng = random.Random(f"{HEALTH_SEED}-{account.external_id}")
        base = account_rng.uniform(0.88, 1.15)
        if account_rng.random() < 0.2:
            base = account_rng.uniform(0.62, 0.82)  # steady, but never quite green
        contract = renewals[index]
        sudden = contract.story == demo_renewals.SUDDEN_CHURN
        story = Story(kind="steady", base=base, contract=contract)
        for record in by_account.get(index, []):
            story.kind = record.status
            story.base = max(base, 0.9)
            at_stake = record.closed_on is not None and any(
                record.opened_on <= renewal.renewal_date - AT_STAKE <= record.closed_on
                for renewal in contract.renewals
            )
            episodes = _record_episodes(
                account_rng, record, today, sudden=sudden, renewal_at_stake=at_stake
            )
            story.episodes += episodes
            episode = episodes[0]
            sponsor_chance = 1.0 if record.cause in SPONSOR_CAUSES else 0.25
            if record.status == "churned":
                sponsor_chance = max(sponsor_chance, 0.75)
                story.last_day = record.closed_on
            if sudden and record.closed_on is not None:
                # Months before the churn, while everything else still looked well.
                story.sponsor_left.append(record.closed_on - _days(account_rng, 100, 125))
            elif account_rng.random() < sponsor_chance:
                left = min(episode.start + _days(account_rng, 0, 21), record.opened_on)
                if record.closed_on is not None and record.status == "churned":
                    # Weeks before the churn, not in its last days.
                    left = min(left, record.closed_on - dt.timedelta(days=21))
                story.sponsor_left.append(left)
        if contract.rough_patch is not None:
            story.kind = "rough_patch" if story.kind == "steady" else story.kind
            story.episodes.append(_rough_patch(account_rng, contract.rough_patch))
        if index in silent_red:
            story.kind = "silent_red"
            story.base = max(story.base, account_rng.uniform(0.9, 1.05))
            start = today - _days(account_rng, 21, 35)
            story.episodes.append(
                Episode(
                    start,
                    today - _days(account_rng, 0, 3),
                    account_rng.uniform(0.85, 1.0),
                    (1.0, 0.8, 0.9),
                    stuck_ticket=start + _days(account_rng, 0, 10),
                )
            )
            if account_rng.random() < 0.5:
                story.sponsor_left.append(start + _days(account_rng, 7, 21))
        elif index in stale:
            story.kind = "stale"
            story.feed_stopped = today - _days(account_rng, 56, 84)
        elif index in missing:
            story.kind = "missing"
            story.feed_missing = True
        stories.append(story)
    return stories


def _rough_patch(rng: random.Random, renewal: dt.date) -> Episode:
    """Red three months before ``renewal``, recovered within weeks after it."""
    start = renewal - _days(rng, 140, 170)
    return Episode(
        start,
        renewal - _days(rng, 95, 110),
        rng.uniform(0.85, 1.0),
        rng.choice(list(CAUSE_EMPHASIS.values())),
        hold_until=renewal - _days(rng, 20, 40),
        recovered=renewal + _days(rng, 20, 50),
        stuck_ticket=start + _days(rng, 0, 14) if rng.random() < 0.5 else None,
    )


def history_days(today: dt.date) -> list[dt.date]:
    """The days observed and scored: every week of the last year and every
    four weeks before, back HISTORY_DAYS, all on today's weekday."""
    weekly = backfill_days(today - dt.timedelta(days=WEEKLY_DAYS), today, 7)
    monthly = backfill_days(today - dt.timedelta(days=HISTORY_DAYS), today, 28)
    return sorted(set(weekly) | set(monthly))


def plan_renewals(
    accounts: list[AccountFacts], records: list[RecordFacts], today: dt.date
) -> list[demo_renewals.AccountRenewals]:
    """The accounts' renewals from a year before the first day observed (the
    fees year on year of that day compare with it)."""
    since = history_days(today)[0] - dt.timedelta(days=366)
    return demo_renewals.plan_renewals(accounts, records, today, since)


# --- the observations ------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    red: float
    green: float

    def at(self, level: float) -> float:
        """The value `level` of the way from red (0) to green (1), beyond
        either when level is outside [0, 1]."""
        return self.red + (self.green - self.red) * level


def _scorecard() -> tuple[dict[str, int], dict[tuple[str, str | None], _Line]]:
    """Measure ids by code, and each (measure, segment) line's red and green."""
    lines: dict[tuple[str, str | None], _Line] = {}
    measures: dict[str, int] = {}
    for threshold in Threshold.objects.select_related("measure", "segment"):
        code = threshold.measure.code
        measures[code] = threshold.measure_id
        segment = threshold.segment.code if threshold.segment else None
        lines[(code, segment)] = _Line(float(threshold.red), float(threshold.green))
    return measures, lines


def _observations_of(
    story: Story,
    account: AccountFacts,
    days: list[dt.date],
    line: dict[str, _Line],
) -> list[tuple[str, dt.date, Decimal, str]]:
    """(measure code, day, value, source) of one account's history."""
    rng = random.Random(f"{HEALTH_SEED}-values-{account.external_id}")
    period = rng.uniform(8, 20) * 7
    phase = rng.uniform(0, 2 * math.pi)
    volume = SEGMENT_VOLUME.get(account.segment, 10_000) * rng.uniform(0.6, 1.6)
    size = rng.randint(*SEGMENT_SIZE.get(account.segment, (2, 3)))
    nps_week = rng.randrange(13)
    nps_quarter = None
    rows: list[tuple[str, dt.date, Decimal, str]] = []

    def add(
        code: str,
        day: dt.date,
        value: float | Decimal,
        places: int = 0,
        source: str = Source.API,
    ) -> None:
        # A Decimal (the fees) rounds as a decimal number, half to even.
        if code in line:
            rows.append((code, day, Decimal(str(round(value, places))), source))

    for day in days:
        if story.last_day is not None and day > story.last_day:
            break
        # A slow swing of a few points, so that steady accounts are not flat lines.
        wobble = 0.04 * math.sin(phase + 2 * math.pi * (day - days[0]).days / period)
        usage = story.level(day, USAGE, wobble)
        support = story.level(day, SUPPORT, wobble)
        sentiment = story.level(day, SENTIMENT, wobble)

        def noisy(level: float, spread: float = 0.06) -> float:
            return level + rng.gauss(0, spread)

        feed = not story.feed_missing and (story.feed_stopped is None or day <= story.feed_stopped)
        if feed:
            if "logins-30d" in line:
                add("logins-30d", day, max(0.0, line["logins-30d"].at(noisy(usage))))
            if "active-user-share" in line:
                share = line["active-user-share"].at(noisy(usage))
                add("active-user-share", day, min(100.0, max(0.0, share)), 1)
            if "feature-adoption" in line:
                adoption = line["feature-adoption"].at(noisy(usage, 0.04))
                add("feature-adoption", day, min(100.0, max(0.0, adoption)), 1)
            level = min(1.15, max(0.0, usage))
            add("usage-volume", day, volume * (0.35 + 0.65 * level) * rng.uniform(0.96, 1.04))
            tickets = 0.0
            if "open-tickets" in line:
                tickets = max(0.0, line["open-tickets"].at(noisy(support, 0.08)))
                add("open-tickets", day, tickets)
            age = story.ticket_age(day)
            if age is None and "oldest-ticket-age" in line:
                age = 0 if round(tickets) == 0 else line["oldest-ticket-age"].at(noisy(support))
            if age is not None:
                add("oldest-ticket-age", day, max(0, round(age)))
        if "csat" in line:
            csat = line["csat"].at(noisy((support + sentiment) / 2, 0.05))
            add("csat", day, min(100.0, max(0.0, csat)), 1, Source.CSV)
        if "health-checks" in line:
            add("health-checks", day, min(4, max(0, round(2.4 * noisy(sentiment, 0.1)))))
        # The survey goes out once a quarter: on the first day observed in it.
        quarter = ((days[-1] - day).days // 7 + nps_week) // 13
        if quarter != nps_quarter and "nps" in line:
            nps_quarter = quarter
            nps = line["nps"].at(noisy(sentiment, 0.1))
            add("nps", day, min(100.0, max(-100.0, nps)), 0, Source.CSV)
        add("fees-yoy", day, story.fees_on(day), 1, Source.MANUAL)
        add("company-size", day, size, 0, Source.MANUAL)
    for day in story.sponsor_left:
        if days[0] <= day <= days[-1] and (story.last_day is None or day <= story.last_day):
            add(SPONSOR_LEFT, day, 1, 0, Source.MANUAL)
    return rows


def _insert_observations(rows: list[tuple]) -> None:
    """Insert (account id, measure id, day, value, source) rows: with COPY on
    PostgreSQL, in batches of one executemany on SQLite. Not bulk_create: the
    ORM prepares every field of every row in Python and, on SQLite, sends 166
    rows a statement, which made this the slowest step of the seed."""
    columns = "account_id, measure_id, observed_on, value, source, recorded_at"
    table = Observation._meta.db_table
    # Recorded early on the day observed, as a nightly feed would have.
    recorded_at = {
        day: dt.datetime.combine(day, dt.time(6), dt.UTC) for day in {row[2] for row in rows}
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, recorded_at[row[2]]))
            return
        ops = connection.ops
        adapted = {
            day: (ops.adapt_datefield_value(day), ops.adapt_datetimefield_value(at))
            for day, at in recorded_at.items()
        }
        sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)"
        for start in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(
                sql,
                [
                    (account_id, measure_id, adapted[day][0], value, source, adapted[day][1])
                    for account_id, measure_id, day, value, source in rows[
                        start : start + BATCH_SIZE
                    ]
                ],
            )


def seed_health(
    accounts: list[AccountFacts],
    account_ids: list[int],
    records: list[RecordFacts],
    today: dt.date,
    renewals: list[demo_renewals.AccountRenewals],
) -> tuple[int, int, int]:
    """Write the history of observations of the demo accounts that have none
    yet, then score each of its days (history_days) for the demo accounts.
    Returns the observations written, the accounts they were written for, and
    the days scored (none when nothing was written)."""
    measures, lines = _scorecard()
    if not measures:
        return 0, 0, 0
    have_data = set(
        Observation.objects.filter(account_id__in=account_ids)
        .values_list("account_id", flat=True)
        .distinct()
    )
    days = history_days(today)
    stories = plan_stories(accounts, records, today, renewals)
    rows: list[tuple] = []
    written_for = 0
    for account, account_id, story in zip(accounts, account_ids, stories, strict=True):
        if account_id in have_data:
            continue
        line = {
            code: lines.get((code, account.segment)) or lines[(code, None)]
            for code in measures
            if (code, account.segment) in lines or (code, None) in lines
        }
        written_for += 1
        rows += (
            (account_id, measures[code], day, value, source)
            for code, day, value, source in _observations_of(story, account, days, line)
        )
    _insert_observations(rows)
    if not rows:
        return 0, 0, 0
    for day in days:
        score_accounts(day, account_ids)
    return len(rows), written_for, len(days)
