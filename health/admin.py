"""Admin of the health scorecard: measures (with their lines), scorecard lines,
the scorecard editor of one segment, and read-only observations and scores.

Every write goes through ``health.services``, as the API's do: the forms parse,
the services decide, and their refusals show next to the fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import formset_factory
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from accounts.models import Segment, User
from core.admin import ReadOnlyAdmin, ServiceFormAdmin
from core.exceptions import DomainError, InvalidInput
from core.forms import add_domain_error

from . import services
from .models import HealthScore, Measure, Observation, Threshold

# --- forms that write through the services ---------------------------------------------


class MeasureAdminForm(forms.ModelForm):
    """Add and change form of a measure: validating it calls
    ``services.measure_create`` / ``measure_update``."""

    # Set by the admin's get_form to the user making the request.
    user: User

    class Meta:
        model = Measure
        fields = list(services.MEASURE_FIELDS)

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = {field: self.cleaned_data[field] for field in self.Meta.fields}
        try:
            if self.instance.pk is None:
                self.instance = services.measure_create(user=self.user, **data)
            else:
                self.instance = services.measure_update(
                    user=self.user, measure=self.instance.pk, **data
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> Measure:
        if self.errors:
            raise ValueError("The measure could not be saved: the form has errors.")
        self.save_m2m = lambda: None
        return self.instance


class ThresholdAdminForm(forms.ModelForm):
    """A scorecard line: validating it calls ``services.threshold_create`` /
    ``threshold_update``. As an inline of its measure, ``measure`` is the
    measure of the page."""

    user: User

    class Meta:
        model = Threshold
        fields = ["measure", "segment", "red", "green", "weight"]

    def _post_clean(self) -> None:
        if self.errors or self.cleaned_data.get("DELETE"):
            return  # a line marked for deletion goes through the formset
        data = {field: self.cleaned_data.get(field) for field in self.Meta.fields}
        if isinstance(self.fields.get("measure"), InlineForeignKeyField):
            # An inline: the measure as the page's own form has just written it
            # (the formset holds the page's measure as it was loaded).
            data["measure"] = Measure.objects.get(pk=data["measure"].pk)
        try:
            if self.instance.pk is None:
                self.instance = services.threshold_create(user=self.user, **data)
            else:
                self.instance = services.threshold_update(
                    user=self.user, threshold=self.instance.pk, **data
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> Threshold:
        if self.errors:
            raise ValueError("The line could not be saved: the form has errors.")
        self.save_m2m = lambda: None
        return self.instance


class ThresholdInlineFormSet(forms.BaseInlineFormSet):
    user: User

    def delete_existing(self, obj: Threshold, commit: bool = True) -> None:
        if commit:
            services.threshold_delete(user=self.user, threshold=obj)


class ThresholdInline(admin.TabularInline):
    """The measure's lines: the default line (no segment) and the segments'."""

    model = Threshold
    form = ThresholdAdminForm
    formset = ThresholdInlineFormSet
    fields = ("segment", "red", "green", "weight")
    extra = 0
    verbose_name = "scorecard line"
    verbose_name_plural = "Scorecard lines (no segment: the default line)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("segment")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        form = type(formset.form.__name__, (formset.form,), {"user": request.user})
        return type(formset.__name__, (formset,), {"form": form, "user": request.user})


# --- measures ---------------------------------------------------------------------------


@admin.register(Measure)
class MeasureAdmin(ServiceFormAdmin):
    form = MeasureAdminForm
    list_display = (
        "code",
        "name",
        "dimension",
        "kind",
        "better",
        "scoring",
        "stale_after_days",
        "suggested_cause",
        "active",
    )
    list_filter = ("dimension", "kind", "active")
    list_select_related = ("suggested_cause",)
    search_fields = ("code", "name", "description")
    inlines = (ThresholdInline,)
    actions = ("deactivate", "activate")

    def get_inlines(self, request: HttpRequest, obj: Measure | None) -> tuple:
        # Lines are added once the measure exists (the rules of a line depend
        # on the measure as saved).
        return self.inlines if obj is not None else ()

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        # Checked first: listing every protected observation would load them all.
        if any(services.measure_observed(measure) for measure in objs):
            return [], {}, set(), [services.MEASURE_IN_USE]
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request: HttpRequest, obj: Measure) -> None:
        services.measure_delete(user=request.user, measure=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for measure in queryset:
                services.measure_delete(user=request.user, measure=measure)

    def _set_active(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        measures = list(queryset.exclude(active=active))
        try:
            with transaction.atomic():
                for measure in measures:
                    services.measure_update(user=request.user, measure=measure, active=active)
                    self.log_change(request, measure, [{"changed": {"fields": ["Active"]}}])
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        state = "activated" if active else "deactivated"
        self.message_user(request, f"{len(measures)} measure(s) {state}.", messages.SUCCESS)

    @admin.action(description="Deactivate selected measures", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Activate selected measures", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=True)


# --- scorecard lines and the scorecard editor ---------------------------------------------


DEFAULT_CARD = "default"


class ScorecardRowForm(forms.Form):
    """One measure on the editor: the values parse here, the rules are the
    service's (``services.scorecard_save``)."""

    measure = forms.IntegerField(widget=forms.HiddenInput)
    red = forms.DecimalField(required=False, widget=forms.TextInput(attrs={"size": 10}))
    green = forms.DecimalField(required=False, widget=forms.TextInput(attrs={"size": 10}))
    weight = forms.IntegerField(required=False, widget=forms.TextInput(attrs={"size": 4}))
    keep_own = forms.BooleanField(
        required=False,
        label="Own line",
        help_text="Keep a line of this segment even where it equals the default line.",
    )


