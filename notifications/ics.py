"""iCalendar (RFC 5545) invites for meetings (the weekly review's, today).

Written by hand rather than with a library: one event with a handful of
properties needs only the three rules that clients are strict about — TEXT
escaping, CRLF line ends and folding at 75 octets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone

PRODID = "-//Red Account//Red Account//EN"
MAX_LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11): backslash first, then ; , and
    line breaks (CRLF, CR and LF all become the two characters ``\\n``)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def _param_value(value: str) -> str:
    """A parameter value, quoted when it holds : ; or , (DQUOTE is not allowed)."""
    value = value.replace('"', "").replace("\r", " ").replace("\n", " ")
    return f'"{value}"' if any(char in value for char in ":;,") else value


def fold(line: str) -> str:
    """Fold a content line into physical lines of at most 75 octets (RFC 5545
    §3.1), each continuation starting with a space. Never splits a UTF-8
    sequence, so non-ASCII text stays intact."""
    encoded = line.encode("utf-8")
    if len(encoded) <= MAX_LINE_OCTETS:
        return line
    parts: list[str] = []
    current = ""
    current_octets = 0
    limit = MAX_LINE_OCTETS
    for char in line:
        size = len(char.encode("utf-8"))
        if current_octets + size > limit:
            parts.append(current)
            current, current_octets = char, size
            # Continuation lines carry a leading space, which counts.
            limit = MAX_LINE_OCTETS - 1
        else:
            current += char
            current_octets += size
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def meeting_invite(
    *,
    uid: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    description: str,
    url: str,
    attendees: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> str:
    """A VCALENDAR with METHOD:REQUEST and one VEVENT (times in UTC). ``uid``
    stays the same for one meeting, so a re-sent invite updates the calendar
    entry. ``attendees`` are e-mail addresses listed as ATTENDEE."""
    organizer_name, organizer_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer_address = organizer_address or settings.DEFAULT_FROM_EMAIL
    organizer = "ORGANIZER"
    if organizer_name:
        organizer += f";CN={_param_value(organizer_name)}"
    organizer += f":mailto:{organizer_address}"

    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_utc(now or timezone.now())}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{url}",
        organizer,
    ]
    lines += [
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=FALSE:mailto:{address}"
        for address in dict.fromkeys(attendees)
        if address
    ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
