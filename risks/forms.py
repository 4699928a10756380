"""Forms of the Django admin's risk workflow.

They parse input and nothing more: every rule is checked by ``risks.services``,
whose refusals ``add_domain_error`` turns into errors next to the fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User

from . import services
from .exceptions import Conflict, DomainError, InvalidInput
from .models import CLOSED_STATUSES, RiskRecord, Tier


def add_domain_error(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal on ``form``: field errors next to their fields,
    anything else (not allowed, conflicts) above the form."""
    if isinstance(error, InvalidInput):
        for field, messages in error.errors.items():
            form.add_error(field if field in form.fields else None, messages)
        return
    if isinstance(error, Conflict) and isinstance(error.existing, RiskRecord):
        url = reverse("admin:risks_riskrecord_change", args=[error.existing.pk])
        form.add_error(
            None,
            format_html(
                '{} <a href="{}">Go to risk record #{}</a>.',
                error.message,
                url,
                error.existing.pk,
            ),
        )
        return
    form.add_error(None, error.message)


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
                )
            else:
                changes = {
                    field: data[field] for field in services.EDITABLE_FIELDS if field in data
                }
                self.instance = services.risk_edit(
                    user=self.user,
                    risk=self.instance.pk,
                    version=data["loaded_version"],
                    **changes,
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> RiskRecord:
        # The service wrote the record (and its timeline event) in _post_clean.
        if self.errors:
            raise ValueError("The risk record could not be saved: the form has errors.")
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
    arr_retained = forms.DecimalField(
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
