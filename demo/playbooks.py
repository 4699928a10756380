"""The demo's playbooks, one per default root cause plus two segments' own
plays, and the tasks they give the demo's risk records.

The records are written backdated with the ORM (see ``demo.data``), so their
tasks are made here as ``risks.services.apply_playbook`` would have made them
at the opening: the same play (``playbook_for``: the segment's own first), the
same titles, owners and due dates (``playbook_plan``, counted from the day
the record opened in the account's region), created by the record's opener at
the opening. Then each task is given a believable state, drawn from a seed of
its record so every machine sees the same story:

- closed records: nearly every task due before the closing was done before
  it; later ones were sometimes finished early, otherwise left open. Saved
  records' plays were mostly carried out on time, churned records' less
  often (more tasks late or never done): the program-effectiveness report's
  picture, a correlation the demo builds in;
- open records: most tasks past their due date are done (some a little late),
  a few are overdue; tasks not yet due are open, now and then done early.

A task done is written with ``done_at`` and ``done_by`` (its owner, or for a
department's task that department's reviewer in the account's region) and a
``task_done`` timeline event, as ``task_set_done`` writes them.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass

from accounts.models import Account, Role, Segment, User
from risks import services
from risks.models import Playbook, RiskRecord, RootCause, StepOwner, Task

CSM = StepOwner.CSM
MANAGER = StepOwner.MANAGER
PS = StepOwner.PROFESSIONAL_SERVICES
PRODUCT = StepOwner.PRODUCT
SUPPORT = StepOwner.SUPPORT
SALES = StepOwner.SALES
FINANCE = StepOwner.FINANCE


@dataclass(frozen=True)
class Step:
    title: str
    owner: str
    due_days: int  # business days after the record opens
    description: str


@dataclass(frozen=True)
class Play:
    cause: str
    segment: str | None  # None: every segment without its own play
    name: str
    description: str
    steps: tuple[Step, ...]


PLAYS = (
    Play(
        "low-usage",
        None,
        "Low usage: relaunch adoption",
        "Usage fell below what the contract assumes; find where, relaunch with the teams "
        "that dropped, and check the lift.",
        (
            Step("Pull the usage report by team and feature", CSM, 2,
                 "Find which teams and features dropped, and since when."),
            Step("Usage review with the customer's admin", CSM, 5,
                 "Walk through the figures together and agree the two teams to relaunch first."),
            Step("Relaunch training for the teams that dropped", PS, 15,
                 "Professional Services runs role-based sessions for the teams the review named."),
            Step("Usage check after the relaunch", CSM, 30,
                 "Compare active users with the baseline and escalate if there is no lift."),
        ),
    ),
    Play(
        "low-usage",
        "smb",
        "Low usage: SMB quick relaunch",
        "Small accounts get a light-touch relaunch the CSM runs alone.",
        (
            Step("Send the usage tips for their plan", CSM, 1,
                 "The three features their peers use most, with the two-minute videos."),
            Step("30-minute usage call with the account owner", CSM, 5,
                 "Agree one workflow to move into the product this month."),
            Step("Usage check", CSM, 20,
                 "Compare weekly logins with the month before the record opened."),
        ),
    ),
    Play(
        "lost-champion",
        None,
        "Lost sponsor: rebuild the relationship",
        "Our champion or sponsor left; find who owns the relationship now and show them "
        "the value before the renewal talk.",
        (
            Step("Map the new stakeholders", CSM, 5,
                 "Who owns the budget, who uses the product daily, and who replaced our champion."),
            Step("Executive sponsor call with their new lead", MANAGER, 10,
                 "Our manager introduces the team and hears their priorities for the year."),
            Step("Value review with the new sponsor", CSM, 20,
                 "Show what the product delivered so far, in their own KPIs."),
        ),
    ),
    Play(
        "lost-champion",
        "strategic",
        "Lost sponsor: Strategic accounts",
        "For our largest customers a lost sponsor is an executive matter: both sides' "
        "executives meet before the value review.",
        (
            Step("Map the new stakeholders and the org chart", CSM, 3,
                 "Who owns the budget now, who influences it, and who replaced our champion."),
            Step("Executive sponsor call with their new lead", MANAGER, 7,
                 "Our manager introduces the team and hears their priorities for the year."),
            Step("Executive-to-executive meeting", SALES, 10,
                 "The account executive sets up a meeting of our VP with their new executive."),
            Step("Value review with the new sponsor", CSM, 20,
                 "Show what the product delivered so far, in their own KPIs."),
        ),
    ),
    Play(
        "incomplete-onboarding",
        None,
        "Stalled onboarding: restart the project",
        "The implementation stopped before production use; restart it with a dated plan "
        "and owners on both sides.",
        (
            Step("Find where the implementation stopped", CSM, 2,
                 "Which milestone slipped, who was blocked, and what runs in parallel today."),
            Step("Restart plan from Professional Services", PS, 5,
                 "A project plan with named owners on both sides and a go-live date."),
            Step("Weekly implementation check-in in their calendar", CSM, 7,
                 "Thirty minutes every week with their project lead until go-live."),
            Step("Go-live review", MANAGER, 30,
                 "Confirm production use, or escalate if the plan slipped again."),
        ),
    ),
    Play(
        "value-not-realised",
        None,
        "Value gap: prove the outcome",
        "They use the product but cannot show the result they bought it for; measure it "
        "with their KPIs and take it to the economic buyer.",
        (
            Step("Agree the KPIs they measure us by", CSM, 5,
                 "Two or three numbers their leadership already tracks, with today's baseline."),
            Step("Package and price check with Finance", FINANCE, 10,
                 "Finance checks whether a package closer to their real use would fit better."),
            Step("Value report with their own figures", CSM, 15,
                 "Before and after, in their KPIs, signed off by their admin."),
            Step("Present the value report to the economic buyer", MANAGER, 20,
                 "Our manager and the CSM present it to whoever signs the renewal."),
        ),
    ),
    Play(
        "organisational-change",
        None,
        "Organisational change: secure the contract",
        "A merger, reorganisation or budget cut puts the purchase in question; reach the "
        "new decision maker with an offer early.",
        (
            Step("Find out who decides now, and by when", CSM, 3,
                 "The new owner of the budget and the date of their vendor review."),
            Step("Meeting with the new decision maker", MANAGER, 10,
                 "Our manager hears their plan and where our product fits in it."),
            Step("Contract options from Finance", FINANCE, 10,
                 "Terms for a group-wide contract or a smaller one we can offer."),
            Step("Commercial proposal from the account executive", SALES, 15,
                 "A written offer built on Finance's options, sent before their review."),
        ),
    ),
    Play(
        "missing-capability",
        None,
        "Missing capability: workaround and roadmap",
        "They need a feature we lack; bridge the gap with a workaround and a roadmap "
        "answer from Product.",
        (
            Step("Write up the use case the gap blocks", CSM, 2,
                 "What they need to do, how often, and what they do today instead."),
            Step("Product call on the roadmap", PRODUCT, 10,
                 "Product walks them through what is planned and when, under NDA."),
            Step("Workaround from Professional Services", PS, 15,
                 "A configuration or integration that covers the use case until it ships."),
            Step("Agree a decision date with the sponsor", CSM, 20,
                 "Whether the workaround and the roadmap date are enough for them to renew."),
        ),
    ),
    Play(
        "defects",
        None,
        "Defects: fix and rebuild trust",
        "Bugs erode their trust; get their tickets owned, fixed on a date, and confirmed.",
        (
            Step("List their open tickets with the business impact", CSM, 1,
                 "One list, ranked by what each bug costs them, shared with Support."),
            Step("Named support engineer on their tickets", SUPPORT, 2,
                 "Support assigns one engineer who runs a weekly defect review with them."),
            Step("Fix dates for the top tickets", PRODUCT, 10,
                 "Product commits to a release for each of the top five."),
            Step("Confirm the fixes with their admin", CSM, 20,
                 "Check each shipped fix with the people who reported it."),
        ),
    ),
    Play(
        "performance-reliability",
        None,
        "Reliability: incident follow-up",
        "Outages or slowness are the complaint; be open about the causes, settle the "
        "credits and show the product is stable again.",
        (
            Step("Send the incident reports", SUPPORT, 2,
                 "Root cause and fix of each incident they were hit by, in writing."),
            Step("Performance review with their IT", PRODUCT, 10,
                 "Product goes through the capacity plan and their slowest screens."),
            Step("Decide on the SLA credits", FINANCE, 10,
                 "Finance settles the credits they claimed under the SLA."),
            Step("Stability check-in after a month", CSM, 25,
                 "Uptime and response times since the fixes, reviewed with their admin."),
        ),
    ),
    Play(
        "integration-gap",
        None,
        "Integration gap: scope a way to connect",
        "The product does not connect to a system they depend on; scope a connection and "
        "agree a plan with their IT.",
        (
            Step("Document the systems and data flows they need", CSM, 3,
                 "Which system, which objects, which direction, and how often."),
            Step("Integration scoping with Professional Services", PS, 10,
                 "An estimate for building it with our API or the existing connector."),
            Step("Roadmap check for a native connector", PRODUCT, 10,
                 "Product says whether a connector is planned, and when."),
            Step("Agree the plan and dates with their IT lead", CSM, 20,
                 "Build, partner or wait: one plan with dates, in writing."),
        ),
    ),
    Play(
        "usability",
        None,
        "Usability: make daily work easier",
        "Users avoid the product because it is hard to use; see where they struggle and "
        "fix it with layout, training and follow-up.",
        (
            Step("Watch two of their users at work", CSM, 5,
                 "A screen-share with two daily users to see where they get stuck."),
            Step("UX session with Product", PRODUCT, 10,
                 "Product's designers review the findings with their team leads."),
            Step("Role-based training refresh", PS, 15,
                 "Short sessions on the simplified layout for each of their roles."),
            Step("Adoption check after the changes", CSM, 30,
                 "Logins and time in the product, compared with before the record opened."),
        ),
    ),
)  # fmt: skip


def ensure_playbooks(admin: User) -> tuple[int, int]:
    """Create the demo plays that are missing, through ``services.playbook_save``.
    A play is left alone when one of its name exists for its cause and segment,
    or when an admin already has an active play for that cause and segment.
    Returns (created, already present)."""
    causes = {cause.code: cause for cause in RootCause.objects.all()}
    segments = {segment.code: segment for segment in Segment.objects.all()}
    existing = list(Playbook.objects.values_list("root_cause__code", "segment__code", "name"))
    active = set(
        Playbook.objects.filter(active=True).values_list("root_cause__code", "segment__code")
    )
    named = {(cause, segment, name) for cause, segment, name in existing}
    created = present = 0
    for play in PLAYS:
        key = (play.cause, play.segment)
        if (*key, play.name) in named or key in active:
            present += 1
            continue
        services.playbook_save(
            user=admin,
            name=play.name,
            root_cause=causes[play.cause],
            segment=segments[play.segment] if play.segment else None,
            description=play.description,
            # An inactive play of an admin's for this pair stays as it is; the
            # demo's becomes the active one.
            active=True,
            steps=[
                {
                    "title": step.title,
                    "description": step.description,
                    "owner": step.owner,
                    "due_days": step.due_days,
                }
                for step in play.steps
            ],
        )
        created += 1
    return created, present


# --- the tasks of a record and their state ------------------------------------------------

# Share of tasks done, by situation (see the module's doc).
DONE_BEFORE_CLOSING = 0.92
DONE_EARLY_ON_CLOSED = 0.35
DONE_WHEN_PAST_DUE = 0.86
DONE_EARLY_ON_OPEN = 0.2
LATE_SHARE = 0.2  # of tasks done, the share finished after their due day
# ... by how the record closed (saved or churned), otherwise the above.
DONE_BEFORE_CLOSING_BY_OUTCOME = {"saved": 0.94, "churned": 0.85}
LATE_SHARE_BY_OUTCOME = {"saved": 0.12, "churned": 0.4}
# The hour of the due day by which a task counts as on time (local time).
DUE_HOUR = 17


def _zone(account: Account) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(account.region.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def _between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    return start + (end - start) * rng.uniform(0.0, 1.0)


class PlaybookCache:
    """The play each (cause, segment) gets, looked up once (``playbook_for``)."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int | None], Playbook | None] = {}

    def get(self, cause_id: int, segment_id: int | None) -> Playbook | None:
        key = (cause_id, segment_id)
        if key not in self._found:
            self._found[key] = services.playbook_for(root_cause=cause_id, segment=segment_id)
        return self._found[key]


