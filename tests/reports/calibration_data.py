"""The Health calibration's hand-computed dataset, shared by its selector,
page and API tests (tests/reports/test_calibration*.py).

Ten renewals, scores read 90 days before each (the default):

EMEA (enterprise), renewal 31 Mar 2026, so D = 31 Dec 2025:
  1 e_churn_20    churned  1,000  S = 20 red (31 Dec: D itself counts); an older
                  60 on 1 Dec and a later 95 green on 15 Jan are both ignored
  2 e_churn_50    churned  2,000  S = 50 yellow
  3 e_renew_50    renewed  3,000  S = 50 yellow
  4 e_downsell_80 downsell 4,000  S = 80 green (a downsell is not a churn)
  5 e_renew_90    renewed  5,000  S = 90 green (segment mid-market)
  6 e_unknown     churned  6,000  S = no score, band unknown
  7 e_none        renewed  7,000  no score by D (only a 60 yellow on 15 Jan)
NA (smb), renewal 15 Apr 2026, so D = 15 Jan 2026:
  8 n_green_churn churned  8,000  S = 75 green, as of 20 Dec 2025
  9 n_renew_30    renewed  9,000  S = 30 red
 10 n_renew_100   renewed 10,000  S = 100 green, no parts

Parts (part scores of S; "low" is under 40; a null part score is in neither):
  logins-30d: 1→10 2→39.99 3→40 4→90 5→100 6→5 8→60 9→20
  nps:        1→35 2→null 3→70 4→20 8→80
  retired-measure (no such measure any more): 8→10 9→50
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from accounts.models import Segment
from health.models import HealthScore
from tests import factories

EMEA_RENEWAL = dt.date(2026, 3, 31)
NA_RENEWAL = dt.date(2026, 4, 15)
EMEA_D = dt.date(2025, 12, 31)
OLDER = dt.date(2025, 12, 1)
LATER = dt.date(2026, 1, 15)


def band_of(score: int | None) -> str:
    if score is None:
        return "unknown"
    return "green" if score >= 70 else "red" if score < 40 else "yellow"


def part(score: float | None) -> dict[str, Any]:
    return {"value": 1, "observed_on": "2025-12-01", "score": score, "weight": 10, "fresh": True}


def scored(account, as_of: dt.date, score: int | None, **parts: float | None) -> HealthScore:
    """A health score row; parts by measure code (underscores for hyphens)."""
    return HealthScore.objects.create(
        account=account,
        as_of=as_of,
        score=score,
        band=band_of(score),
        coverage=Decimal("1") if score is not None else Decimal("0.3"),
        parts={code.replace("_", "-"): part(value) for code, value in parts.items()},
        computed_at=timezone.now(),
    )


def renewal(account, day: dt.date, outcome: str, arr_before: int):
    arr = Decimal(arr_before)
    arr_after = {"churned": Decimal(0), "downsell": arr - 1000, "renewed": arr}[outcome]
    return factories.RenewalFactory(
        account=account, renewal_date=day, outcome=outcome, arr_before=arr, arr_after=arr_after
    )


def build(csm, region, other_region) -> SimpleNamespace:
    enterprise = Segment.objects.get(code="enterprise")
    mid_market = Segment.objects.get(code="mid-market")
    smb = Segment.objects.get(code="smb")

    def account(name: str, where, segment):
        return factories.AccountFactory(name=name, csm=csm, region=where, segment=segment)

    accounts = SimpleNamespace(
        e_churn_20=account("E churn 20", region, enterprise),
        e_churn_50=account("E churn 50", region, enterprise),
        e_renew_50=account("E renew 50", region, enterprise),
        e_downsell_80=account("E downsell 80", region, enterprise),
        e_renew_90=account("E renew 90", region, mid_market),
        e_unknown=account("E unknown", region, enterprise),
        e_none=account("E none", region, enterprise),
        n_green_churn=account("N green churn", other_region, smb),
        n_renew_30=account("N renew 30", other_region, smb),
        n_renew_100=account("N renew 100", other_region, smb),
    )
    a = accounts
    scored(a.e_churn_20, OLDER, 60, logins_30d=80)
    scored(a.e_churn_20, EMEA_D, 20, logins_30d=10, nps=35)
    scored(a.e_churn_20, LATER, 95, logins_30d=100, nps=100)
    scored(a.e_churn_50, EMEA_D, 50, logins_30d=39.99, nps=None)
    scored(a.e_renew_50, EMEA_D, 50, logins_30d=40, nps=70)
    scored(a.e_downsell_80, EMEA_D, 80, logins_30d=90, nps=20)
    scored(a.e_renew_90, EMEA_D, 90, logins_30d=100)
    scored(a.e_unknown, EMEA_D, None, logins_30d=5)
    scored(a.e_none, LATER, 60, logins_30d=10)
    scored(a.n_green_churn, dt.date(2025, 12, 20), 75, logins_30d=60, nps=80, retired_measure=10)
    scored(a.n_renew_30, EMEA_D, 30, logins_30d=20, retired_measure=50)
    scored(a.n_renew_100, EMEA_D, 100)

    renewal(a.e_churn_20, EMEA_RENEWAL, "churned", 1000)
    renewal(a.e_churn_50, EMEA_RENEWAL, "churned", 2000)
    renewal(a.e_renew_50, EMEA_RENEWAL, "renewed", 3000)
    renewal(a.e_downsell_80, EMEA_RENEWAL, "downsell", 4000)
    renewal(a.e_renew_90, EMEA_RENEWAL, "renewed", 5000)
    renewal(a.e_unknown, EMEA_RENEWAL, "churned", 6000)
    renewal(a.e_none, EMEA_RENEWAL, "renewed", 7000)
    renewal(a.n_green_churn, NA_RENEWAL, "churned", 8000)
    renewal(a.n_renew_30, NA_RENEWAL, "renewed", 9000)
    renewal(a.n_renew_100, NA_RENEWAL, "renewed", 10000)
    return accounts
