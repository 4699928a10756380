"""The rule editor's form: a rule's fields and three condition rows, each a
type menu and the parameters the types take, built from menus and number
inputs (nobody types JSON).

The form parses and nothing more. Every field is optional here and passed on
as it was sent (a measure or a segment by its code or id), so that
``rules.services`` judges the whole rule at once and says, in its words, what
is wrong: its errors name ``conditions[i].param``, which ``add_service_error``
puts beside the input of the row that condition came from. A row's
parameters that its type does not take are ignored (static/js/rules.js hides
them when JavaScript runs).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from accounts.models import HealthBand, Region, Segment
from core.exceptions import DomainError, InvalidInput
from health.models import Measure, MeasureKind
from risks.forms import cause_queryset

from . import conditions as c
from .backtest import DEFAULT_HORIZON_DAYS, DEFAULT_MONTHS, MAX_HORIZON_DAYS, MAX_MONTHS
from .models import Action, Rule
from .services import DESCRIPTION_LIMIT, NAME_LIMIT

# Rows are numbered from 1, as the page shows them: row n's fields are c{n}_….
ROWS = c.MAX_CONDITIONS
PARAMETERS = ("measure", "band", "value", "percent", "points", "days")
TYPE_PARAMETERS = {code: list(params) for code, (_, params) in c.TYPES.items()}
PARAMETER_LABELS = {
    "measure": "Measure",
    "band": "Band",
    "value": "Value",
    "percent": "Change (%)",
    "points": "Points",
    "days": "Days",
}
PARAMETER_HELP = {
    "value": "Strictly below or above this number.",
    "percent": "Against the measure's baseline: \u221230 means it fell by more than 30%.",
    "points": f"From 1 to {c.MAX_POINTS}.",
    "days": f"From 1 to {c.MAX_DAYS}.",
}


def field_name(row: int, parameter: str) -> str:
    return f"c{row}_{parameter}"


class _AnyChoices(forms.MultipleChoiceField):
    """Checkboxes whose values the service checks (and names when wrong)."""

    def valid_value(self, value: Any) -> bool:
        return True


def _select(choices: list[Any], **attrs: Any) -> forms.Select:
    return forms.Select(choices=choices, attrs=attrs)


def _measure_choices(keep: set[str]) -> list[tuple[str, str]]:
    """Every active measure with its kind, plus the ones the rule names
    already (so an inactive one stays shown and the service says so)."""
    measures = Measure.objects.filter(active=True) | Measure.objects.filter(code__in=keep)
    choices = [("", "Choose a measure\u2026")]
    for measure in measures.order_by("name", "code"):
        kind = "event" if measure.kind == MeasureKind.EVENT else "number"
        inactive = "" if measure.active else ", inactive"
        choices.append((measure.code, f"{measure.name} ({kind}{inactive})"))
    return choices


def _cause_choices(rule: Rule | None) -> list[Any]:
    """Active root causes by category (and the rule's own, if inactive)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    keep = (rule.primary_cause,) if rule is not None and rule.primary_cause_id else ()
    for cause in cause_queryset(*keep):
        label = cause.name if cause.active else f"{cause.name} (no longer in use)"
        groups.setdefault(cause.category_label, []).append((str(cause.pk), label))
    return [("", "None"), *groups.items()]


def _number_text(value: Any) -> str:
    """A stored number as the input shows it, and as compared: no exponent,
    no trailing zeros."""
    if value in (None, ""):
        return ""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value).strip()
    if not number.is_finite():
        return str(value).strip()
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def initial_from_rule(rule: Rule) -> dict[str, Any]:
    """The form's values for a saved rule."""
    initial: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "segment": str(rule.segment_id or ""),
        "region": str(rule.region_id or ""),
        "primary_cause": str(rule.primary_cause_id or ""),
        "actions": list(rule.actions or []),
        "version": rule.version,
    }
    for row, condition in enumerate(rule.conditions or [], start=1):
        if row > ROWS or not isinstance(condition, dict):
            break
        initial[field_name(row, "type")] = condition.get("type", "")
        for parameter in PARAMETERS:
            if parameter in condition:
                value = condition[parameter]
                if parameter in ("value", "percent", "points", "days"):
                    value = _number_text(value)
                initial[field_name(row, parameter)] = value
    return initial


