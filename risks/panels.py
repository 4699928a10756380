"""Panels that apps above this one add to the account page.

The account page (``risks.views.accounts``) belongs to this app, but some of
what it shows comes from apps above it: the risk rules holding for the
account, for one. Such an app registers an *account panel* at start-up
(``register_account_panel``, from its AppConfig.ready), so this module never
imports it. A panel is a function of the account and the signed-in user that
answers with the template to include and its context, or None when it has
nothing to show; it reads what it needs in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.models import Account, User


@dataclass(frozen=True)
class Panel:
    """One block of the account page: ``template`` is included with
    ``panel`` set to ``context``."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


AccountPanel = Callable[[Account, User], Panel | None]
_account_panels: list[AccountPanel] = []


def register_account_panel(panel: AccountPanel) -> None:
    """Called by an app above this one, from its AppConfig.ready."""
    if panel not in _account_panels:
        _account_panels.append(panel)


def account_panels(account: Account, user: User) -> list[Panel]:
    """The registered panels that have something to show for the account, in
    the order they were registered."""
    panels = (panel(account, user) for panel in _account_panels)
    return [panel for panel in panels if panel is not None]
