"""The bench dataset, written with COPY (psycopg 3) from a seeded
``random.Random``, so two runs with the same sizes load the same rows.

What is generated (sizes from the environment, see ``Sizes``):

- ``regions`` regions, each with one manager, two reviewers and its share of
  the CSMs (400 by default, 20 per region);
- ``accounts`` accounts spread over the regions, owned by a CSM of their region;
- ``risks`` risk records: ``open`` open ones on distinct accounts (tiers 1 to 3,
  with a pending escalation on about one in ten below tier 3), and the rest
  closed — saved, churned or withdrawn — evenly over the last three years;
- an ``opened`` timeline event for every open record. Closed records get no
  timeline and no escalation history: no measured path reads them.

Every CHECK constraint of the models holds: closed records carry closed_at
and arr_retained (≤ arr_at_risk; 0 unless saved), the secondary cause differs
from the primary, max_tier ≥ tier, and no account has two open records.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

SEED = 20_260_701
CSMS_PER_REGION = 20
COPY_CHUNK = 20_000

TIMEZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
]
SUMMARIES = [
    "Usage fell by half over the last quarter.",
    "The sponsor left and nobody owns the renewal.",
    "Onboarding stalled after the kick-off.",
    "Two severity-one defects are still open.",
    "The integration with their CRM never went live.",
]
NEXT_STEPS = [
    "Book an executive business review.",
    "Run an adoption workshop with the admins.",
    "Escalate the defects to engineering.",
    "Agree a success plan with the new sponsor.",
]
OUTCOME_NOTES = {
    "saved": "Renewed after the success plan.",
    "churned": "Did not renew.",
    "withdrawn": "Risk no longer applies.",
}
# Root causes are not equally common: the first ones dominate.
CAUSE_WEIGHTS = [20, 14, 12, 10, 9, 8, 8, 7, 6, 6]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw.replace("_", "")) if raw else default


@dataclass(frozen=True)
class Sizes:
    accounts: int
    risks: int
    open: int
    regions: int

    @classmethod
    def from_env(cls) -> Sizes:
        sizes = cls(
            accounts=_env_int("BENCH_ACCOUNTS", 100_000),
            risks=_env_int("BENCH_RISKS", 1_000_000),
            open=_env_int("BENCH_OPEN", 20_000),
            regions=_env_int("BENCH_REGIONS", 20),
        )
        if not 0 < sizes.open <= min(sizes.accounts, sizes.risks):
            raise SystemExit(
                "BENCH_OPEN must be at least 1 and at most BENCH_ACCOUNTS and BENCH_RISKS"
            )
        if sizes.regions < 1:
            raise SystemExit("BENCH_REGIONS must be at least 1")
        return sizes


def _text(value: object) -> str:
    """One COPY text-format field (the generated values hold no tab, newline or backslash)."""
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _copy(table: str, columns: Iterable[str], rows: Iterator[tuple]) -> int:
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            chunk: list[str] = []
            for row in rows:
                chunk.append("\t".join(map(_text, row)))
                if len(chunk) >= COPY_CHUNK:
                    copy.write("\n".join(chunk) + "\n")
                    count += len(chunk)
                    chunk = []
            if chunk:
                copy.write("\n".join(chunk) + "\n")
                count += len(chunk)
    return count


def _reset_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
        )


@dataclass
class People:
    csms_by_region: dict[int, list[int]]


def _regions(sizes: Sizes) -> list[int]:
    def rows() -> Iterator[tuple]:
        for n in range(1, sizes.regions + 1):
            yield (
                n,
                f"R{n:02d}",
                f"Region {n:02d}",
                TIMEZONES[(n - 1) % len(TIMEZONES)],
                (n - 1) % 5,
                "15:00",
            )

    _copy(
        "accounts_region",
        ["id", "code", "name", "timezone", "review_weekday", "review_time"],
        rows(),
    )
    _reset_sequence("accounts_region")
    return list(range(1, sizes.regions + 1))


def _users(region_ids: list[int], now: dt.datetime) -> People:
    columns = [
        "id",
        "password",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
        "role",
        "department",
        "manager_id",
        "region_id",
    ]
    from django.db.models import Max

    from accounts.models import User

    csms_by_region: dict[int, list[int]] = {}
    rows: list[tuple] = []
    # After the users the migrations wrote (the rules' system user).
    next_id = (User.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    departments = ["product", "support", "professional_services", "sales", "finance"]
    for region_id in region_ids:
        manager_id = next_id
        next_id += 1
        rows.append(
            (
                manager_id,
                "!",
                False,
                f"manager{region_id:02d}",
                "Manager",
                f"{region_id:02d}",
                f"manager{region_id:02d}@example.com",
                False,
                True,
                now,
                "manager",
                "",
                None,
                region_id,
            )
        )
        for n in range(2):
            rows.append(
                (
                    next_id,
                    "!",
                    False,
                    f"reviewer{region_id:02d}{n}",
                    "Reviewer",
                    f"{region_id:02d}-{n}",
                    f"reviewer{region_id:02d}{n}@example.com",
                    False,
                    True,
                    now,
                    "reviewer",
                    departments[(region_id + n) % len(departments)],
                    None,
                    region_id,
                )
            )
            next_id += 1
        csms_by_region[region_id] = []
        for n in range(CSMS_PER_REGION):
            rows.append(
                (
                    next_id,
                    "!",
                    False,
                    f"csm{region_id:02d}{n:02d}",
                    "CSM",
                    f"{region_id:02d}-{n:02d}",
                    f"csm{region_id:02d}{n:02d}@example.com",
                    False,
                    True,
                    now,
                    "csm",
                    "",
                    manager_id,
                    region_id,
                )
            )
            csms_by_region[region_id].append(next_id)
            next_id += 1
    _copy("accounts_user", columns, iter(rows))
    _reset_sequence("accounts_user")
    return People(csms_by_region=csms_by_region)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def generate(sizes: Sizes) -> dict[str, int]:
    """Loads the dataset into the (migrated, empty) database; returns row counts."""
    from accounts.models import Segment
    from risks.models import RootCause

    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = now.date()
    region_ids = _regions(sizes)
    people = _users(region_ids, now)
    segment_ids = list(Segment.objects.order_by("pk").values_list("pk", flat=True))
    segment_weights = [5, 15, 35, 45][: len(segment_ids)] or [1]
    cause_ids = list(RootCause.objects.order_by("pk").values_list("pk", flat=True))
    cause_weights = (CAUSE_WEIGHTS + [5] * len(cause_ids))[: len(cause_ids)]

    # --- accounts -------------------------------------------------------------
    account_region: list[int] = [0]
    account_csm: list[int] = [0]
    account_arr: list[Decimal] = [Decimal(0)]
    for _ in range(sizes.accounts):
        region_id = rng.choice(region_ids)
        account_region.append(region_id)
        account_csm.append(rng.choice(people.csms_by_region[region_id]))
        account_arr.append(_money(rng, 5_000, 2_000_000))

    def account_rows() -> Iterator[tuple]:
        for account_id in range(1, sizes.accounts + 1):
            yield (
                account_id,
                f"CRM-{account_id:07d}",
                f"Account {account_id:06d}",
                account_region[account_id],
                rng.choices(segment_ids, segment_weights)[0],
                account_arr[account_id],
                today + dt.timedelta(days=rng.randrange(-30, 730)),
                account_csm[account_id],
                "active",
            )

    counts = {
        "accounts": _copy(
            "accounts_account",
            [
                "id",
                "external_id",
                "name",
                "region_id",
                "segment_id",
                "arr",
                "renewal_date",
                "csm_id",
                "status",
            ],
            account_rows(),
        )
    }
    _reset_sequence("accounts_account")

    # --- risk records ---------------------------------------------------------
    open_accounts = rng.sample(range(1, sizes.accounts + 1), sizes.open)
    three_years = 3 * 365 * 86_400
    escalations: list[tuple] = []
    events: list[tuple] = []

    def causes() -> tuple[int, int | None]:
        primary = rng.choices(cause_ids, cause_weights)[0]
        if rng.random() < 0.4:
            secondary = rng.choice([cause for cause in cause_ids if cause != primary])
            return primary, secondary
        return primary, None

    def risk_rows() -> Iterator[tuple]:
        for risk_id in range(1, sizes.risks + 1):
            primary, secondary = causes()
            summary = rng.choice(SUMMARIES)
            steps = rng.choice(NEXT_STEPS)
            if risk_id <= sizes.open:
                account_id = open_accounts[risk_id - 1]
                csm = account_csm[account_id]
                tier = rng.choices([1, 2, 3], [60, 25, 15])[0]
                max_tier = tier if rng.random() < 0.9 else rng.randint(tier, 3)
                opened_at = now - dt.timedelta(seconds=rng.randrange(86_400, 180 * 86_400))
                tier_changed_at = opened_at
                if tier > 1:
                    span = int((now - opened_at).total_seconds())
                    tier_changed_at = opened_at + dt.timedelta(seconds=rng.randrange(span))
                arr_at_risk = account_arr[account_id]
                if tier < 3 and rng.random() < 0.1:
                    requested_at = max(
                        tier_changed_at, now - dt.timedelta(seconds=rng.randrange(10 * 86_400))
                    )
                    escalations.append(
                        (
                            risk_id,
                            tier,
                            tier + 1,
                            "pending",
                            "Needs the next tier.",
                            csm,
                            requested_at,
                            "",
                        )
                    )
                events.append((risk_id, "opened", csm, opened_at, summary, "{}"))
                yield (
                    risk_id, account_id, primary, secondary, tier, max_tier, "open",
                    summary, steps, arr_at_risk, None, csm, opened_at, tier_changed_at,
                    None, None, "", 1,
                )  # fmt: skip
                continue
            account_id = rng.randint(1, sizes.accounts)
            csm = account_csm[account_id]
            status = rng.choices(["saved", "churned", "withdrawn"], [45, 40, 15])[0]
            max_tier = rng.choices([1, 2, 3], [55, 30, 15])[0]
            tier = rng.randint(1, max_tier)
            closed_at = now - dt.timedelta(seconds=rng.randrange(three_years))
            opened_at = closed_at - dt.timedelta(seconds=rng.randrange(86_400, 150 * 86_400))
            span = int((closed_at - opened_at).total_seconds())
            tier_changed_at = (
                opened_at
                if max_tier == 1
                else opened_at + dt.timedelta(seconds=rng.randrange(span))
            )
            arr_at_risk = account_arr[account_id]
            if status == "saved":
                arr_retained = (
                    arr_at_risk
                    if rng.random() < 0.8
                    else (arr_at_risk * Decimal(rng.randrange(50, 95)) / 100).quantize(
                        Decimal("0.01")
                    )
                )
            else:
                arr_retained = Decimal("0.00")
            yield (
                risk_id, account_id, primary, secondary, tier, max_tier, status,
                summary, steps, arr_at_risk, arr_retained, csm, opened_at, tier_changed_at,
                csm, closed_at, OUTCOME_NOTES[status], 2,
            )  # fmt: skip

    counts["risks"] = _copy(
        "risks_riskrecord",
        [
            "id", "account_id", "primary_cause_id", "secondary_cause_id", "tier", "max_tier",
            "status", "summary", "next_steps", "arr_at_risk", "arr_retained", "opened_by_id",
            "opened_at", "tier_changed_at", "closed_by_id", "closed_at", "outcome_note", "version",
        ],
        risk_rows(),
    )  # fmt: skip
    _reset_sequence("risks_riskrecord")
    counts["escalations"] = _copy(
        "risks_escalation",
        [
            "risk_id", "from_tier", "to_tier", "status", "reason", "requested_by_id",
            "requested_at", "decision_note",
        ],
        iter(escalations),
    )  # fmt: skip
    counts["timeline_events"] = _copy(
        "risks_timelineevent",
        ["risk_id", "kind", "actor_id", "at", "text", "data"],
        iter(events),
    )
    with connection.cursor() as cursor:
        # Statistics for the planner, and the visibility map that index-only
        # scans need: what autovacuum does to a table that has settled.
        cursor.execute("VACUUM ANALYZE")
    return counts
