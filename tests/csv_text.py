"""Reading the CSV downloads in tests: every one starts with the UTF-8 BOM."""

from __future__ import annotations

BOM = "\ufeff".encode()


def csv_text(content: bytes) -> str:
    """The file's text after its byte-order mark, which must be there."""
    assert content.startswith(BOM), "CSV downloads start with a UTF-8 BOM for spreadsheets"
    return content.decode("utf-8-sig")
