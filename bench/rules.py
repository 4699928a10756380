"""Risk-rule figures of `make bench`: ten rules of every condition type
evaluated over every bench account, the statements that takes for 10,000
and for 100,000 active accounts, and how fast matches are acted on."""

from __future__ import annotations

import statistics
import time
from datetime import date

from django.db import connection, transaction

from bench.health import count_queries

# Ten rules a team might run, over the seeded measures, each at most three
# conditions; some match many accounts, some few.
RULES = (
    ("Red", [{"type": "band_is", "band": "red"}]),
    (
        "Yellow and renewing",
        [{"type": "band_is", "band": "yellow"}, {"type": "renewal_within", "days": 120}],
    ),
    ("Score fell", [{"type": "score_drop", "points": 10, "days": 3}]),
    ("Few logins", [{"type": "measure_below", "measure": "logins-30d", "value": 20}]),
    ("Old ticket", [{"type": "measure_above", "measure": "oldest-ticket-age", "value": 30}]),
    ("Usage down", [{"type": "measure_change_below", "measure": "usage-volume", "percent": -30}]),
    ("Sponsor left", [{"type": "event_within", "measure": "sponsor-left", "days": 90}]),
    (
        "Detractors renewing",
        [
            {"type": "measure_below", "measure": "nps", "value": 0},
            {"type": "renewal_within", "days": 180},
        ],
    ),
    (
        "Fees down and red",
        [
            {"type": "measure_below", "measure": "fees-yoy", "value": -10},
            {"type": "band_is", "band": "red"},
        ],
    ),
    (
        "Three signals",
        [
            {"type": "measure_below", "measure": "csat", "value": 70},
            {"type": "measure_above", "measure": "open-tickets", "value": 5},
            {"type": "renewal_within", "days": 365},
        ],
    ),
)
# Matches acted on for the actions figure (each opens a record or notes one).
ACTED = 500


def create_rules(user) -> None:
    from risks.models import RootCause
    from rules import services

    cause = RootCause.objects.order_by("pk").first()
    for name, conditions in RULES:
        services.rule_create(
            user=user,
            values={
                "name": name,
                "conditions": conditions,
                "actions": ["open_risk"],
                "primary_cause": cause,
                "active": True,
            },
        )


def _statements(as_of: date, active_accounts: int | None) -> int:
    """Statements one evaluation of every rule runs with this many active
    accounts (the others churned for the count), rolled back afterwards."""
    from accounts.models import Account
    from rules.evaluation import evaluate_rules

    with transaction.atomic():
        if active_accounts is not None:
            # The accounts after the first `active_accounts` churn (none when
            # the bench has fewer).
            first_left_out = list(
                Account.objects.order_by("pk").values_list("pk", flat=True)[
                    active_accounts : active_accounts + 1
                ]
            )
            if first_left_out:
                Account.objects.filter(pk__gte=first_left_out[0]).update(
                    status="churned", churned_on=as_of
                )
        with count_queries() as statements:
            result = evaluate_rules(as_of=as_of)
        transaction.set_rollback(True)
    assert result.rules == len(RULES), result
    return len(statements)


def measure_rules(as_of: date, user, repeat: int) -> dict[str, object]:
    from accounts.models import Account
    from rules.evaluation import act_on_pending, evaluate_rules
    from rules.models import RuleMatch

    create_rules(user)
    runs, matched = [], 0
    for _ in range(repeat):
        RuleMatch.objects.all().delete()
        start = time.perf_counter()
        # Every episode starts: each rule writes all its matches.
        matched = evaluate_rules(as_of=as_of).matched
        runs.append(time.perf_counter() - start)
    start = time.perf_counter()
    steady = evaluate_rules(as_of=as_of)  # nothing new: the daily case
    steady_s = time.perf_counter() - start
    assert steady.matched == 0, steady

    start = time.perf_counter()
    acted = act_on_pending(limit=ACTED)
    act_s = time.perf_counter() - start

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE rules_rulematch")
    active = Account.objects.filter(status="active").count()
    return {
        "rules_accounts": active,
        "rules_matches": matched,
        "rules_eval_s": round(statistics.median(runs), 2),
        "rules_eval_steady_s": round(steady_s, 2),
        "rules_eval_queries_10k": _statements(as_of, 10_000),
        "rules_eval_queries_100k": _statements(as_of, None),
        "rules_act_per_s": round(acted / act_s, 1) if act_s else 0,
    }
