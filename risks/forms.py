"""Forms of the Django admin's risk workflow.

They parse input and nothing more: every rule is checked by ``risks.services``,
whose refusals ``add_domain_error`` turns into errors next to the fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.urls import reverse

from accounts.models import ACCOUNT_OWNER_ROLES, Account, Region, Segment, User
from core.exceptions import DomainError
from core.forms import MoneyField, add_domain_error

from . import services
from .models import CLOSED_STATUSES, TEXT_LIMITS, RiskRecord, RootCause, Tier
from .templatetags.risk_tags import money


def admin_record_link(risk: RiskRecord) -> tuple[str, str]:
    """Where the admin links a conflict about another record: its change page."""
    return reverse("admin:risks_riskrecord_change", args=[risk.pk]), f"Go to risk record #{risk.pk}"


def detail_link(risk: RiskRecord) -> tuple[str, str]:
    """Where the web pages link a conflict about another record: its detail page."""
    return reverse("risks:detail", kwargs={"pk": risk.pk}), f"Go to risk record #{risk.pk}"


class RiskRecordAdminForm(forms.ModelForm):
    """Add and change form of the risk record admin.

    Validating the form *is* filing or editing the record: ``_post_clean`` hands
    the cleaned input to ``services.risk_open`` / ``services.risk_edit`` in place of
    model validation, so a refusal becomes a form error and the admin never saves
    the model itself (``save`` returns what the service wrote). The admin view
    rolls the write back if the page is shown again for any other reason.
    """

    loaded_version = forms.IntegerField(
        widget=forms.HiddenInput,
        help_text="The version this page was loaded with; a stale one is refused.",
    )
    arr_above_account_reason = forms.CharField(
        label="Why more than the account's ARR is at risk",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only for an ARR at risk above the account's ARR.",
    )

    # Set by RiskRecordAdmin.get_form to the user making the request.
    user: User | None = None

    class Meta:
        model = RiskRecord
        fields = (
            "account",
            "primary_cause",
            "secondary_cause",
            "summary",
            "next_steps",
            "arr_at_risk",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            del self.fields["loaded_version"]
            if "arr_at_risk" in self.fields:
                self.fields["arr_at_risk"].required = False
                self.fields["arr_at_risk"].help_text = "Leave empty to use the account's ARR."
        else:
            self.fields["loaded_version"].initial = self.instance.version

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = self.cleaned_data
        try:
            if self.instance.pk is None:
                self.instance = services.risk_open(
                    user=self.user,
                    account=data["account"],
                    primary_cause=data.get("primary_cause"),
                    secondary_cause=data.get("secondary_cause"),
                    summary=data.get("summary", ""),
                    next_steps=data.get("next_steps", ""),
                    arr_at_risk=data.get("arr_at_risk"),
                    arr_above_account_reason=data.get("arr_above_account_reason", ""),
                )
            else:
                changes = {
                    field: data[field] for field in services.EDITABLE_FIELDS if field in data
                }
                self.instance = services.risk_edit(
                    user=self.user,
                    risk=self.instance.pk,
                    version=data["loaded_version"],
                    arr_above_account_reason=data.get("arr_above_account_reason", ""),
                    **changes,
                )
        except DomainError as error:
            add_domain_error(self, error, existing_link=admin_record_link)

    def save(self, commit: bool = True) -> RiskRecord:
        # The service wrote the record (and its timeline event) in _post_clean.
        if self.errors:
            raise ValueError("The risk record could not be saved: the form has errors.")
        self.save_m2m = lambda: None
        return self.instance


class RootCauseAdminForm(forms.ModelForm):
    """Add and change form of a root cause: the fields parse text only and
    validating the form calls ``services.root_cause_create`` /
    ``root_cause_update``, whose refusals show next to the fields."""

    # Set by the admin's get_form to the user making the request.
    user: User

    code = forms.CharField(required=False, help_text="Slug; fixed once a risk record uses it.")
    name = forms.CharField(required=False)
    category = forms.CharField(
        required=False, help_text="adoption, product, or another category slug."
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="When a CSM should pick this cause.",
    )

    class Meta:
        model = RootCause
        fields = ["code", "name", "category", "description", "active"]

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = {
            field: self.cleaned_data[field] for field in self.Meta.fields if field in self.fields
        }
        try:
            if self.instance.pk is None:
                self.instance = services.root_cause_create(user=self.user, **data)
            else:
                self.instance = services.root_cause_update(
                    user=self.user, cause=self.instance.pk, **data
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> RootCause:
        if self.errors:
            raise ValueError("The root cause could not be saved: the form has errors.")
        self.save_m2m = lambda: None
        return self.instance


class RiskNoteForm(forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 5}), required=False)


class EscalationRequestForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="Why the record needs the next tier.",
    )


class DeescalateForm(forms.Form):
    to_tier = forms.TypedChoiceField(label="To tier", choices=Tier.choices, coerce=int)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(status.value, status.label) for status in CLOSED_STATUSES]
    )
    note = forms.CharField(
        label="Outcome note", widget=forms.Textarea(attrs={"rows": 5}), required=False
    )
    arr_retained = MoneyField(
        label="ARR retained",
        required=False,
        help_text="Saved records only; empty means the whole ARR at risk was retained.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class RejectEscalationsForm(forms.Form):
    note = forms.CharField(
        label="Why are they rejected?",
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        error_messages={"required": "Say why the escalations are rejected."},
        help_text="Shown to the requesting CSM on the risk's timeline.",
    )


# --- web UI: filing, editing and the actions of the detail page ----------------------
#
# As above, these parse input and nothing more; the views hand the cleaned data
# to risks.services and show its refusals with ``add_domain_error``.


SUGGESTED_GROUP = "Suggested by health signals"


class CauseChoiceIterator(ModelChoiceIterator):
    """Root causes grouped by category, as (category label, [choices]) pairs, so
    the radio widget can render one block per category.

    The field's ``suggested`` causes (cause id → why, in the order to offer
    them) come first, in their own group and out of their category's, each
    with ``suggested_because`` set for the widget to show."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        suggested: dict[int, str] = getattr(self.field, "suggested", {})
        first: dict[int, tuple[Any, str]] = {}
        groups: dict[str, list[tuple[Any, str]]] = {}
        for cause in self.queryset:
            if cause.pk in suggested:
                cause.suggested_because = suggested[cause.pk]
                first[cause.pk] = self.choice(cause)
            else:
                groups.setdefault(cause.category_label, []).append(self.choice(cause))
        if first:
            yield (SUGGESTED_GROUP, [first[pk] for pk in suggested if pk in first])
        yield from groups.items()


