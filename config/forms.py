from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Project-wide form layout: label, input, help text and errors together,
    with the error linked to its input for screen readers."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
