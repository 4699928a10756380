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
