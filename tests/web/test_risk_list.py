"""The risk list page (filters, search, sorting, pages) and its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment
from risks.filters import RiskFilter
from risks.models import RiskRecord, RiskStatus, RootCause
from risks.views.listing import CSV_COLUMNS
from tests import factories
from tests.csv_text import csv_text

pytestmark = pytest.mark.django_db

LIST_URL = reverse("risks:list")
EXPORT_URL = reverse("risks:export")
TODAY = dt.date(2026, 3, 16)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """Dates in these tests are relative to a fixed day, at noon UTC."""
    now = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)


def at_noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def make_risk(
    *,
    account=None,
    status: str = RiskStatus.OPEN,
    opened: dt.date = TODAY - dt.timedelta(days=10),
    closed: dt.date | None = None,
    cause: str = "low-usage",
    secondary: str | None = None,
    **kwargs,
) -> RiskRecord:
    """A record written straight to the database (the list only reads)."""
    account = account or factories.AccountFactory()
    kwargs.setdefault("tier", 1)
    kwargs.setdefault("max_tier", kwargs["tier"])
    if status != RiskStatus.OPEN:
        closed = closed or opened + dt.timedelta(days=5)
        kwargs.setdefault("closed_at", at_noon(closed))
        kwargs.setdefault("closed_by", account.csm)
        kwargs.setdefault("arr_retained", Decimal("0"))
    return factories.RiskRecordFactory(
        account=account,
        status=status,
        opened_at=at_noon(opened),
        primary_cause=RootCause.objects.get(code=cause),
        secondary_cause=RootCause.objects.get(code=secondary) if secondary else None,
        **kwargs,
    )


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [risk.pk for risk in response.context["risks"]]


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    body = csv_text(b"".join(response.streaming_content))
    return list(csv.DictReader(io.StringIO(body)))


# --- default status -----------------------------------------------------------------


def test_list_shows_open_records_by_default_with_open_preselected(signed_in):
    open_risk = make_risk()
    make_risk(status=RiskStatus.SAVED)

    response = signed_in.get(LIST_URL)

    assert listed(response) == [open_risk.pk]
    assert '<option value="open" selected>Open</option>' in response.content.decode()


def test_any_status_lists_open_and_closed_records(signed_in):
    open_risk = make_risk(opened=TODAY - dt.timedelta(days=1))
    saved = make_risk(status=RiskStatus.SAVED, opened=TODAY - dt.timedelta(days=30))

    response = signed_in.get(LIST_URL, {"status": ""})

    assert listed(response) == [open_risk.pk, saved.pk]
    assert '<option value="" selected>Any status</option>' in response.content.decode()


def test_closed_status_lists_every_outcome(signed_in):
    make_risk()
    closed = {
        make_risk(status=status).pk
        for status in (RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN)
    }

    assert set(listed(signed_in.get(LIST_URL, {"status": "closed"}))) == closed


# --- every filter narrows -------------------------------------------------------------


def _status(world):
    return {"status": "churned"}, {"status": RiskStatus.CHURNED}, {"status": RiskStatus.SAVED}


def _tier(world):
    return {"tier": "2"}, {"tier": 2}, {"tier": 3}


def _region(world):
    na = world["other_region"]
    return (
        {"region": "NA"},
        {"account": factories.AccountFactory(region=na, csm__region=na)},
        {},
    )


def _segment(world):
    smb = Segment.objects.get(code="smb")
    return {"segment": "smb"}, {"account": factories.AccountFactory(segment=smb)}, {}


def _primary_cause(world):
    return {"primary_cause": "defects"}, {"cause": "defects"}, {"cause": "low-usage"}


def _secondary_cause(world):
    return (
        {"secondary_cause": "defects"},
        {"secondary": "defects"},
        {"secondary": "lost-champion"},
    )


def _category(world):
    return {"category": "product"}, {"cause": "defects"}, {"cause": "low-usage"}


def _csm(world):
    return (
        {"csm": str(world["csm"].pk)},
        {"account": factories.AccountFactory(csm=world["csm"])},
        {"account": factories.AccountFactory(csm=world["other_csm"])},
    )


def _manager(world):
    return (
        {"manager": str(world["manager"].pk)},
        {"account": factories.AccountFactory(csm=world["csm"])},
        {"account": factories.AccountFactory(csm=world["other_csm"])},
    )


def _account(world):
    account = factories.AccountFactory()
    return {"account": str(account.pk)}, {"account": account}, {}


def _renewal(days: int):
    return factories.AccountFactory(renewal_date=TODAY + dt.timedelta(days=days))


def _renewal_date_after(world):
    return (
        {"renewal_date_after": str(TODAY + dt.timedelta(days=60))},
        {"account": _renewal(60)},
        {"account": _renewal(59)},
    )


def _renewal_date_before(world):
    return (
        {"renewal_date_before": str(TODAY + dt.timedelta(days=60))},
        {"account": _renewal(60)},
        {"account": _renewal(61)},
    )


def _renewal_within_30(world):
    return {"renewal_within": "30"}, {"account": _renewal(30)}, {"account": _renewal(31)}


def _renewal_overdue(world):
    return {"renewal_within": "overdue"}, {"account": _renewal(-1)}, {"account": _renewal(0)}


def _opened_after(world):
    day = TODAY - dt.timedelta(days=20)
    return (
        {"status": "", "opened_after": str(day)},
        {"opened": day},
        {"opened": day - dt.timedelta(days=1)},
    )


def _opened_before(world):
    day = TODAY - dt.timedelta(days=20)
    return (
        {"status": "", "opened_before": str(day)},
        {"opened": day},
        {"opened": day + dt.timedelta(days=1)},
    )


def _closed_after(world):
    day = TODAY - dt.timedelta(days=5)
    return (
        {"status": "", "closed_after": str(day)},
        {"status": RiskStatus.SAVED, "opened": day - dt.timedelta(days=9), "closed": day},
        {
            "status": RiskStatus.SAVED,
            "opened": day - dt.timedelta(days=9),
            "closed": day - dt.timedelta(days=1),
        },
    )


def _closed_before(world):
    day = TODAY - dt.timedelta(days=5)
    return (
        {"status": "", "closed_before": str(day)},
        {"status": RiskStatus.SAVED, "opened": day - dt.timedelta(days=9), "closed": day},
        {
            "status": RiskStatus.SAVED,
            "opened": day - dt.timedelta(days=9),
            "closed": day + dt.timedelta(days=1),
        },
    )


FILTER_CASES = [
    _status,
    _tier,
    _region,
    _segment,
    _primary_cause,
    _secondary_cause,
    _category,
    _csm,
    _manager,
    _account,
    _renewal_date_after,
    _renewal_date_before,
    _renewal_within_30,
    _renewal_overdue,
    _opened_after,
    _opened_before,
    _closed_after,
    _closed_before,
]


@pytest.mark.parametrize("case", FILTER_CASES, ids=[case.__name__[1:] for case in FILTER_CASES])
def test_each_filter_keeps_the_matching_record_only(
    signed_in, case, csm, other_csm, manager, other_region
):
    world = {"csm": csm, "other_csm": other_csm, "manager": manager, "other_region": other_region}
    params, match_kwargs, other_kwargs = case(world)
    params.setdefault("status", match_kwargs.get("status", RiskStatus.OPEN))
    match = make_risk(**match_kwargs)
    make_risk(**other_kwargs)

    assert listed(signed_in.get(LIST_URL, params)) == [match.pk]


@pytest.mark.parametrize("term", ["northwind", "NORTHWIND trad", "SF-00", "sf-0042"])
def test_search_matches_account_name_or_external_id(signed_in, term):
    match = make_risk(
        account=factories.AccountFactory(name="Northwind Trading", external_id="SF-0042")
    )
    make_risk(account=factories.AccountFactory(name="Contoso", external_id="HS-1234"))

    assert listed(signed_in.get(LIST_URL, {"search": term})) == [match.pk]


def test_filters_combine(signed_in, other_region):
    match = make_risk(tier=3, account=factories.AccountFactory(region=other_region))
    make_risk(tier=3)
    make_risk(tier=1, account=factories.AccountFactory(region=other_region))

    assert listed(signed_in.get(LIST_URL, {"tier": "3", "region": "NA"})) == [match.pk]


# --- ordering -------------------------------------------------------------------------


@pytest.fixture
def three_risks():
    """Three records, each column ordering them low, middle, high in the same order."""
    rows = []
    for index, (name, tier) in enumerate([("Alpha", 1), ("Bravo", 2), ("Charlie", 3)]):
        account = factories.AccountFactory(
            name=name, renewal_date=TODAY + dt.timedelta(days=30 * (index + 1))
        )
        rows.append(
            make_risk(
                account=account,
                tier=tier,
                arr_at_risk=Decimal(1000 * (index + 1)),
                status=RiskStatus.SAVED,
                opened=TODAY - dt.timedelta(days=40 - index),
                closed=TODAY - dt.timedelta(days=20 - index),
            )
        )
    return [risk.pk for risk in rows]


@pytest.mark.parametrize(
    "ordering", ["opened_at", "tier", "arr_at_risk", "renewal_date", "account", "closed_at"]
)
def test_ordering_sorts_both_directions(signed_in, three_risks, ordering):
    ascending = signed_in.get(LIST_URL, {"status": "", "ordering": ordering})
    descending = signed_in.get(LIST_URL, {"status": "", "ordering": f"-{ordering}"})

    assert listed(ascending) == three_risks
    assert listed(descending) == three_risks[::-1]


def test_default_order_is_newest_opened_first(signed_in):
    older = make_risk(opened=TODAY - dt.timedelta(days=30))
    newer = make_risk(opened=TODAY - dt.timedelta(days=2))

    assert listed(signed_in.get(LIST_URL)) == [newer.pk, older.pk]


def test_sort_header_links_keep_filters_and_toggle_direction(signed_in):
    make_risk(tier=2)

    response = signed_in.get(LIST_URL, {"tier": "2", "ordering": "tier", "page": "1"})

    tier = response.context["sort"]["tier"]
    assert tier.aria_sort == "ascending"
    assert "ordering=-tier" in tier.query
    assert "tier=2" in tier.query
    assert "page=" not in tier.query
    assert response.context["sort"]["account"].aria_sort == "none"
    html = response.content.decode()
    assert 'aria-sort="ascending"' in html
    assert html.count("aria-sort=") == 1


def test_default_ordering_marks_the_opened_column_descending(signed_in):
    make_risk()

    response = signed_in.get(LIST_URL)

    assert response.context["sort"]["opened_at"].aria_sort == "descending"
    assert "ordering=opened_at" in response.context["sort"]["opened_at"].query


# --- pages ----------------------------------------------------------------------------


def test_list_shows_25_records_per_page_and_the_rest_on_page_two(signed_in):
    risks = [make_risk(opened=TODAY - dt.timedelta(days=index)) for index in range(30)]

    first = signed_in.get(LIST_URL)
    second = signed_in.get(LIST_URL, {"page": "2"})

    assert listed(first) == [risk.pk for risk in risks[:25]]
    assert listed(second) == [risk.pk for risk in risks[25:]]
    assert "30 risk records" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()


@pytest.mark.parametrize(("page_size", "expected"), [("10", 10), ("500", 100), ("abc", 25)])
def test_page_size_is_honoured_up_to_100(signed_in, page_size, expected):
    make_risk()

    response = signed_in.get(LIST_URL, {"page_size": page_size})

    assert response.context["page_obj"].paginator.per_page == expected


def test_csv_link_carries_the_query_without_the_page(signed_in):
    make_risk(tier=2)

    response = signed_in.get(LIST_URL, {"tier": "2", "ordering": "-tier", "page": "1"})

    assert f'href="{EXPORT_URL}?tier=2&amp;ordering=-tier"' in response.content.decode()


def test_empty_result_says_so(signed_in):
    make_risk(tier=1)

    response = signed_in.get(LIST_URL, {"tier": "3"})

    assert listed(response) == []
    assert "No risk records match these filters." in response.content.decode()


# --- bad filter values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tier": "9"}, "Select a valid choice. 9 is not one of the available choices."),
        ({"opened_after": "31/02/2026"}, "Enter a valid date."),
        ({"renewal_date_before": "soon"}, "Enter a valid date."),
        ({"region": "MARS"}, "Select a valid choice."),
        ({"primary_cause": "no-such-cause"}, "Select a valid choice."),
        ({"csm": "abc"}, "Select a valid choice."),
        ({"account": "999999"}, "Select a valid choice."),
        ({"ordering": "summary"}, "Select a valid choice."),
        ({"renewal_within": "7"}, "Select a valid choice."),
        ({"status": "lost"}, "Select a valid choice."),
        (
            {"opened_after": "2026-03-10", "opened_before": "2026-03-01"},
            "“Opened on or after” is later than “Opened on or before”.",
        ),
    ],
)
def test_bad_filter_values_show_the_error_and_no_rows(signed_in, params, message):
    make_risk()

    response = signed_in.get(LIST_URL, params)

    assert response.status_code == 200
    assert response.context["risks"] == []
    html = response.content.decode()
    assert message in html
    assert "No risk records are shown until the filters are fixed." in html
    assert "Download CSV" not in html


def test_a_bad_date_is_shown_next_to_its_field(signed_in):
    response = signed_in.get(LIST_URL, {"closed_before": "yesterday"})

    html = response.content.decode()
    start = html.index('<div class="field field-invalid" id="field-id_closed_before">')
    error = html.index('<div class="field-error" id="id_closed_before_error"', start)
    assert "Enter a valid date." in html[error : html.index("</div>", error)]
    assert html.index('<input type="date" name="closed_before"', start) > error
    # The folded "More filters" opens so the error is visible.
    assert '<details class="more-filters" open>' in html


# --- htmx -----------------------------------------------------------------------------


def test_htmx_request_gets_the_filters_and_results_without_the_page_frame(signed_in):
    risk = make_risk()

    response = signed_in.get(LIST_URL, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert '<div id="risk-list">' in html
    assert "<html" not in html
    assert reverse("risks:detail", args=[risk.pk]) in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(signed_in):
    response = signed_in.get(
        LIST_URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )

    assert "<html" in response.content.decode()


# --- query counts ---------------------------------------------------------------------


def _many_risks(count: int, csm, other_csm) -> None:
    for index in range(count):
        make_risk(
            account=factories.AccountFactory(csm=csm if index % 2 else other_csm),
            tier=1 + index % 3,
            secondary="defects" if index % 2 else None,
            status=RiskStatus.OPEN if index % 3 else RiskStatus.SAVED,
        )


@pytest.mark.parametrize("rows", [5, 50])
def test_list_page_query_count_does_not_grow_with_rows(
    signed_in, django_assert_max_num_queries, csm, other_csm, rows
):
    _many_risks(rows, csm, other_csm)

    # session, user, causes, regions, segments, CSMs, managers, count, rows
    with django_assert_max_num_queries(9):
        response = signed_in.get(LIST_URL, {"status": "", "page_size": "100"})

    assert len(response.context["risks"]) == rows


@pytest.mark.parametrize("rows", [5, 50])
def test_csv_query_count_does_not_grow_with_rows(
    signed_in, django_assert_max_num_queries, csm, other_csm, rows
):
    _many_risks(rows, csm, other_csm)

    # session, user, causes, then the rows through one server-side cursor
    with django_assert_max_num_queries(4):
        response = signed_in.get(EXPORT_URL, {"status": ""})
        assert len(csv_rows(response)) == rows


# --- CSV ------------------------------------------------------------------------------


def test_csv_has_the_header_and_exactly_the_filtered_rows_in_order(signed_in, csm, manager):
    account = factories.AccountFactory(
        csm=csm,
        name="Northwind Trading",
        external_id="SF-0042",
        renewal_date=dt.date(2026, 6, 30),
    )
    tier2 = make_risk(
        account=account,
        tier=2,
        secondary="defects",
        arr_at_risk=Decimal("50000.00"),
        opened=TODAY - dt.timedelta(days=3),
    )
    older_tier2 = make_risk(tier=2, opened=TODAY - dt.timedelta(days=30))
    make_risk(tier=1)
    make_risk(tier=2, status=RiskStatus.SAVED)

    response = signed_in.get(EXPORT_URL, {"tier": "2"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="risk-records-2026-03-16.csv"'
    body = csv_text(b"".join(response.streaming_content))
    assert body.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(row["id"]) for row in rows] == [tier2.pk, older_tier2.pk]
    first = rows[0]
    assert first == {
        "id": str(tier2.pk),
        "account": "Northwind Trading",
        "external_id": "SF-0042",
        "region": "EMEA",
        "segment": "enterprise",
        "tier": "2",
        "max_tier": "2",
        "status": "open",
        "primary_cause": "low-usage",
        "secondary_cause": "defects",
        "category": "adoption",
        "csm": str(csm),
        "manager": str(manager),
        "arr_at_risk": "50000.00",
        "arr_retained": "",
        "renewal_date": "2026-06-30",
        "opened_at": "2026-03-13T12:00:00+00:00",
        "closed_at": "",
        "summary": tier2.summary,
        "next_steps": tier2.next_steps,
    }


def test_csv_holds_every_page_in_the_list_order(signed_in):
    risks = [make_risk(tier=1 + index % 3) for index in range(30)]

    rows = csv_rows(signed_in.get(EXPORT_URL, {"ordering": "-tier", "page": "2"}))

    listed_order = [
        risk.pk for risk in RiskFilter({"ordering": "-tier"}, queryset=RiskRecord.objects.all()).qs
    ]
    assert [int(row["id"]) for row in rows] == listed_order
    assert len(rows) == len(risks)


def test_csv_defaults_to_open_records_like_the_page(signed_in):
    open_risk = make_risk()
    make_risk(status=RiskStatus.CHURNED)

    rows = csv_rows(signed_in.get(EXPORT_URL))

    assert [int(row["id"]) for row in rows] == [open_risk.pk]


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)"])
def test_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(signed_in, text):
    make_risk(
        summary=text,
        account=factories.AccountFactory(name=text),
    )

    row = csv_rows(signed_in.get(EXPORT_URL))[0]

    assert row["summary"] == "'" + text
    assert row["account"] == "'" + text


def test_csv_with_invalid_filters_is_a_400_with_the_error(signed_in):
    response = signed_in.get(EXPORT_URL, {"tier": "9", "opened_after": "nope"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "tier" in text and "Select a valid choice." in text
    assert "opened_after" in text and "Enter a valid date." in text


# --- sign-in --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_csv_keeps_accents_and_emoji_for_spreadsheets(signed_in, csm):
    account = factories.AccountFactory(csm=csm, name="Société Générale 🚀")
    make_risk(account=account, summary="Müller left; Zoë leads now.")

    response = signed_in.get(EXPORT_URL)
    raw = b"".join(response.streaming_content)

    assert raw.startswith("\ufeff".encode())
    [row] = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert row["account"] == "Société Générale 🚀"
    assert row["summary"] == "Müller left; Zoë leads now."


def test_closed_records_show_no_renewal_countdown(signed_in, csm):
    account = factories.AccountFactory(
        csm=csm, name="Ended Ltd", renewal_date=TODAY - dt.timedelta(days=6)
    )
    make_risk(account=account, status=RiskStatus.CHURNED)
    make_risk(
        account=factories.AccountFactory(
            csm=csm, name="Still Open", renewal_date=TODAY - dt.timedelta(days=6)
        )
    )

    closed = signed_in.get(LIST_URL, {"status": "closed"}).content.decode()
    still_open = signed_in.get(LIST_URL, {"status": "open"}).content.decode()

    assert "Ended Ltd" in closed and "days ago" not in closed
    assert "Still Open" in still_open and "6 days ago" in still_open
