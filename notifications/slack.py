"""Building Slack messages: Block Kit blocks and Slack's escaping.

Slack reads ``&``, ``<`` and ``>`` in mrkdwn text as the start of an entity,
a link or a mention, so text people typed (an account's name, a reason) goes
through ``escape`` before it is put into mrkdwn; plain-text blocks (the header,
a button's label) are shown as they are. Each builder also cuts its text to
the length Slack accepts, so a long summary shortens a message instead of
making Slack refuse it. The apps above compose the messages; this module
knows nothing of what they are about.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Slack's limits (api.slack.com/reference/block-kit/blocks).
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
CONTEXT_ELEMENTS = 10
BUTTON_LABEL_LIMIT = 75
FALLBACK_LIMIT = 300
# How much of a person's text (a reason, a note) a message quotes: escaping may
# lengthen it, and it must still fit a section with the sentence around it.
QUOTE_LIMIT = 500


def escape(text: str) -> str:
    """``text`` safe to put into mrkdwn: Slack's three control characters as
    their HTML entities (``&`` first, so the others are not escaped twice)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis
    when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def one_line(text: str, limit: int = FALLBACK_LIMIT) -> str:
    """The notification text Slack shows where blocks cannot be shown (a
    phone's lock screen): one line, cut to ``limit``, escaped."""
    return escape(shorten(" ".join(str(text).split()), limit))


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": shorten(" ".join(str(text).split()), limit)}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": shorten(text, limit)}


def header(text: str) -> dict[str, Any]:
    """A header block: large bold plain text on one line."""
    return {"type": "header", "text": _plain(text, HEADER_LIMIT)}


def section(markdown: str) -> dict[str, Any]:
    """A section of mrkdwn text. Escape what people typed before passing it."""
    return {"type": "section", "text": _mrkdwn(markdown, SECTION_LIMIT)}


def fields(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A section of labelled values in two columns: each pair is a label and
    its value (both plain text, escaped here); at most ten pairs."""
    items = [
        _mrkdwn(f"*{escape(label)}*\n{escape(shorten(value, QUOTE_LIMIT))}", FIELD_LIMIT)
        for label, value in list(pairs)[:FIELDS_PER_SECTION]
    ]
    return {"type": "section", "fields": items}


def context(*markdown: str) -> dict[str, Any]:
    """A context block: small grey mrkdwn lines (escape what people typed)."""
    return {
        "type": "context",
        "elements": [_mrkdwn(text, SECTION_LIMIT) for text in markdown[:CONTEXT_ELEMENTS]],
    }


def link_button(label: str, url: str) -> dict[str, Any]:
    """An actions block with one button that opens ``url``."""
    return {
        "type": "actions",
        "elements": [{"type": "button", "text": _plain(label, BUTTON_LABEL_LIMIT), "url": url}],
    }


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """People's text as a mrkdwn block quote: cut to ``limit`` characters
    (before escaping, so an entity is never cut in half), escaped, every line
    quoted."""
    lines = escape(shorten(str(text).strip(), limit)).splitlines() or [""]
    return "\n".join(f">{line}" for line in lines)
