"""The Health calibration page and its CSV download: every role reads them,
filters flow through, bad input shows its error next to the field, the AUC
is said in words, the charts are accessible, the table and the CSV hold the
hand-computed figures of tests/reports/calibration_data.py, and the number
of queries does not grow with the renewals."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from core import imports
from tests import factories
from tests.reports import calibration_data
from tests.reports.test_calibration import _renewals
from tests.reports.test_pages import csv_of, table_of

pytestmark = pytest.mark.django_db

URL = reverse("reports:health_calibration")
CSV_URL = reverse("reports:health_calibration_csv")


@pytest.fixture
def dataset(csm, region, other_region):
    return calibration_data.build(csm, region, other_region)


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


def tables_of(response) -> dict[str, list[list[str]]]:
    """Every report table's body rows (and footer rows) by its caption's first words."""
    html = response.content.decode()
    tables = {}
    for match in re.finditer(r"<table class=\"report-table.*?</table>", html, re.S):
        parsed = table_of_html(match.group(0))
        tables[parsed.caption.split("—")[0].strip()] = parsed.body + parsed.foot
    return tables


def table_of_html(html: str):
    class Response:
        content = html.encode()

    return table_of(Response())


def svgs_of(response) -> list[str]:
    return re.findall(r"<svg.*?</svg>", response.content.decode(), re.S)


# --- access and navigation ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_every_role_can_read_the_report(client, request, dataset, role, url):
    client.force_login(request.getfixturevalue(role))

    response = client.get(url)

    assert response.status_code == 200
    if url == URL:
        assert len(svgs_of(response)) == 2


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_the_report_needs_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_tab_keeps_the_renewal_filters_and_days_before(signed_in, dataset):
    html = signed_in.get(URL, {"region": "EMEA", "days_before": "30"}).content.decode()

    tabs = html[html.index('class="report-tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    assert re.search(
        rf'href="{URL}\?region=EMEA&amp;days_before=30" aria-current="page">Health calibration',
        tabs,
    )
    # Flag coverage has renewal filters too, but no days_before.
    assert f'href="{reverse("reports:flag_coverage")}?region=EMEA"' in tabs
    outcomes = signed_in.get(reverse("reports:outcomes"), {"segment": "smb"}).content.decode()
    assert f'href="{URL}?segment=smb">Health calibration</a>' in outcomes


# --- the figures -------------------------------------------------------------------------------


def test_page_shows_the_bands_with_totals_deciles_and_measures(signed_in, dataset):
    response = signed_in.get(URL)

    assert response.status_code == 200
    tables = tables_of(response)
    # Churn rates as percentages rounded once from the counts (1 of 4: 25.0%).
    assert tables["Churn by health band"] == [
        ["Green", "4", "1", "25.0%", "8,000"],
        ["Yellow", "2", "1", "50.0%", "2,000"],
        ["Red", "2", "1", "50.0%", "1,000"],
        ["Unknown", "1", "1", "100.0%", "6,000"],
        ["No score", "1", "0", "0.0%", "0"],
        ["Total", "10", "4", "40.0%", "17,000"],
    ]
    assert tables["Churn by score decile"] == [
        ["0\u20139", "0", "0", "—"],
        ["10\u201319", "0", "0", "—"],
        ["20\u201329", "1", "1", "100.0%"],
        ["30\u201339", "1", "0", "0.0%"],
        ["40\u201349", "0", "0", "—"],
        ["50\u201359", "2", "1", "50.0%"],
        ["60\u201369", "0", "0", "—"],
        ["70\u201379", "1", "1", "100.0%"],
        ["80\u201389", "1", "0", "0.0%"],
        ["90\u2013100", "2", "0", "0.0%"],
    ]
    assert tables["Churn when a measure scored low"] == [
        [
            "Logins in the last 30 days (logins-30d)",
            "4",
            "3",
            "75.0%",
            "4",
            "1",
            "25.0%",
            "3.00\u00d7",
        ],
        ["NPS (nps)", "2", "1", "50.0%", "2", "1", "50.0%", "1.00\u00d7"],
        ["retired-measure", "1", "1", "100.0%", "1", "0", "0.0%", "—"],
    ]
    html = response.content.decode()
    assert "all renewals, scores 90 days before" in html


def test_the_auc_is_said_in_words(signed_in, dataset):
    everything = signed_in.get(URL).content.decode()
    emea = signed_in.get(URL, {"region": "EMEA"}).content.decode()

    # 0.7667 and 0.9167 (tests/reports/test_calibration.py), to two places.
    assert (
        "AUC 0.77 \u2014 a churned account scored lower than a renewed one "
        "77% of the time, ties counting half" in everything
    )
    assert "over 3 churned and 5 renewed accounts with a score 90 days before" in everything
    assert (
        "AUC 0.92 \u2014 a churned account scored lower than a renewed one "
        "92% of the time, ties counting half" in emea
    )


def test_without_both_classes_the_auc_says_not_enough_data(signed_in, dataset):
    html = signed_in.get(URL, {"segment": "mid-market"}).content.decode()

    assert "Not enough data: the AUC needs at least one churned and one renewed account" in html
    assert "(here 0 churned and 1 renewed)" in html


def test_green_churns_link_to_their_accounts(signed_in, dataset):
    response = signed_in.get(URL, {"days_before": "0"})

    rows = tables_of(response)["Churned while green"]
    assert rows == [
        ["N green churn", "NA", "smb", "15 Apr 2026", "75", "20 Dec 2025", "8,000"],
        ["E churn 20", "EMEA", "enterprise", "31 Mar 2026", "95", "15 Jan 2026", "1,000"],
    ]
    html = response.content.decode()
    detail = reverse("customer_accounts:detail", args=[dataset.n_green_churn.pk])
    assert f'<a href="{detail}">N green churn</a>' in html
    assert "2 churned renewals whose score was green 0 days before" in html


def test_no_green_churn_says_so(signed_in, dataset):
    html = signed_in.get(URL, {"region": "EMEA"}).content.decode()

    assert "No account churned while its score was green 90 days before the renewal." in html


def test_the_form_shows_the_default_of_90_days(signed_in, dataset):
    html = signed_in.get(URL, {"days_before": ""}).content.decode()

    assert re.search(r'name="days_before" value="90"', html)
    assert "all renewals, scores 90 days before" in html


def test_filters_flow_through_to_the_tables(signed_in, dataset):
    response = signed_in.get(
        URL, {"renewed_after": "2026-04-15", "renewed_before": "2026-04-15", "days_before": "60"}
    )

    assert tables_of(response)["Churn by health band"][-1] == ["Total", "3", "1", "33.3%", "8,000"]
    html = response.content.decode()
    assert "renewal dates 2026-04-15 to 2026-04-15, scores 60 days before" in html
    assert 'value="2026-04-15"' in html
    assert re.search(r'name="days_before" value="60"', html)


# --- the charts ----------------------------------------------------------------------------------


def test_charts_show_churn_rate_per_band_and_decile_with_counts(signed_in, dataset):
    response = signed_in.get(URL)

    band_svg, decile_svg = svgs_of(response)
    assert "Churn rate by health band 90 days before the renewal" in band_svg
    for css_class in ("chart-band-green", "chart-band-yellow", "chart-band-red"):
        assert f'class="{css_class}"' in band_svg
    assert "<title>Green: 1 of 4 renewals churned (25.0%)</title>" in band_svg
    assert ">n = 4<" in band_svg
    assert ">No score<" in band_svg
    assert "Churn rate by health score decile 90 days before the renewal" in decile_svg
    assert "<title>90\u2013100: 0 of 2 renewals churned (0.0%)</title>" in decile_svg
    # An empty decile draws no bar and says so with a dash.
    assert decile_svg.count("<rect") == 6
    for svg in (band_svg, decile_svg):
        assert 'role="img"' in svg
        assert re.search(r'<desc id="[\w-]+-desc">[^<]+</desc>', svg)
        assert svg.count('class="chart-axis-title"') == 2
    html = response.content.decode()
    assert "style=" not in html and "<style" not in html


def test_chart_labels_are_escaped():
    from reports import charts

    chart = charts.churn_rate_chart(
        [charts.ChurnBar('<script>alert("x")</script>', 2, 1, "chart-churned")],
        title="t",
        axis_label="Band",
        chart_id="c",
    )

    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg


# --- empty and bad input ----------------------------------------------------------------------


def test_without_renewals_the_page_says_so_and_points_admins_to_the_import(client, csm, admin_user):
    client.force_login(admin_user)
    html = client.get(URL).content.decode()

    assert "No renewals in this period." in html
    assert f'<a href="{reverse("imports:upload", args=["renewals"])}">Import renewals</a>' in html
    assert "<svg" not in html and "report-table" not in html

    client.force_login(csm)
    html = client.get(URL, {"region": "EMEA"}).content.decode()
    assert "No renewals in this period (region EMEA)." in html
    assert "Import renewals" not in html


def test_without_the_renewal_import_admins_are_pointed_to_the_imports(
    client, admin_user, monkeypatch
):
    monkeypatch.delitem(imports._registry, "renewals", raising=False)
    client.force_login(admin_user)

    html = client.get(URL).content.decode()

    assert f'<a href="{reverse("imports:index")}">Import renewals</a>' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"days_before": "731"}, "days_before", "Enter a whole number of days from 0 to 730."),
        ({"days_before": "-5"}, "days_before", "Enter a whole number of days from 0 to 730."),
        ({"renewed_after": "2026-13-01"}, "renewed_after", "Enter a date as YYYY-MM-DD."),
        ({"region": "MARS"}, "region", "Unknown region &#x27;MARS&#x27;; use one of: EMEA"),
        (
            {"renewed_after": "2026-05-01", "renewed_before": "2026-04-01"},
            "renewed_before",
            "renewed_before must be on or after renewed_after.",
        ),
    ],
)
def test_bad_input_shows_the_error_next_to_its_field_and_no_report(
    signed_in, dataset, query, field, message
):
    response = signed_in.get(URL, query)

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'class="field field-invalid[^"]*" id="field-id_{field}"', html)
    field_html = html[html.index(f'id="field-id_{field}"') :]
    field_html = re.split(r'id="field-id_|class="filter-actions"', field_html[10:])[0]
    assert 'class="field-error"' in field_html
    assert message in field_html
    assert "<svg" not in html and "report-table" not in html and "Download CSV" not in html


# --- CSV ---------------------------------------------------------------------------------------


def test_download_link_carries_the_query_string(signed_in, dataset):
    html = signed_in.get(f"{URL}?region=NA&days_before=30").content.decode()

    assert f'href="{CSV_URL}?region=NA&amp;days_before=30"' in html


def test_csv_has_every_section_of_the_report(signed_in, dataset):
    response = signed_in.get(CSV_URL, {"region": "NA", "days_before": "90"})

    assert response.status_code == 200
    assert "attachment;" in response["Content-Disposition"]
    assert 'filename="health-calibration-' in response["Content-Disposition"]
    header, *lines = csv_of(response)
    assert header == [
        "section",
        "key",
        "label",
        "renewals",
        "churned",
        "churn_rate",
        "arr_churned",
        "renewals_not_low",
        "churned_not_low",
        "churn_rate_not_low",
        "lift",
        "auc",
        "renewal_date",
        "region",
        "segment",
        "score",
        "score_as_of",
        "arr_before",
    ]
    blank = [""] * 11

    def band(*cells: str) -> list[str]:
        return [*cells, *[""] * (18 - len(cells))]

    # NA: 8 (75 green, churned 8,000), 9 (30 red), 10 (100 green).
    assert lines[:6] == [
        band("band", "green", "Green", "2", "1", "0.5000", "8000.00"),
        band("band", "yellow", "Yellow", "0", "0", "", "0.00"),
        band("band", "red", "Red", "1", "0", "0.0000", "0.00"),
        band("band", "unknown", "Unknown", "0", "0", "", "0.00"),
        band("band", "none", "No score", "0", "0", "", "0.00"),
        band("total", "", "Total", "3", "1", "0.3333", "8000.00"),
    ]
    # AUC over 1 churned and 2 renewed: 75 < 100 only → 0.5.
    assert lines[6] == band("auc", "", "AUC", "3", "1", "", "", "", "", "", "", "0.5000")
    deciles = [line for line in lines if line[0] == "decile"]
    assert [line[1:6] for line in deciles if line[3] != "0"] == [
        ["3", "30\u201339", "1", "0", "0.0000"],
        ["7", "70\u201379", "1", "1", "1.0000"],
        ["9", "90\u2013100", "1", "0", "0.0000"],
    ]
    assert len(deciles) == 10
    measures = [line[:11] for line in lines if line[0] == "measure"]
    # 8: logins 60, nps 80, retired 10 (churned); 9: logins 20, retired 50.
    assert measures == [
        [
            *["measure", "logins-30d", "Logins in the last 30 days", "1", "0", "0.0000", ""],
            *["1", "1", "1.0000", "0.0000"],
        ],
        ["measure", "nps", "NPS", "0", "0", "", "", "1", "1", "1.0000", ""],
        [
            *["measure", "retired-measure", "retired-measure", "1", "1", "1.0000", ""],
            *["1", "0", "0.0000", ""],
        ],
    ]
    [green] = [line for line in lines if line[0] == "green_churn"]
    assert green == [
        "green_churn",
        str(dataset.n_green_churn.pk),
        "N green churn",
        *blank[3:],
        "",
        "2026-04-15",
        "NA",
        "smb",
        "75",
        "2025-12-20",
        "8000.00",
    ]


def test_csv_with_bad_input_is_a_400_naming_the_field(signed_in):
    response = signed_in.get(CSV_URL, {"days_before": "1000"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "days_before: Enter a whole number of days from 0 to 730." in response.content.decode()


# --- query counts ------------------------------------------------------------------------------


# Session and user; the filter form's regions and segments; the region and
# segment checks when given; then the report's two statements.
@pytest.mark.parametrize(
    ("url", "query", "queries"),
    [
        (URL, {}, 6),
        (URL, {"region": "EMEA", "segment": "enterprise", "days_before": "30"}, 8),
        (CSV_URL, {}, 4),
        (CSV_URL, {"region": "EMEA"}, 5),
    ],
)
def test_query_count_does_not_grow_with_renewals(
    signed_in, csm, region, django_assert_num_queries, url, query, queries
):
    factories.SegmentFactory(code="enterprise")
    _renewals(2, csm, region, start=0)
    with django_assert_num_queries(queries):
        assert signed_in.get(url, query).status_code == 200
    _renewals(30, csm, region, start=2)
    with django_assert_num_queries(queries):
        assert signed_in.get(url, query).status_code == 200