class RuleForm(forms.Form):
    name = forms.CharField(
        label="Name",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": NAME_LIMIT, "required": True}),
        help_text="What the rule looks for, in a few words; shown on records it opens.",
    )
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": DESCRIPTION_LIMIT}),
        help_text="Optional: why the rule exists and what a match means.",
    )
    segment = forms.CharField(label="Segment", required=False)
    region = forms.CharField(label="Region", required=False)
    primary_cause = forms.CharField(
        label="Primary cause",
        required=False,
        help_text="The primary cause of the records the rule opens; the cause's playbook "
        "gives them their tasks. Needed when the rule opens records.",
    )
    actions = _AnyChoices(
        label="When it matches an account",
        choices=Action.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checkbox-list"}),
        help_text="If the account already has an open record, the evidence is added to "
        "that record's timeline instead of opening another.",
    )

    def __init__(self, *args: Any, rule: Rule | None = None, **kwargs: Any) -> None:
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_from_rule(rule)
        super().__init__(*args, **kwargs)
        self.rule = rule
        # Errors of the conditions as a whole (too many, a contradiction),
        # shown above the rows.
        self.condition_errors: list[str] = []
        # The row each condition sent to the service came from.
        self.rows_sent: list[int] = []
        self.fields["segment"].widget = _select(
            [("", "Every segment")]
            + [
                (str(pk), name)
                for pk, name in Segment.objects.order_by("name").values_list("pk", "name")
            ]
        )
        self.fields["region"].widget = _select(
            [("", "Every region")]
            + [
                (str(pk), f"{name} ({code})")
                for pk, code, name in Region.objects.order_by("code").values_list(
                    "pk", "code", "name"
                )
            ]
        )
        self.fields["primary_cause"].widget = _select(_cause_choices(rule))
        if rule is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, required=False)
        keep = {
            str(condition.get("measure"))
            for condition in (rule.conditions if rule is not None else []) or []
            if isinstance(condition, dict) and condition.get("measure")
        }
        measures = _measure_choices(keep)
        for row in range(1, ROWS + 1):
            self._add_row(row, measures)

    def _add_row(self, row: int, measures: list[tuple[str, str]]) -> None:
        types = list(c.TYPE_CHOICES) if row == 1 else [("", "\u2014"), *c.TYPE_CHOICES]
        type_field = forms.CharField(
            label="Type",
            required=False,
            widget=_select(types, **{"data-condition-type": ""}),
        )
        type_field.summary_label = f"Condition {row}"
        type_field.row = row
        self.fields[field_name(row, "type")] = type_field
        widgets = {
            "measure": _select(measures),
            "band": _select([("", "Choose a band\u2026"), *HealthBand.choices]),
            "value": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "percent": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "points": forms.NumberInput(attrs={"step": 1, "min": 1, "max": 100}),
            "days": forms.NumberInput(attrs={"step": 1, "min": 1, "max": c.MAX_DAYS}),
        }
        for parameter in PARAMETERS:
            field = forms.CharField(
                label=PARAMETER_LABELS[parameter],
                required=False,
                widget=widgets[parameter],
                help_text=PARAMETER_HELP.get(parameter, ""),
            )
            field.summary_label = f"Condition {row}, {PARAMETER_LABELS[parameter].lower()}"
            field.row = row
            field.parameter = parameter
            self.fields[field_name(row, parameter)] = field

    # --- what the page shows ----------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Each condition row: its number, its type field and its parameter fields."""
        return [
            {
                "number": row,
                "type": self[field_name(row, "type")],
                "parameters": [
                    (parameter, self[field_name(row, parameter)]) for parameter in PARAMETERS
                ],
            }
            for row in range(1, ROWS + 1)
        ]

    @property
    def type_parameters_json(self) -> str:
        """Which parameters each type takes, for static/js/rules.js."""
        return json.dumps(TYPE_PARAMETERS)

    def summary(self) -> list[tuple[str, str]]:
        """Every error but the form's own, as (id of its input, text): the
        list at the top of the editor."""
        items = []
        for name, field in self.fields.items():
            for error in self.errors.get(name, []):
                label = getattr(field, "summary_label", field.label)
                items.append((self[name].id_for_label, f"{label}: {error}"))
        items += [("conditions", f"Conditions: {error}") for error in self.condition_errors]
        return items

    # --- what the service gets ----------------------------------------------------------

    def _value(self, name: str) -> Any:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return data.get(name, "")

    def conditions(self) -> list[dict[str, Any]]:
        """The rows that have a type, as the service takes conditions: the
        type and the parameters it takes, as typed. Remembers which row each
        came from."""
        conditions, self.rows_sent = [], []
        for row in range(1, ROWS + 1):
            kind = (self._value(field_name(row, "type")) or "").strip()
            if not kind:
                continue
            condition: dict[str, Any] = {"type": kind}
            for parameter in TYPE_PARAMETERS.get(kind, ()):
                condition[parameter] = (self._value(field_name(row, parameter)) or "").strip()
            conditions.append(condition)
            self.rows_sent.append(row)
        return conditions

    def scope_values(self) -> dict[str, Any]:
        """What the preview looks at: the scope and the conditions."""
        return {
            "segment": self._value("segment") or None,
            "region": self._value("region") or None,
            "conditions": self.conditions(),
        }

    def rule_values(self) -> dict[str, Any]:
        """Every field of the rule but ``active`` (new rules start inactive,
        and the rule page switches it)."""
        return {
            "name": self._value("name"),
            "description": self._value("description"),
            "primary_cause": self._value("primary_cause") or None,
            "actions": list(self._value("actions") or []),
            **self.scope_values(),
        }

    @property
    def loaded_version(self) -> int | None:
        """The version the page was loaded with (editing a saved rule)."""
        return self._value("version") if "version" in self.fields else None

    # --- what the service said ----------------------------------------------------------

    def add_service_error(self, error: DomainError) -> None:
        """A refusal of the service beside the input it is about:
        ``conditions[i].param`` on the row condition i came from, ``conditions``
        above the rows, anything else above the form."""
        if not isinstance(error, InvalidInput):
            self.add_error(None, error.message)
            return
        for key, messages in error.errors.items():
            target = self._field_for(key)
            if target == "conditions":
                self.condition_errors += list(messages)
            else:
                self.add_error(target, messages)

    def _field_for(self, key: str) -> str | None:
        if key == "conditions":
            return "conditions"
        named = c.parse_key(key)
        if named:
            index, parameter = named
            if index >= len(self.rows_sent):
                return "conditions"
            row = self.rows_sent[index]
            name = field_name(row, parameter or "type")
            return name if name in self.fields else field_name(row, "type")
        if key in self.fields and key != "version":
            return key
        return None

    @property
    def has_problems(self) -> bool:
        return bool(self.errors or self.condition_errors)

    # --- a concurrent change --------------------------------------------------------------

    def differences(self, saved: Rule) -> list[str]:
        """The parts of the rule where the saved one and the submitted one differ."""
        mine = {name: self.data.get(name, "") for name in self.fields}
        mine["actions"] = self.data.getlist("actions") if hasattr(self.data, "getlist") else []
        theirs = initial_from_rule(saved)
        parts = []
        for label, names in (
            ("name", ["name"]),
            ("description", ["description"]),
            ("segment", ["segment"]),
            ("region", ["region"]),
            ("primary cause", ["primary_cause"]),
            ("actions", ["actions"]),
        ):
            if not all(_same(mine.get(name), theirs.get(name)) for name in names):
                parts.append(label)
        for row in range(1, ROWS + 1):
            if _row(mine, row) != _row(theirs, row):
                parts.append(f"condition {row}")
        return parts


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return sorted(a or []) == sorted(b or [])
    return " ".join(str(a or "").split()) == " ".join(str(b or "").split())