ScorecardFormSet = formset_factory(ScorecardRowForm, extra=0)


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros (20, not 20.0000) and never as 2E+1."""
    return Decimal(format(value.normalize(), "f"))


def _line_text(line: Threshold | None) -> str:
    if line is None:
        return "none"
    return f"{_plain(line.red)} / {_plain(line.green)} / {line.weight}"


def _row_initial(line: services.ScorecardLine) -> dict[str, Any]:
    effective = line.effective
    return {
        "measure": line.measure.pk,
        "red": _plain(effective.red) if effective else None,
        "green": _plain(effective.green) if effective else None,
        "weight": effective.weight if effective else None,
        # Ticked where the segment has its own line, so saving an untouched
        # card changes nothing.
        "keep_own": line.own is not None,
    }


def _row(form: forms.Form) -> services.ScorecardRow:
    data = form.cleaned_data
    return services.ScorecardRow(
        measure_id=data["measure"],
        red=data.get("red"),
        green=data.get("green"),
        weight=data.get("weight"),
        keep_own=bool(data.get("keep_own")),
    )


@admin.register(Threshold)
class ThresholdAdmin(ServiceFormAdmin):
    form = ThresholdAdminForm
    list_display = ("measure", "segment_or_default", "red", "green", "weight")
    list_filter = ("segment", "measure__dimension", "measure__active")
    list_select_related = ("measure", "segment")
    search_fields = ("measure__code", "measure__name", "segment__code", "segment__name")
    scorecard_template = "admin/health/threshold/scorecard.html"

    @admin.display(description="Segment", ordering="segment__name")
    def segment_or_default(self, line: Threshold) -> str:
        return line.segment.name if line.segment else "Default (every segment)"

    def delete_model(self, request: HttpRequest, obj: Threshold) -> None:
        services.threshold_delete(user=request.user, threshold=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for line in queryset:
                services.threshold_delete(user=request.user, threshold=line)

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        editor = path(
            "scorecard/",
            self.admin_site.admin_view(self.scorecard_view),
            name="{}_{}_scorecard".format(*info),
        )
        return [editor, *super().get_urls()]

    # --- the scorecard editor -------------------------------------------------------------

    def scorecard_view(self, request: HttpRequest) -> HttpResponse:
        """Every active measure of one card (a segment's, or the default) with
        the line that scores it there, red, green and weight editable in one
        form, saved in one transaction."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        segments = list(Segment.objects.order_by("name"))
        chosen = request.GET.get("segment") or DEFAULT_CARD
        segment = next((s for s in segments if s.code == chosen), None)
        if segment is None and chosen != DEFAULT_CARD:
            self.message_user(request, f"No segment {chosen!r}.", messages.WARNING)
            return HttpResponseRedirect(request.path)
        lines = services.scorecard_lines(segment)
        initial = [_row_initial(line) for line in lines]
        card_errors: list[str] = []
        if request.method == "POST":
            formset = ScorecardFormSet(request.POST, initial=initial)
            posted = [str(form["measure"].value()) for form in formset.forms]
            if posted != [str(line.measure.pk) for line in lines]:
                self.message_user(
                    request,
                    "The scorecard's measures changed meanwhile; here is the card as it is "
                    "now. Nothing was saved.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(self._scorecard_url(segment))
            if formset.is_valid():
                try:
                    with transaction.atomic():
                        changes = services.scorecard_save(
                            user=request.user,
                            segment=segment,
                            rows=[_row(form) for form in formset.forms],
                        )
                        self._log_scorecard(request, changes)
                except services.ScorecardInvalid as invalid:
                    for index, errors in invalid.rows.items():
                        add_domain_error(formset.forms[index], InvalidInput(errors))
                except DomainError as error:
                    card_errors.append(error.message)
                else:
                    self.message_user(request, _changes_message(segment, changes), messages.SUCCESS)
                    return HttpResponseRedirect(self._scorecard_url(segment))
        else:
            formset = ScorecardFormSet(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": "Scorecard editor",
            "subtitle": segment.name if segment else "Default lines",
            "opts": self.opts,
            "segments": segments,
            "segment": segment,
            "chosen": chosen,
            "default_card": DEFAULT_CARD,
            "formset": formset,
            "rows": [
                (line, form, _line_text(line.default))
                for line, form in zip(lines, formset.forms, strict=True)
            ],
            "card_errors": card_errors,
            "has_errors": bool(card_errors) or any(form.errors for form in formset.forms),
            "media": self.media + formset.media,
        }
        return TemplateResponse(request, self.scorecard_template, context)

    def _scorecard_url(self, segment: Segment | None) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_scorecard")
        return f"{url}?{urlencode({'segment': segment.code if segment else DEFAULT_CARD})}"

    def _log_scorecard(self, request: HttpRequest, changes: services.ScorecardChanges) -> None:
        for line in changes.created:
            self.log_addition(request, line, [{"added": {}}])
        for line in changes.updated:
            self.log_change(request, line, [{"changed": {"fields": ["Red", "Green", "Weight"]}}])
        if changes.deleted:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=changes.deleted, action_flag=DELETION
            )


def _changes_message(segment: Segment | None, changes: services.ScorecardChanges) -> str:
    card = f"The scorecard of {segment.name}" if segment else "The default scorecard"
    if not changes:
        return f"{card} is unchanged."
    parts = []
    if changes.created:
        parts.append(f"{len(changes.created)} line(s) added")
    if changes.updated:
        parts.append(f"{len(changes.updated)} changed")
    if changes.deleted:
        removed = "removed" if segment is None else "removed (back on the default line)"
        parts.append(f"{len(changes.deleted)} {removed}")
    return f"{card} is saved: {', '.join(parts)}."


# --- what was observed and scored: for reference ----------------------------------------------


@admin.register(Observation)
class ObservationAdmin(ReadOnlyAdmin):
    list_display = ("account", "measure", "observed_on", "value", "source", "recorded_at")
    list_filter = ("source", "measure")
    list_select_related = ("account", "measure")
    search_fields = ("account__name", "account__external_id", "measure__code")
    # Millions of rows: no full count under every filtered page, and no date
    # hierarchy (it scans the whole table for its first and last day).
    show_full_result_count = False


@admin.register(HealthScore)
class HealthScoreAdmin(ReadOnlyAdmin):
    list_display = ("account", "as_of", "score", "band", "coverage", "computed_at")
    list_filter = ("band",)
    list_select_related = ("account",)
    search_fields = ("account__name", "account__external_id")
    ordering = ("-as_of",)
    show_full_result_count = False
