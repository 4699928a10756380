"""Celery tasks of the risk rules. Both are safe to run twice or at once: an
evaluation locks each rule while it runs, and a match is acted on once."""

from __future__ import annotations

from celery import shared_task

from . import evaluation

# The evaluation is a few statements per rule; the actions open records one
# by one (docs/operations.md, "Performance").
LIMITS = {"soft_time_limit": 480, "time_limit": 540}


@shared_task(name="rules.tasks.evaluate_rules", **LIMITS)
def evaluate_rules(account_ids: list[int] | None = None) -> dict[str, int]:
    """Daily (beat), and after every scoring run of today (for the accounts
    it scored): evaluate the active rules as of today, then take the new
    matches' actions."""
    result = evaluation.evaluate_rules(account_ids=account_ids)
    if result.matched:
        act_on_matches.delay()
    return {"rules": result.rules, "matched": result.matched, "cleared": result.cleared}


@shared_task(name="rules.tasks.act_on_matches", **LIMITS)
def act_on_matches() -> int:
    """Take the actions of the matches not acted on yet, oldest first."""
    return evaluation.act_on_pending()
