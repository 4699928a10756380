"""Admin pieces several apps share."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model shown for reference only: nothing is added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ServiceFormAdmin(admin.ModelAdmin):
    """An admin whose add and change forms write through a service.

    The form's validation *is* the write: its ``_post_clean`` calls the service
    (so a refusal becomes a form error) and ``save`` returns what the service
    wrote. The form gets the acting user as ``form.user``. If the page is shown
    again after the call for any reason, the write is rolled back.
    """

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            context = getattr(response, "context_data", None) or {}
            if request.method == "POST" and "adminform" in context:
                # The form is shown again: something failed after (or in) the
                # service call. Undo whatever it wrote so nothing is half-applied.
                transaction.set_rollback(True)
        return response

    def save_model(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool
    ) -> None:
        """Nothing to do: the service wrote the object when the form was validated.
        (The default save_related stays: it records what the change message needs.)"""
