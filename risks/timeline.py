"""A record's timeline in words: the one place that turns timeline events (kind,
actor, text and the ``data`` each writer stores) into what the pages show.

Events name other objects by id or code. Causes are looked up by code and
people by id here, one query per kind for the whole timeline. Events written by
apps above this one (the weekly review's notes and action items) name their
agenda by id; such an app registers a *reference resolver* at start-up
(``register_resolver``) that names and links those objects for a batch of
events, so this module never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import Department, User
from core.dates import in_words

from .models import RiskStatus, RootCause, TimelineEvent, TimelineKind
from .templatetags.risk_tags import money

FIELD_LABELS = {
    "primary_cause": "Primary cause",
    "secondary_cause": "Secondary cause",
    "summary": "Summary",
    "next_steps": "Next steps",
    "arr_at_risk": "ARR at risk",
    "arr_retained": "ARR retained",
}
FIELD_ORDER = {name: index for index, name in enumerate(FIELD_LABELS)}
CAUSE_FIELDS = ("primary_cause", "secondary_cause")
MONEY_FIELDS = ("arr_at_risk", "arr_retained")
LONG_FIELDS = ("summary", "next_steps")


@dataclass(frozen=True)
class Link:
    """A named object an event refers to, and where its page is ("" for none)."""

    text: str
    url: str = ""


# (kind of object, id) → Link, for the events of one timeline.
References = dict[tuple[str, int], Link]
Resolver = Callable[[list[TimelineEvent]], References]
_resolvers: list[Resolver] = []


def register_resolver(resolver: Resolver) -> None:
    """Called by an app above this one, from its AppConfig.ready, to name the
    objects its events refer to. A resolver answers for a whole batch of events
    in a fixed number of queries."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


@dataclass
class Change:
    label: str
    before: str
    after: str
    long: bool = False


@dataclass
class TimelineEntry:
    """One event as the page shows it: ``headline``, ``link`` and ``details``
    render the event's ``data`` (tiers, outcome, changed fields, the review it
    came from) in words."""

    event: TimelineEvent
    headline: str = ""
    link: Link | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    show_text: bool = True


@dataclass
class _Names:
    causes: dict[str, str]
    people: dict[int, str]
    references: References
    current_summary: str | None = None


def _data(event: TimelineEvent) -> dict[str, Any]:
    return event.data if isinstance(event.data, dict) else {}


def _cause_codes(events: Iterable[TimelineEvent]) -> set[str]:
    codes: set[str] = set()
    for event in events:
        data = _data(event)
        codes.update(data[name] for name in CAUSE_FIELDS if data.get(name))
        for name, change in (data.get("changed") or {}).items():
            if name in CAUSE_FIELDS and isinstance(change, dict):
                codes.update(code for code in (change.get("from"), change.get("to")) if code)
    return codes


