"""The upload form of the import pages (core.views)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from .imports import check_upload

# Enough of the file's start to tell a CSV file from a spreadsheet or an image.
SNIFF_BYTES = 64 * 1024


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty: it needs a header line and at least one row.",
            "invalid": "Choose a CSV file to upload.",
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"
        self.fields[
            "file"
        ].help_text = (
            f"A .csv file saved as UTF-8, at most {filesizeformat(settings.IMPORT_MAX_BYTES)}."
        )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)}. Split it into smaller files.",
                code="too_big",
            )
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(
                "Upload a CSV file (a name ending in .csv). From a spreadsheet, "
                "save or export it as “CSV UTF-8”.",
                code="not_csv",
            )
        upload.seek(0)
        problem = check_upload(upload.read(SNIFF_BYTES))
        upload.seek(0)
        if problem:
            raise forms.ValidationError(problem, code="not_csv")
        return upload
