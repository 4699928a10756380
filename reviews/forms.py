"""Forms of the weekly review pages.

They only parse: whether the text may be blank, which departments exist and
whether an owner may be chosen are rules of ``reviews.services`` (refusals come
back as ``InvalidInput`` and are shown next to the fields with
``risks.forms.add_domain_error``). The browser's ``required`` attribute only
saves a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from accounts.models import Department, User

from .models import AgendaItem


def note_prefix(item: AgendaItem | int) -> str:
    """One prefix per item and form: the agenda page holds a pair of forms per
    item, and their ids must not collide."""
    return f"item-{getattr(item, 'pk', item)}-note"


def action_prefix(item: AgendaItem | int) -> str:
    return f"item-{getattr(item, 'pk', item)}-action"


class ReviewNoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "required": True}),
        help_text="What the review discussed or decided. It also appears on the risk's timeline.",
    )


class ActionItemForm(forms.Form):
    description = forms.CharField(
        label="Action",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )
    # A plain choice of ids rather than a ModelChoiceField: the agenda page holds
    # one form per item, and a model choice field queries its options each time
    # it renders. The view loads the region's people once and passes them in.
    owner = forms.TypedChoiceField(
        label="Owner", coerce=int, empty_value=None, required=False, choices=[]
    )
    department = forms.ChoiceField(
        label="Department",
        choices=[("", "None"), *Department.choices],
        required=False,
    )
    due_date = forms.DateField(
        label="Due date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Optional.",
    )

    def __init__(self, *args: Any, owners: Iterable[User] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owners = {user.pk: user for user in owners}
        self.fields["owner"].choices = [
            ("", "Nobody yet"),
            *((pk, user.get_full_name() or user.username) for pk, user in self.owners.items()),
        ]

    def owner_user(self) -> User | None:
        """The chosen owner (call after ``is_valid``)."""
        return self.owners.get(self.cleaned_data.get("owner"))
