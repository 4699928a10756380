"""The outbox: every notification is an ``OutboundEmail`` row written in the
transaction of the change that causes it (so it exists exactly when the change
does), and handed to the ``notifications.tasks.send_email`` task once that
transaction commits. If Redis is down the hand-over fails quickly and is only
logged: the web request still succeeds, the row waits, and the
``notifications.tasks.send_pending_emails`` sweep sends it once a worker runs
again. ``delivery`` sends each row exactly once.

The apps above compose their messages (who, subject, body) and call
``queue_email``; this app knows nothing of risks or agendas.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.db import transaction

from accounts.models import User

from .models import OutboundEmail
from .tasks import send_email

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    """A link for a message: the site's base URL plus ``path``."""
    return settings.SITE_URL + path


def addresses(users: Iterable[User]) -> list[str]:
    """Distinct addresses of active users, in order, skipping blanks."""
    found = (user.email.strip() for user in users if user.is_active and user.email)
    return list(dict.fromkeys(address for address in found if address))


def _one_line(text: str, limit: int = 255) -> str:
    # A header with a line break is refused by Django (BadHeaderError).
    return " ".join(text.split())[:limit]


def queue_email(
    *, dedupe_key: str, kind: str, to: Iterable[str], subject: str, body: str, ics: str = ""
) -> OutboundEmail | None:
    """Write the email to the outbox in the current transaction and enqueue its
    sending after commit. The same ``dedupe_key`` twice is one email. Returns
    the row, or None when there is nobody to send to."""
    recipients = list(dict.fromkeys(address.strip() for address in to if address.strip()))
    if not recipients:
        logger.info("No recipients for %s; nothing queued.", dedupe_key)
        return None
    row, created = OutboundEmail.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "kind": kind,
            "to": recipients,
            "subject": _one_line(subject),
            "body": body,
            "ics": ics,
        },
    )
    if created:
        transaction.on_commit(partial(_enqueue, row.pk), robust=True)
    return row


def _enqueue(outbound_email_id: int) -> None:
    """Hand the row to a worker. Any failure — the broker is down, or (with
    tasks in-process) the mail server refused — is logged and left to the
    sweep: the row is already committed, so the caller's request succeeds."""
    try:
        send_email.delay(outbound_email_id)
    except Exception:
        logger.warning(
            "Could not hand outbound email %s to a worker; the periodic sweep will send it.",
            outbound_email_id,
            exc_info=True,
        )
