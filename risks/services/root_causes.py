"""The root-cause taxonomy, kept by CS operations admins.

Two rules protect what the records say: a cause's ``code`` cannot change once a
risk record uses it (timeline events, reports and API clients name causes by
code), and causes are never deleted — a cause that is no longer wanted is
deactivated: new records cannot choose it, old ones keep it. The API, the admin
and every form get the same answer from here.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import slug_re
from django.db import IntegrityError, transaction

from accounts.models import User
from core.exceptions import Conflict, InvalidInput, NotAllowed

from ..models import RiskRecord, RootCause

NEVER_DELETED = (
    "Root causes are never deleted: old records and reports keep them. "
    "Deactivate the cause instead (active: false)."
)
CODE_IN_USE = "Risk records use this cause, so its code cannot change; change its name instead."
CODE_TAKEN = "Another root cause has this code."
FIELDS = ("code", "name", "category", "description", "active")
_UNSET: Any = object()


def root_cause_in_use(cause: RootCause) -> bool:
    """Some risk record has ``cause`` as its primary or secondary cause."""
    return (
        RiskRecord.objects.filter(primary_cause=cause).exists()
        or RiskRecord.objects.filter(secondary_cause=cause).exists()
    )


def _ensure_admin(user: User) -> None:
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins may change root causes.")


def _slug(value: Any, field: str, errors: dict[str, list[str]], label: str) -> str:
    text = str(value or "").strip()
    if not text:
        errors.setdefault(field, []).append("This field is required.")
    elif len(text) > 64 or not slug_re.match(text):
        errors.setdefault(field, []).append(
            f"Enter a {label} of at most 64 letters, digits, hyphens or underscores."
        )
    return text


def _clean(values: dict[str, Any], *, exclude_pk: int | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = {
        "code": _slug(values["code"], "code", errors, "code"),
        "category": _slug(values["category"], "category", errors, "category"),
        "name": str(values["name"] or "").strip(),
        "description": str(values["description"] or "").strip(),
        "active": bool(values["active"]),
    }
    if not cleaned["name"]:
        errors.setdefault("name", []).append("This field is required.")
    elif len(cleaned["name"]) > 120:
        errors.setdefault("name", []).append("Use at most 120 characters.")
    if not cleaned["description"]:
        errors.setdefault("description", []).append("Say when a CSM should pick this cause.")
    if "code" not in errors:
        taken = RootCause.objects.filter(code=cleaned["code"])
        if exclude_pk is not None:
            taken = taken.exclude(pk=exclude_pk)
        if taken.exists():
            errors.setdefault("code", []).append(CODE_TAKEN)
    if errors:
        raise InvalidInput(errors)
    return cleaned


@transaction.atomic
def root_cause_create(
    *,
    user: User,
    code: str,
    name: str,
    category: str,
    description: str,
    active: bool = True,
) -> RootCause:
    """Add a cause to the taxonomy."""
    _ensure_admin(user)
    cleaned = _clean(
        {
            "code": code,
            "name": name,
            "category": category,
            "description": description,
            "active": active,
        },
        exclude_pk=None,
    )
    try:
        with transaction.atomic():
            return RootCause.objects.create(**cleaned)
    except IntegrityError:  # another admin took the code at the same moment
        raise InvalidInput({"code": [CODE_TAKEN]}) from None


@transaction.atomic
def root_cause_update(
    *,
    user: User,
    cause: RootCause | int,
    code: str = _UNSET,
    name: str = _UNSET,
    category: str = _UNSET,
    description: str = _UNSET,
    active: bool = _UNSET,
) -> RootCause:
    """Change the fields given. ``active=False`` retires the cause."""
    _ensure_admin(user)
    pk = cause.pk if isinstance(cause, RootCause) else cause
    cause = RootCause.objects.select_for_update().get(pk=pk)
    given = {
        "code": code,
        "name": name,
        "category": category,
        "description": description,
        "active": active,
    }
    values = {
        field: getattr(cause, field) if value is _UNSET else value for field, value in given.items()
    }
    cleaned = _clean(values, exclude_pk=cause.pk)
    if cleaned["code"] != cause.code and root_cause_in_use(cause):
        raise Conflict(CODE_IN_USE, existing=cause)
    changed = [field for field in FIELDS if getattr(cause, field) != cleaned[field]]
    for field in changed:
        setattr(cause, field, cleaned[field])
    if changed:
        try:
            with transaction.atomic():
                cause.save(update_fields=changed)
        except IntegrityError:  # the new code was taken at the same moment
            raise InvalidInput({"code": [CODE_TAKEN]}) from None
    return cause


def root_cause_delete(*, user: User, cause: RootCause | int) -> None:
    """Never allowed: say what to do instead."""
    _ensure_admin(user)
    raise Conflict(NEVER_DELETED)
