"""The three kinds of failure a workflow service can report.

Interfaces map them one to one: InvalidInput → 400 / form errors next to the
fields, NotAllowed → 403, Conflict → 409 / a form error that says what changed.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: a request the workflow refuses. Nothing has been written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The input breaks a rule. ``errors`` maps field names to messages;
    ``"__all__"`` holds errors that belong to no single field."""

    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = errors
        message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(message)


class NotAllowed(DomainError):
    """The user's role or relation to the account does not permit the action."""


class Conflict(DomainError):
    """The record's state forbids the action now (a second open record, a
    pending escalation, a closed record, a stale version).

    ``existing`` is the object the conflict is about, when there is one (the
    open record already on the account, the current state of an edited record).
    """

    def __init__(self, message: str, *, existing: Any | None = None) -> None:
        super().__init__(message)
        self.existing = existing


class RowErrors(InvalidInput):
    """A batch of rows (a file, a bulk API request) breaks the rules; nothing
    of it was written. ``errors`` is a list, not InvalidInput's mapping:
    ``[{"row": n, "field": name or None, "message": text}, …]`` in row order,
    where a row is numbered as its source counts it (core.imports: the API's
    0-based index in the JSON list, a file's row as a spreadsheet shows it) and
    ``row`` is None for a problem of the whole batch. ``total`` counts every
    error, also when ``errors`` holds only the first ones."""

    def __init__(self, errors: list[dict[str, Any]], total: int | None = None) -> None:
        self.errors = errors  # type: ignore[assignment]
        self.total = len(errors) if total is None else total
        first = errors[0]["message"] if errors else "The rows were refused."
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        DomainError.__init__(self, f"{first}{more}")
