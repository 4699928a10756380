"""The Slack messages of a region's channel: an escalation request, its
decision, a risk rule's match and a generated agenda, each posted as Block Kit
to the region's incoming webhook (a local receiver here) with a button to the
page, people's text escaped. A region without Slack gets nothing, and no
message goes to another region's channel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from health.models import HealthScore
from notifications import slack
from notifications.models import Channel, OutboundMessage, SlackWebhook
from reviews import services as review_services
from risks import services
from risks.models import RiskRecord
from rules.evaluation import act_on_pending, evaluate_rules
from rules.models import Rule, RuleMatch
from tests import factories
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
NAME = "Smith & Sons <Europe>"
ESCAPED = "Smith &amp; Sons &lt;Europe&gt;"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE
    settings.CURRENCY = "USD"


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def connect(region, receiver: Receiver, path: str) -> SlackWebhook:
    channel = SlackWebhook(region=region)
    channel.set_url(receiver.url + path)
    channel.save()
    return channel


@pytest.fixture
def channels(receiver, region, other_region):
    """EMEA and NA have Slack; APAC has none."""
    connect(region, receiver, "/emea")
    connect(other_region, receiver, "/na")
    factories.RegionFactory(code="APAC", timezone="Asia/Singapore")


def posted(receiver: Receiver, path: str) -> list[Any]:
    return [request.json for request in receiver.requests if request.path == path]


@pytest.fixture
def account(csm, region):
    return factories.AccountFactory(
        name=NAME,
        region=region,
        segment=factories.SegmentFactory(code="enterprise"),
        arr=Decimal("90000.00"),
        renewal_date=dt.date(2026, 9, 30),
        csm=csm,
    )


def open_record(csm, account, cause) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=cause,
        summary="Usage halved.",
        next_steps="Call the sponsor.",
        arr_at_risk="80000.00",
    )


def record_fields() -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*Account*\n{ESCAPED}"},
            {"type": "mrkdwn", "text": "*Region*\nEMEA"},
            {"type": "mrkdwn", "text": "*ARR at risk*\nUSD 80,000"},
            {"type": "mrkdwn", "text": "*Renewal*\n30 Sep 2026"},
            {"type": "mrkdwn", "text": "*Primary cause*\nLow usage"},
            {"type": "mrkdwn", "text": "*CSM*\nCarl Example"},
        ],
    }


def button(label: str, url: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}],
    }


# --- escalations ------------------------------------------------------------------------------


def test_an_escalation_request_is_posted_to_the_accounts_region(
    receiver, channels, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        services.escalation_request(
            user=csm, risk=risk, reason="The sponsor stopped answering.\nRenewal <soon> & at risk."
        )

    assert posted(receiver, "/emea") == [
        {
            "text": f"Carl Example asks to escalate {ESCAPED} to tier 2",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "Escalation to tier 2 requested"},
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*Carl Example* asks to move the risk record of *{ESCAPED}* "
                        "from tier 1 to Tier 2 — Manager:\n"
                        ">The sponsor stopped answering.\n"
                        ">Renewal &lt;soon&gt; &amp; at risk.",
                    },
                },
                record_fields(),
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"Risk record #{risk.pk} · waiting for a decision",
                        }
                    ],
                },
                button("Open record", f"{SITE}/risks/{risk.pk}/"),
            ],
        }
    ]
    assert posted(receiver, "/na") == []


def test_an_escalation_decision_is_posted_with_its_note(
    receiver, channels, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        escalation = services.escalation_request(user=csm, risk=risk, reason="Sponsor gone.")
    receiver.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_approve(user=manager, escalation=escalation, note="Go ahead.")

    assert posted(receiver, "/emea") == [
        {
            "text": f"Maria Example approved the escalation of {ESCAPED} to tier 2",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "Escalation to tier 2 approved"},
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*Maria Example* approved the request of Carl Example to move "
                        f"the risk record of *{ESCAPED}* to Tier 2 — Manager.\n>Go ahead.",
                    },
                },
                record_fields(),
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"Risk record #{risk.pk} · now at tier 2"}
                    ],
                },
                button("Open record", f"{SITE}/risks/{risk.pk}/"),
            ],
        }
    ]
    assert posted(receiver, "/na") == []


def test_a_rejection_without_note_has_no_quote_and_a_direct_escalation_posts_nothing(
    receiver, channels, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        escalation = services.escalation_request(user=csm, risk=risk, reason="Sponsor gone.")
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_reject(user=manager, escalation=escalation, note="Not yet.")
        # A manager's own escalation is approved at once: no request, no decision.
        services.escalation_request(user=manager, risk=risk, reason="Now it is urgent.")

    [message] = posted(receiver, "/emea")
    assert message["text"] == f"Maria Example rejected the escalation of {ESCAPED} to tier 2"
    assert message["blocks"][1]["text"]["text"].endswith("to Tier 2 — Manager.\n>Not yet.")


def test_a_region_without_slack_gets_no_message(
    receiver, channels, csm, manager, low_usage, django_capture_on_commit_callbacks
):
    apac = factories.AccountFactory(region=factories.RegionFactory(code="APAC"), csm=csm)
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, apac, low_usage)
        escalation = services.escalation_request(user=csm, risk=risk, reason="Sponsor gone.")
        services.escalation_approve(user=manager, escalation=escalation)

    assert receiver.requests == []
    assert not OutboundMessage.objects.filter(channel=Channel.SLACK).exists()


def test_a_switched_off_channel_gets_no_message(
    receiver, channels, region, csm, account, low_usage, django_capture_on_commit_callbacks
):
    SlackWebhook.objects.filter(region=region).update(active=False)
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        services.escalation_request(user=csm, risk=risk, reason="Sponsor gone.")

    assert receiver.requests == []


# --- rule matches -----------------------------------------------------------------------------

D = dt.date(2026, 6, 30)


def red(account, score: int = 31) -> None:
    HealthScore.objects.create(
        account=account, as_of=D, score=score, band="red", coverage=1, computed_at=timezone.now()
    )
    type(account).objects.filter(pk=account.pk).update(
        health_score=score, health_band="red", health_as_of=D
    )


def make_rule(name: str, actions: list[str], **fields: Any) -> Rule:
    now = timezone.now()
    return Rule.objects.create(
        name=name,
        active=True,
        conditions=[{"type": "band_is", "band": "red"}],
        actions=actions,
        created_at=now,
        updated_at=now,
        **fields,
    )


def account_fields() -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*Account*\n{ESCAPED}"},
            {"type": "mrkdwn", "text": "*Region*\nEMEA"},
            {"type": "mrkdwn", "text": "*Segment*\nEnterprise"},
            {"type": "mrkdwn", "text": "*ARR*\nUSD 90,000"},
            {"type": "mrkdwn", "text": "*Renewal*\n30 Sep 2026"},
            {"type": "mrkdwn", "text": "*CSM*\nCarl Example"},
        ],
    }


def test_a_rule_match_without_a_record_links_to_the_account(
    receiver, channels, account, django_capture_on_commit_callbacks
):
    red(account)
    rule = make_rule("Red & quiet", ["notify"])
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        act_on_pending()

    assert posted(receiver, "/emea") == [
        {
            "text": f"The rule “Red &amp; quiet” matched {ESCAPED}",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "Rule matched: Red & quiet"},
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"The rule “Red &amp; quiet” matched *{ESCAPED}* on 30 Jun 2026. "
                        "No risk record was opened.\n• Health is red (score 31).",
                    },
                },
                account_fields(),
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"<{SITE}/rules/{rule.pk}/|About this rule>"}
                    ],
                },
                button("Open account", f"{SITE}/accounts/{account.pk}/"),
            ],
        }
    ]
    assert posted(receiver, "/na") == []


def test_a_rule_match_that_opens_a_record_links_to_it(
    receiver, channels, account, low_usage, django_capture_on_commit_callbacks
):
    red(account)
    make_rule("Red opens", ["open_risk"], primary_cause=low_usage)
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        act_on_pending()

    risk = RiskRecord.objects.get()
    [message] = posted(receiver, "/emea")
    assert message["blocks"][1]["text"]["text"] == (
        f"The rule “Red opens” matched *{ESCAPED}* on 30 Jun 2026. "
        f"It opened risk record #{risk.pk} at tier 1.\n• Health is red (score 31)."
    )
    assert message["blocks"][-1] == button("Open record", f"{SITE}/risks/{risk.pk}/")


def test_a_rule_match_noted_on_the_open_record_says_so(
    receiver, channels, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    red(account)
    make_rule("Red again", ["notify"])
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        act_on_pending()

    [message] = posted(receiver, "/emea")
    assert (
        f"Its evidence was added to the open risk record #{risk.pk}."
        in (message["blocks"][1]["text"]["text"])
    )
    assert message["blocks"][-1] == button("Open record", f"{SITE}/risks/{risk.pk}/")


def test_a_skipped_match_posts_nothing(
    receiver, channels, account, django_capture_on_commit_callbacks
):
    red(account)
    make_rule("Red", ["notify"])
    evaluate_rules(as_of=D)
    Rule.objects.update(active=False)  # switched off before its actions are taken
    with django_capture_on_commit_callbacks(execute=True):
        act_on_pending()

    assert RuleMatch.objects.get().outcome == "skipped"
    assert receiver.requests == []


# --- agendas --------------------------------------------------------------------------------

WEEK = dt.date(2026, 6, 1)
MEETING = dt.datetime(2026, 6, 3, 13, tzinfo=dt.UTC)  # Wednesday 15:00 in Berlin
NOW = dt.datetime(2026, 6, 2, 8, tzinfo=dt.UTC)


def test_a_generated_agenda_is_posted_once_to_its_region(
    receiver, channels, region, account, django_capture_on_commit_callbacks
):
    factories.RiskRecordFactory(
        account=account, tier=3, max_tier=3, tier_changed_at=MEETING - dt.timedelta(days=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        review_services.agenda_generate(region=region, week_start=WEEK, now=NOW)
        review_services.agenda_generate(region=region, week_start=WEEK, now=NOW)  # a refresh

    assert posted(receiver, "/emea") == [
        {
            "text": "The EMEA weekly review agenda for 3 Jun 2026 is ready: 1 item",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "EMEA weekly review — 3 Jun 2026"},
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "The agenda of the *Europe* cross-functional review on "
                        "Wednesday 3 June 2026, 15:00 (Europe/Berlin) is ready: 1 item.",
                    },
                },
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": "*New at tier 3*\n1"},
                        {"type": "mrkdwn", "text": "*Carried over*\n0"},
                        {"type": "mrkdwn", "text": "*Waiting for approval to tier 3*\n0"},
                        {"type": "mrkdwn", "text": "*Resolved since the last review*\n0"},
                    ],
                },
                button("Open agenda", f"{SITE}/reviews/EMEA/2026-06-01/"),
            ],
        }
    ]
    assert posted(receiver, "/na") == []


# --- the Block Kit helpers ------------------------------------------------------------------


def test_people_text_is_escaped_and_cut_to_slacks_limits():
    assert slack.escape("a & b < c > d &amp;") == "a &amp; b &lt; c &gt; d &amp;amp;"
    assert slack.one_line("Two\nlines  &  more") == "Two lines &amp; more"
    assert slack.header("x" * 200)["text"]["text"] == "x" * 149 + "…"
    assert slack.quote("a&b\nsecond") == ">a&amp;b\n>second"
    # Cut before escaping, so an entity is never cut in half.
    assert slack.quote("&" * 600) == ">" + "&amp;" * 499 + "…"
    many = slack.fields((f"L{n}", "v") for n in range(12))
    assert len(many["fields"]) == 10
