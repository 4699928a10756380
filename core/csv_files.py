"""CSV downloads, one way for every export (the risk list, the reports, the
API's ``?format=csv``): a UTF-8 byte-order mark first so spreadsheet programs
read accents and emoji right, cells that a spreadsheet would run as a formula
defused, and the download name in a well-formed Content-Disposition header."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
# A text cell starting with one of these is a formula to Excel and friends.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One value as a CSV cell: numbers and dates as they are, datetimes in
    local time, text with a leading quote when it would start a formula."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, dt.date | Decimal | int):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose ``write`` hands the line back, so csv.writer can
    produce the rows of a streamed response one at a time."""

    def write(self, value: str) -> str:
        return value


def _lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow(row)


def _name(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = content_disposition_header(True, filename)


def csv_download(rows: Iterable[Iterable[Any]], filename: str) -> HttpResponse:
    """A CSV file of ``rows`` (already cells), built in memory."""
    response = HttpResponse("".join(_lines(rows)), content_type=CONTENT_TYPE)
    _name(response, filename)
    return response


def csv_stream(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """The same, streamed row by row: a large export never sits in memory whole."""
    response = StreamingHttpResponse(_lines(rows), content_type=CONTENT_TYPE)
    _name(response, filename)
    return response