class CauseRadioSelect(forms.RadioSelect):
    """Radio cards with each cause's description, one group per category
    (CSS: cause-group / cause-options / cause-option)."""

    template_name = "risks/_file_cause_widget.html"
    compact = False

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["compact"] = self.compact
        context["widget"]["suggested_group"] = SUGGESTED_GROUP
        return context


class CompactCauseRadioSelect(CauseRadioSelect):
    """The same cards without descriptions, for the optional secondary cause:
    the primary picker above already explains each cause."""

    compact = True


class CauseChoiceField(forms.ModelChoiceField):
    iterator = CauseChoiceIterator
    widget = CauseRadioSelect

    def label_from_instance(self, obj: RootCause) -> str:
        return obj.name if obj.active else f"{obj.name} (no longer in use)"


def cause_queryset(*keep: RootCause | None) -> QuerySet[RootCause]:
    """Active causes, plus the inactive ones a record already carries: those
    stay selectable on that record."""
    keep_ids = [cause.pk for cause in keep if cause is not None]
    return RootCause.objects.filter(Q(active=True) | Q(pk__in=keep_ids)).order_by(
        "category", "name"
    )


class RiskDescriptionForm(forms.Form):
    """The fields a CSM writes when filing a record, and changes when editing it."""

    primary_cause = CauseChoiceField(
        queryset=RootCause.objects.none(),
        label="Primary root cause",
        help_text="The main reason the account may churn.",
    )
    secondary_cause = CauseChoiceField(
        queryset=RootCause.objects.none(),
        label="Secondary root cause",
        widget=CompactCauseRadioSelect,
        required=False,
        blank=True,
        empty_label="None",
        help_text="Optional: a second cause that adds to the risk.",
    )
    # The lengths are the service's rule (TEXT_LIMITS); the browser is told too.
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": TEXT_LIMITS["summary"]}),
        help_text="What is happening, in a few sentences.",
    )
    next_steps = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": TEXT_LIMITS["next_steps"]}),
        help_text="What you will do next, and by when.",
    )
    arr_at_risk = MoneyField(label="ARR at risk")
    arr_above_account_reason = forms.CharField(
        label="Why more than the account's ARR is at risk",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 2, "maxlength": TEXT_LIMITS["arr_above_account_reason"]}
        ),
        help_text="Only for an ARR at risk above the account's ARR, which the CSM's "
        "manager or an admin confirms with a reason.",
    )

    def __init__(self, *args: Any, keep_causes: tuple[RootCause | None, ...] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        queryset = cause_queryset(*keep_causes)
        self.fields["primary_cause"].queryset = queryset
        self.fields["secondary_cause"].queryset = queryset


class RiskFileForm(RiskDescriptionForm):
    """Filing a risk record. The account list shows only accounts the user may
    file on (``account_choices``); the field itself accepts any account, so that
    a crafted POST reaches the service, which refuses it with its reason."""

    field_order = ["account"]

    account = forms.ModelChoiceField(
        queryset=Account.objects.all(),
        empty_label="Choose an account…",
        help_text="Only accounts you may file on are listed.",
    )

    def __init__(
        self,
        *args: Any,
        account_choices: list[tuple[Any, str]] | None = None,
        suggested_causes: dict[int, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        account = self.fields["account"]
        account.widget.choices = [("", "Choose an account…"), *(account_choices or [])]
        # Offered first: the causes the chosen account's red health measures suggest.
        self.fields["primary_cause"].suggested = suggested_causes or {}
        # With htmx, choosing an account refills both ARR fields (one wrapper, so
        # neither is doubled), "ARR at risk" with its ARR, and, out of band, the
        # account's health badge and the primary causes (keeping the one picked).
        # The fields it replaces are disabled meanwhile, so nothing typed or
        # picked while the request is out is lost in the swap.
        account.widget.attrs.update(
            {
                "hx-get": reverse("risks:file") + "?partial=arr",
                "hx-trigger": "change",
                "hx-target": "#arr-fields",
                "hx-swap": "outerHTML",
                "hx-include": "#primary-cause",
                "hx-disabled-elt": "#primary-cause input, #arr-fields input, #arr-fields textarea",
            }
        )
        arr = self.fields["arr_at_risk"]
        arr.required = False
        arr.help_text = "Empty = the account's full ARR."


class RiskEditForm(RiskDescriptionForm):
    """Editing an open record; ``version`` is the one the page was loaded with."""

    version = forms.IntegerField(widget=forms.HiddenInput)


# On the detail page the texts the services require are marked required too, so
# the label shows it and the browser can say so before a round trip.


class RiskNoteEntryForm(RiskNoteForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].required = True
        self.fields["text"].widget.attrs["rows"] = 3


class EscalationReasonForm(EscalationRequestForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = True
        self.fields["reason"].widget.attrs["rows"] = 3


class RiskDeescalateForm(DeescalateForm):
    """De-escalation on the detail page: only the tiers below the current one."""

    def __init__(self, *args: Any, risk: RiskRecord, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = True
        self.fields["note"].widget.attrs["rows"] = 3
        self.fields["to_tier"].choices = [
            (tier.value, tier.label) for tier in Tier if tier.value < risk.tier
        ]
        self.fields["to_tier"].initial = risk.tier - 1  # one step down unless chosen
        self.fields["note"].help_text = "Why the record no longer needs this tier."


class RiskCloseForm(CloseForm):
    """Closing on the detail page, with the outcome as radio buttons."""

    def __init__(self, *args: Any, risk: RiskRecord, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = True
        self.fields["note"].widget.attrs["rows"] = 3
        self.fields["outcome"].widget = forms.RadioSelect(choices=self.fields["outcome"].choices)
        self.fields["outcome"].help_text = (
            "Saved: the customer renews (fully or partly). Churned: they leave. "
            "Withdrawn: raised in error or no longer a risk."
        )
        self.fields["arr_retained"].help_text = (
            f"Saved only. Empty = the whole ARR at risk ({money(risk.arr_at_risk)}); "
            "less means a downsell."
        )
        self.fields["arr_retained"].widget.attrs.update({"step": "0.01", "min": "0"})


# --- the Health page's filters ------------------------------------------------------


class HealthFilterForm(forms.Form):
    """Region, segment and, for people who own or lead accounts, whose accounts.

    Everyone may read every account's health; "mine" and "my team" only narrow
    the page to what a CSM or a manager answers for."""

    region = forms.ModelChoiceField(
        queryset=Region.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label="Any region",
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label="Any segment",
    )
    owner = forms.ChoiceField(label="Accounts", required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Everyone's accounts")]
        if user.role in ACCOUNT_OWNER_ROLES:
            choices.append(("mine", "My accounts"))
        if user.is_manager:
            choices.append(("team", "My team's accounts"))
        if len(choices) == 1:
            del self.fields["owner"]
        else:
            self.fields["owner"].choices = choices
