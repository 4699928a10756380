"""Who may do what in the weekly review (docs/domain.md). Pure predicates:
the services enforce them, pages use them to decide what to show."""

from __future__ import annotations

from accounts.models import Region, Role, User


def can_review(user: User, region: Region | int) -> bool:
    """May add review notes and action items to the region's agenda items and
    mark its actions done: an admin, or a reviewer or manager of that region."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_cs_admin:
        return True
    region_id = region.pk if isinstance(region, Region) else region
    return user.role in (Role.REVIEWER, Role.MANAGER) and user.region_id == region_id


def can_generate(user: User, region: Region | int | None = None) -> bool:
    """May generate or refresh an agenda on demand: an admin for any region, a
    manager for their own region. Without ``region``: for some region at all."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_cs_admin:
        return True
    if user.role != Role.MANAGER or user.region_id is None:
        return False
    if region is None:
        return True
    region_id = region.pk if isinstance(region, Region) else region
    return user.region_id == region_id
