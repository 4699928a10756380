"""iCalendar (RFC 5545) invites for meetings (the weekly review's, today),
written with the `icalendar` library: escaping, folding at 75 octets and CRLF
line ends are its job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText, vUri

PRODID = "-//Red Account//Red Account//EN"

# An invite sent to its attendees, which their mail clients offer to accept…
REQUEST = "REQUEST"
# …and the same event published for anyone to add to a calendar (a download).
PUBLISH = "PUBLISH"


def _organizer() -> vCalAddress:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{address or settings.DEFAULT_FROM_EMAIL}")
    if name:
        organizer.params["CN"] = vText(name)
    return organizer


def meeting_invite(
    *,
    uid: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    description: str,
    url: str,
    attendees: Iterable[str] = (),
    method: str = REQUEST,
    now: dt.datetime | None = None,
) -> str:
    """A VCALENDAR with one VEVENT, times in UTC. ``uid`` stays the same for
    one meeting, so a re-sent invite updates the calendar entry. A REQUEST lists
    ``attendees`` (e-mail addresses); a PUBLISH lists none."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", (now or timezone.now()).astimezone(dt.UTC))
    event.add("dtstart", start.astimezone(dt.UTC))
    event.add("dtend", end.astimezone(dt.UTC))
    event.add("sequence", 0)
    event.add("status", "CONFIRMED")
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", vUri(url))
    event.add("organizer", _organizer())
    if method == REQUEST:
        for address in dict.fromkeys(address for address in attendees if address):
            attendee = vCalAddress(f"mailto:{address}")
            attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
            attendee.params["RSVP"] = vText("FALSE")
            event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
