"""Filing a risk record through the web UI (risks:file)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from risks import selectors, services
from risks.models import RiskRecord, RootCause, TimelineKind
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def file_url(**params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("risks:file") + (f"?{query}" if query else "")


def form_data(account, cause, **overrides) -> dict:
    data = {
        "account": account.pk,
        "primary_cause": cause.pk,
        "secondary_cause": "",
        "summary": "Usage halved since the champion left.",
        "next_steps": "Sponsor call on Monday; relaunch training.",
        "arr_at_risk": "",
    }
    data.update(overrides)
    return data


def listed_account_ids(response) -> list[int]:
    choices = response.context["form"].fields["account"].widget.choices
    return [value for value, _label in choices if value != ""]


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- filing succeeds ----------------------------------------------------------------------


def test_csm_files_a_risk_and_lands_on_its_detail_page(client, csm, account, low_usage):
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage))

    risk = RiskRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("risks:detail", args=[risk.pk])
    assert (risk.account, risk.primary_cause, risk.tier, risk.opened_by) == (
        account,
        low_usage,
        1,
        csm,
    )
    assert risk.arr_at_risk == account.arr  # empty = the account's full ARR
    assert list(risk.events.values_list("kind", flat=True)) == [TimelineKind.OPENED]
    assert any("Risk record filed" in message for message in flash(response))

    page = client.get(response["Location"])
    assert "Usage halved since the champion left." in page.content.decode()


def test_filing_keeps_the_given_arr_at_risk_and_secondary_cause(
    client, csm, account, low_usage, defects
):
    client.force_login(csm)

    client.post(
        file_url(),
        form_data(account, low_usage, secondary_cause=defects.pk, arr_at_risk="45000.50"),
    )

    risk = RiskRecord.objects.get()
    assert risk.arr_at_risk == Decimal("45000.50")
    assert risk.secondary_cause == defects


# --- filing is refused ---------------------------------------------------------------------


def test_blank_summary_and_next_steps_show_errors_next_to_their_fields(
    client, csm, account, low_usage
):
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage, summary="  ", next_steps=""))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "summary" in errors and "next_steps" in errors
    html = response.content.decode()
    assert 'id="field-id_summary"' in html and "field-invalid" in html
    assert 'id="id_summary_error"' in html and 'id="id_next_steps_error"' in html
    assert not RiskRecord.objects.exists()


def test_secondary_cause_equal_to_primary_shows_the_error_on_secondary_cause(
    client, csm, account, low_usage
):
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage, secondary_cause=low_usage.pk))

    assert response.status_code == 400
    assert response.context["form"].errors["secondary_cause"] == [
        "The secondary cause must differ from the primary cause."
    ]
    assert 'id="id_secondary_cause_error"' in response.content.decode()
    assert not RiskRecord.objects.exists()


def test_second_open_record_is_refused_with_a_link_to_the_existing_one(
    client, csm, account, low_usage, defects
):
    existing = services.risk_open(
        user=csm, account=account, primary_cause=defects, summary="s", next_steps="n"
    )
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage))

    assert response.status_code == 400
    html = response.content.decode()
    assert f'href="{reverse("risks:detail", args=[existing.pk])}"' in html
    assert "already has an open risk record" in html
    assert RiskRecord.objects.count() == 1


def test_csm_cannot_file_on_another_csms_account_with_a_crafted_post(
    client, csm, other_csm, low_usage
):
    foreign = factories.AccountFactory(csm=other_csm)
    client.force_login(csm)

    response = client.post(file_url(), form_data(foreign, low_usage))

    assert response.status_code == 403
    assert "only on accounts you own" in response.content.decode()
    assert not RiskRecord.objects.exists()


def test_reviewer_gets_a_403_that_says_why(client, reviewer):
    client.force_login(reviewer)

    response = client.get(file_url())

    assert response.status_code == 403
    assert "as a reviewer you can read every record but not file one" in response.content.decode()


def test_reviewer_cannot_file_with_a_crafted_post(client, reviewer, account, low_usage):
    client.force_login(reviewer)

    response = client.post(file_url(), form_data(account, low_usage))

    assert response.status_code == 403
    assert not RiskRecord.objects.exists()


def test_inactive_cause_is_not_offered_and_is_refused(client, csm, account, low_usage):
    RootCause.objects.filter(pk=low_usage.pk).update(active=False)
    client.force_login(csm)

    page = client.get(file_url())
    response = client.post(file_url(), form_data(account, low_usage))

    assert low_usage.name not in page.content.decode()
    assert response.status_code == 400
    assert "primary_cause" in response.context["form"].errors
    assert not RiskRecord.objects.exists()


# --- the account list -----------------------------------------------------------------------


def test_account_list_is_limited_to_what_each_role_may_file_on(
    client, csm, manager, other_csm, admin_user, account
):
    own_of_manager = factories.AccountFactory(csm=manager)
    of_other_team = factories.AccountFactory(csm=other_csm)

    listed = {}
    for user in (csm, manager, admin_user):
        client.force_login(user)
        listed[user.username] = set(listed_account_ids(client.get(file_url())))

    assert listed["carl"] == {account.pk}
    assert listed["maria"] == {account.pk, own_of_manager.pk}
    assert listed["ada"] == {account.pk, own_of_manager.pk, of_other_team.pk}


def test_account_options_show_name_region_and_arr(client, csm, account):
    client.force_login(csm)

    html = client.get(file_url()).content.decode()

    assert f"{account.name} — EMEA — ARR USD 120,000" in html


def test_search_narrows_the_account_list_without_javascript(client, csm):
    wanted = factories.AccountFactory(csm=csm, name="Blue Harbour Ltd")
    factories.AccountFactory(csm=csm, name="Red Mountain AG")
    client.force_login(csm)

    response = client.get(file_url(q="harbour"))

    assert response.status_code == 200
    assert listed_account_ids(response) == [wanted.pk]
    assert 'value="harbour"' in response.content.decode()


def test_search_with_no_match_says_so(client, csm, account):
    client.force_login(csm)

    response = client.get(file_url(q="zzz"))

    assert listed_account_ids(response) == []
    assert "No account you may file on matches" in response.content.decode()


def test_long_account_list_is_capped_and_says_so(client, csm, monkeypatch):
    monkeypatch.setattr(selectors, "ACCOUNT_CHOICES_LIMIT", 3)
    factories.AccountFactory.create_batch(5, csm=csm)
    client.force_login(csm)

    response = client.get(file_url())

    assert len(listed_account_ids(response)) == 3
    assert "Showing the first 3 accounts" in response.content.decode()


def test_htmx_search_returns_only_the_account_select_fragment(client, csm):
    wanted = factories.AccountFactory(csm=csm, name="Blue Harbour Ltd")
    factories.AccountFactory(csm=csm, name="Red Mountain AG")
    client.force_login(csm)

    response = client.get(file_url(partial="accounts", q="harb"), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="account-choices"')
    assert "<html" not in html and "primary_cause" not in html
    assert "Blue Harbour Ltd" in html and "Red Mountain AG" not in html
    assert listed_account_ids(response) == [wanted.pk]


def test_htmx_search_keeps_the_selected_account_listed(client, csm):
    chosen = factories.AccountFactory(csm=csm, name="Blue Harbour Ltd")
    factories.AccountFactory(csm=csm, name="Red Mountain AG")
    client.force_login(csm)

    response = client.get(file_url(partial="accounts", q="mountain", account=chosen.pk), **HTMX)

    html = response.content.decode()
    assert f'<option value="{chosen.pk}" selected>' in html
    assert "Red Mountain AG" in html


def test_htmx_account_change_returns_the_arr_field_prefilled(client, csm):
    chosen = factories.AccountFactory(csm=csm, arr=Decimal("88000.00"))
    client.force_login(csm)

    response = client.get(file_url(partial="arr", account=chosen.pk), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    # Both ARR fields come back in their wrapper, which the swap replaces whole.
    assert html.lstrip().startswith('<div id="arr-fields">') and 'id="field-id_arr_at_risk"' in html
    assert "<html" not in html and "<select" not in html
    assert 'value="88000.00"' in html


def test_partials_without_htmx_render_the_whole_page(client, csm):
    client.force_login(csm)

    response = client.get(file_url(partial="accounts"))

    assert "<html" in response.content.decode()


def test_account_parameter_preselects_the_account_and_prefills_its_arr(client, csm):
    chosen = factories.AccountFactory(csm=csm, arr=Decimal("77000.00"))
    factories.AccountFactory(csm=csm)
    client.force_login(csm)

    html = client.get(file_url(account=chosen.pk)).content.decode()

    assert f'<option value="{chosen.pk}" selected>' in html
    assert 'name="arr_at_risk" value="77000.00"' in html


def test_without_an_account_arr_at_risk_is_empty_with_help_text(client, csm, account):
    client.force_login(csm)

    response = client.get(file_url())

    html = response.content.decode()
    assert response.context["form"]["arr_at_risk"].value() is None
    assert 'name="arr_at_risk" value=' not in html
    assert "Empty = the account's full ARR." in html


def test_account_parameter_for_someone_elses_account_preselects_nothing(client, csm, other_csm):
    foreign = factories.AccountFactory(csm=other_csm)
    client.force_login(csm)

    response = client.get(file_url(account=foreign.pk))

    assert foreign.pk not in listed_account_ids(response)


# --- the cause pickers ------------------------------------------------------------------------


def test_causes_are_radio_cards_grouped_by_category_with_descriptions(client, csm, low_usage):
    client.force_login(csm)

    html = client.get(file_url()).content.decode()

    assert html.count('class="cause-group"') >= 4  # 2 categories, 2 pickers
    assert "<h3>Adoption</h3>" in html and "<h3>Product</h3>" in html
    assert low_usage.description in html
    assert 'class="cause-option"' in html
    # The secondary picker offers "None", chosen by default.
    assert 'name="secondary_cause" value="" required' not in html
    assert 'name="secondary_cause" value="" id="id_secondary_cause_0" checked' in html


def test_account_with_an_open_record_is_flagged_in_the_list(client, csm, account, low_usage):
    existing = services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary="s", next_steps="n"
    )
    client.force_login(csm)

    html = client.get(file_url()).content.decode()

    assert f"already has open record #{existing.pk}" in html


def test_manager_files_on_a_team_members_account(client, manager, account, low_usage):
    client.force_login(manager)

    response = client.post(file_url(), form_data(account, low_usage))

    assert response.status_code == 302
    risk = RiskRecord.objects.get()
    assert (risk.account, risk.opened_by) == (account, manager)


def test_every_error_shows_at_once_with_a_linked_summary(client, csm, account, low_usage):
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage, summary="", arr_at_risk="-5"))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["summary"] == ["This field is required."]
    assert "arr_at_risk" in errors
    html = response.content.decode()
    assert 'id="id_summary_error"' in html and 'id="id_arr_at_risk_error"' in html
    start = html.index('<div class="error-summary"')
    summary = html[start : html.index("</div>", start)]
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary
    assert re.findall(r'<a href="#([^"]+)">', summary) == ["id_summary", "id_arr_at_risk"]
    assert "Summary: This field is required." in summary
    # The browser's own checks would stop at the first problem: the server reports all.
    form_tag = html[html.index('<form method="post" action="/risks/new/"') :]
    assert "novalidate" in form_tag[: form_tag.index(">")]
    assert not RiskRecord.objects.exists()


def test_error_summary_links_a_radio_group_to_its_first_option(client, csm, account, low_usage):
    client.force_login(csm)

    response = client.post(
        file_url(), form_data(account, low_usage, primary_cause="", next_steps="")
    )

    html = response.content.decode()
    start = html.index('<div class="error-summary"')
    links = re.findall(r'<a href="#([^"]+)">', html[start : html.index("</div>", start)])
    assert links[1:] == ["id_next_steps"]
    assert f'id="{links[0]}"' in html and 'name="primary_cause"' in html
    first_radio = html[html.index(f'id="{links[0]}"') - 200 : html.index(f'id="{links[0]}"')]
    assert 'name="primary_cause"' in first_radio


def test_service_rules_show_together_with_the_forms_own_errors(client, csm, account, low_usage):
    client.force_login(csm)

    response = client.post(
        file_url(),
        form_data(account, low_usage, summary="", secondary_cause=low_usage.pk),
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["summary"] == ["This field is required."]
    assert errors["secondary_cause"] == ["The secondary cause must differ from the primary cause."]
    assert not RiskRecord.objects.exists()


def test_an_account_that_already_has_an_open_record_is_said_with_the_other_errors(
    client, csm, account, low_usage
):
    existing = services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary="S.", next_steps="N."
    )
    client.force_login(csm)

    response = client.post(file_url(), form_data(account, low_usage, summary=""))

    errors = response.context["form"].errors
    assert errors["summary"] == ["This field is required."]
    assert errors["account"] == [
        f"{account.name} already has an open risk record (#{existing.pk}); "
        "work on that one instead."
    ]
