"""What the demo's stories (demo.health, demo.renewals) need to know of the
accounts and risk records the generator planned (demo.data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class RecordFacts:
    """One demo risk record."""

    account_index: int
    status: str  # open, saved, churned, withdrawn
    cause: str
    tier: int
    opened_on: dt.date
    closed_on: dt.date | None
    retained_share: Decimal | None
    arr_lost: Decimal = Decimal(0)  # a save's ARR at risk less its ARR retained


@dataclass(frozen=True)
class AccountFacts:
    """One demo account, as planned: its ARR today and its next renewal date."""

    external_id: str
    segment: str
    csm: str
    arr: Decimal
    renewal_date: dt.date