def _names(events: list[TimelineEvent]) -> _Names:
    """Everything the events mention by code or id, named: a query per kind."""
    codes = _cause_codes(events)
    causes = (
        dict(RootCause.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    )
    owner_ids = {_data(event).get("owner") for event in events} - {None}
    people = (
        {user.pk: str(user) for user in User.objects.filter(pk__in=owner_ids)} if owner_ids else {}
    )
    references: References = {}
    for resolver in _resolvers:
        references.update(resolver(events))
    return _Names(causes=causes, people=people, references=references)


def _show(name: str, value: Any, names: _Names) -> str:
    if value in (None, ""):
        return "—"
    if name in CAUSE_FIELDS:
        return names.causes.get(value, value)
    if name in MONEY_FIELDS:
        try:
            return money(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    return str(value)


def _in_sentence(name: str) -> str:
    label = FIELD_LABELS.get(name, name.replace("_", " "))
    # "ARR at risk" keeps its acronym; "Summary" becomes "summary".
    return label if label[:3].isupper() else label.lower()


def _review_event(entry: TimelineEntry, data: dict[str, Any], names: _Names) -> None:
    """A note or an action item from the weekly review: which review, and for an
    action its owner, department and due date — by name, never by id."""
    agenda = data.get("agenda")
    link = names.references.get(("agenda", agenda)) if isinstance(agenda, int) else None
    if link is None and data.get("region") and data.get("week_start"):
        link = Link(f"{data['region']} review, week of {in_words(data['week_start'])}")
    entry.link = link or Link("the weekly review")
    entry.headline = "From the cross-functional review"
    if entry.event.kind == TimelineKind.ACTION_ADDED:
        _task_details(entry, data, names)


def _task_details(entry: TimelineEntry, data: dict[str, Any], names: _Names) -> None:
    """A task's owner, department and due date, by name, never by id."""
    owner = data.get("owner")
    if isinstance(owner, int):
        entry.details.append(("Owner", names.people.get(owner, "a former user")))
    if data.get("department"):
        try:
            department = Department(data["department"]).label
        except ValueError:
            department = str(data["department"]).replace("_", " ").capitalize()
        entry.details.append(("Department", department))
    if data.get("due_date"):
        entry.details.append(("Due", in_words(data["due_date"])))


def _rule_link(entry: TimelineEntry, data: dict[str, Any], names: _Names) -> bool:
    """Link the risk rule behind an event (a record it opened, a note it
    added): by the app that owns rules, else by the name saved with the event.
    False when no rule is behind it."""
    rule = data.get("rule")
    if not isinstance(rule, int):
        return False
    entry.link = names.references.get(("rule", rule)) or Link(
        str(data.get("rule_name") or "a risk rule")
    )
    return True


def _describe(event: TimelineEvent, names: _Names) -> TimelineEntry:
    data = _data(event)
    entry = TimelineEntry(event=event)
    kind = event.kind
    tiers = ""
    if "from_tier" in data and "to_tier" in data:
        tiers = f"Tier {data['from_tier']} → {data['to_tier']}"
    if data.get("cancelled_escalation"):
        entry.details.append(("Pending escalation", "cancelled"))

    if kind == TimelineKind.OPENED:
        entry.headline = f"Filed at tier {data.get('tier', 1)}"
        # The summary it was filed with is on the page already while unchanged.
        entry.show_text = event.text != names.current_summary
        entry.details += [
            ("Primary cause", _show("primary_cause", data.get("primary_cause"), names)),
            ("Secondary cause", _show("secondary_cause", data.get("secondary_cause"), names)),
            ("ARR at risk", _show("arr_at_risk", data.get("arr_at_risk"), names)),
        ]
        if data.get("arr_above_account_reason"):
            entry.details.append(("Above the account's ARR", data["arr_above_account_reason"]))
        if _rule_link(entry, data, names):
            entry.headline += " by the risk rule"
    elif kind == TimelineKind.NOTE and _rule_link(entry, data, names):
        entry.headline = "Evidence from the risk rule"
    elif kind == TimelineKind.ESCALATION_APPROVED:
        entry.headline = tiers
        if data.get("self_approved"):
            entry.headline += " · approved at once (requested by someone who may decide)"
    elif kind == TimelineKind.ESCALATION_REJECTED:
        entry.headline = f"{tiers} · stays at tier {data.get('from_tier')}" if tiers else ""
    elif kind in (TimelineKind.ESCALATION_REQUESTED, TimelineKind.DEESCALATED):
        entry.headline = tiers
    elif kind == TimelineKind.EDITED:
        # JSON objects come back from PostgreSQL in their own key order: show
        # the fields in the form's order. The event's text is generated from
        # the same data, so the headline replaces it.
        changed = data.get("changed") or {}
        ordered = sorted(
            changed, key=lambda name: (name not in FIELD_ORDER, FIELD_ORDER.get(name, 0))
        )
        entry.headline = "Changed " + ", ".join(_in_sentence(name) for name in ordered)
        entry.show_text = False
        if data.get("arr_above_account_reason"):
            entry.details.append(("Above the account's ARR", data["arr_above_account_reason"]))
        for name in ordered:
            change = changed[name] if isinstance(changed[name], dict) else {}
            entry.changes.append(
                Change(
                    label=FIELD_LABELS.get(name, name.replace("_", " ").capitalize()),
                    before=_show(name, change.get("from"), names),
                    after=_show(name, change.get("to"), names),
                    long=name in LONG_FIELDS,
                )
            )
    elif kind == TimelineKind.CLOSED:
        try:
            outcome = RiskStatus(data.get("outcome")).label
        except ValueError:
            outcome = str(data.get("outcome", "")).capitalize()
        entry.headline = f"Outcome: {outcome}"
        if data.get("outcome") == RiskStatus.SAVED:
            entry.details.append(
                (
                    "ARR retained",
                    f"{_show('arr_retained', data.get('arr_retained'), names)} of "
                    f"{_show('arr_at_risk', data.get('arr_at_risk'), names)} at risk",
                )
            )
        elif data.get("outcome") == RiskStatus.CHURNED and "arr_at_risk" in data:
            # Withdrawn records lose nothing: they were no risk (as in the reports).
            entry.details.append(("ARR lost", _show("arr_at_risk", data["arr_at_risk"], names)))
        if data.get("account_churned_on"):
            entry.details.append(("Account", f"churned on {in_words(data['account_churned_on'])}"))
    elif kind in (TimelineKind.REVIEW_NOTE, TimelineKind.ACTION_ADDED):
        _review_event(entry, data, names)
    elif kind == TimelineKind.PLAYBOOK_STARTED:
        count = data.get("tasks")
        name = data.get("playbook_name") or "the cause's playbook"
        entry.headline = f"Playbook \u201c{name}\u201d"
        if isinstance(count, int):
            entry.headline += f": {count} task{'' if count == 1 else 's'} added"
        entry.show_text = False
    elif kind == TimelineKind.TASK_ADDED:
        _task_details(entry, data, names)
    else:
        entry.headline = tiers
    return entry


def timeline_entries(
    events: list[TimelineEvent], *, current_summary: str | None = None
) -> list[TimelineEntry]:
    """The events in words, in the order given. With the record's
    ``current_summary`` (the page shows it), the filing event leaves out the
    same text instead of showing it twice."""
    names = _names(events)
    names.current_summary = current_summary
    return [_describe(event, names) for event in events]