def _row(values: dict[str, Any], row: int) -> tuple[Any, ...]:
    kind = str(values.get(field_name(row, "type")) or "").strip()
    if not kind:
        return ()
    return (
        kind,
        *(
            _number_text(values.get(field_name(row, parameter)))
            for parameter in TYPE_PARAMETERS.get(kind, ())
        ),
    )


class ActiveForm(forms.Form):
    """Switching a rule on or off, from the version the page showed."""

    active = forms.TypedChoiceField(
        choices=[("1", "on"), ("0", "off")], coerce=lambda value: value == "1"
    )
    version = forms.IntegerField(required=False, min_value=1)


class BacktestForm(forms.Form):
    """How far back a backtest replays and how long after a match a churn
    counts, passed on as sent: ``rules.services.backtest_parameters`` judges
    them (blank: the defaults) and its errors come back beside the inputs."""

    months = forms.CharField(
        required=False,
        label="Months back",
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_MONTHS, "step": 1}),
        help_text=f"1 to {MAX_MONTHS}: a replay every week over this many months.",
    )
    horizon_days = forms.CharField(
        required=False,
        label="Horizon (days)",
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_HORIZON_DAYS, "step": 1}),
        help_text=f"1 to {MAX_HORIZON_DAYS}: a churn this many days after a match counts.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"months": DEFAULT_MONTHS, "horizon_days": DEFAULT_HORIZON_DAYS}
        )
        super().__init__(*args, **kwargs)

    def values(self) -> dict[str, Any]:
        data = self.data if self.is_bound else {}
        return {name: data.get(name) for name in ("months", "horizon_days")}

    def take_errors(self, error: InvalidInput) -> dict[str, list[str]]:
        """Put the errors about these fields beside them; the others are returned."""
        self.is_valid()  # cleans first: errors are added to cleaned fields
        rest = {}
        for key, messages in error.errors.items():
            if key in self.fields:
                self.add_error(key, messages)
            else:
                rest[key] = messages
        return rest