def department_reviewers(users: dict[str, User]) -> dict[tuple[int | None, str], User]:
    """The first reviewer of each department in each region."""
    found: dict[tuple[int | None, str], User] = {}
    for user in users.values():
        if user.role == Role.REVIEWER and user.department:
            found.setdefault((user.region_id, user.department), user)
    return found


def record_tasks(
    *,
    record: RiskRecord,
    playbooks: PlaybookCache,
    reviewers: dict[tuple[int | None, str], User],
    seed: int,
    now: dt.datetime,
) -> tuple[Playbook | None, list[Task]]:
    """The play ``record`` got when it opened and its tasks (unsaved), each
    done or not as the story has it."""
    account = record.account
    playbook = playbooks.get(record.primary_cause_id, account.segment_id)
    if playbook is None:
        return None, []
    opened_on = account.local_date(record.opened_at)
    plan = services.playbook_plan(playbook=playbook, account=account, opened_on=opened_on)
    rng = random.Random(seed)
    zone = _zone(account)
    # Tasks are done before the record closes, or before now (in whole minutes).
    end = (record.closed_at or now) - dt.timedelta(minutes=1)
    start = record.opened_at + dt.timedelta(minutes=30)
    today = account.local_date(now)
    tasks = []
    earlier_done = True  # every task due before this one is done
    last_done = start
    # By due date (step order on a tie): work is finished roughly in that order.
    for planned in sorted(plan, key=lambda planned: planned.due_date):
        task = planned.task_for(record, created_by=record.opened_by, created_at=record.opened_at)
        due_at = dt.datetime.combine(planned.due_date, dt.time(DUE_HOUR), tzinfo=zone)
        if record.closed_at is not None:
            was_due = due_at <= record.closed_at
            done_share = DONE_BEFORE_CLOSING_BY_OUTCOME.get(record.status, DONE_BEFORE_CLOSING)
            chance = done_share if was_due else DONE_EARLY_ON_CLOSED
        else:
            was_due = planned.due_date < today
            chance = DONE_WHEN_PAST_DUE if was_due else DONE_EARLY_ON_OPEN
        # Finished ahead of its day only once everything due before it is done,
        # and a day or more after the last one (a follow-up needs time to show).
        done_at = None
        if rng.random() < chance and end > start and (was_due or earlier_done):
            late_share = LATE_SHARE_BY_OUTCOME.get(record.status, LATE_SHARE)
            done = _done_at(rng, start, due_at, end, late_share)
            moment = _working_hours(rng, done, zone, start, end)
            gap = dt.timedelta(minutes=rng.randint(30, 240))
            if not was_due:
                gap += dt.timedelta(days=1)
            done_at = _minute(max(moment, last_done + gap))
        if done_at is not None and done_at <= end:
            task.done_at, task.done_by = done_at, _done_by(task, account, reviewers)
            last_done = done_at
        else:
            earlier_done = False
        tasks.append(task)
    return playbook, tasks


def _done_at(
    rng: random.Random,
    start: dt.datetime,
    due_at: dt.datetime,
    end: dt.datetime,
    late_share: float = LATE_SHARE,
) -> dt.datetime:
    """When a task was finished: ``late_share`` of those due before ``end`` up
    to three days late, the others in the second half of the time they had;
    never before ``start`` nor after ``end``."""
    if due_at < end and rng.random() < late_share:
        return _between(rng, due_at, min(due_at + dt.timedelta(days=3), end))
    window_end = max(start, min(due_at, end))
    return _between(rng, start + (window_end - start) / 2, window_end)


def _working_hours(
    rng: random.Random, moment: dt.datetime, zone: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> dt.datetime:
    """``moment`` moved into office hours of its local day (a weekend's to the
    Friday before), unless that leaves the time from ``start`` to ``end``."""
    day = moment.astimezone(zone).date()
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    at = dt.datetime.combine(day, dt.time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=zone)
    return at if start <= at <= end else moment


def _done_by(task: Task, account: Account, reviewers: dict[tuple[int | None, str], User]) -> User:
    if task.owner is not None:
        return task.owner
    return reviewers.get((account.region_id, task.department)) or account.csm
