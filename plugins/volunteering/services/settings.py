"""The plugin's settings, declared in its PluginMeta and stored by core
(``core.settings``: nearest ancestor-or-self wins, else the default)."""

from __future__ import annotations

from core import settings
from core.models import Organization, User


def honour_hours_earn_points(org: Organization) -> bool:
    """Do back-filled honour hours earn 金豆 here? Off where nobody chose."""
    return settings.get(org, "volunteering", "honour_hours_earn_points")


def set_honour_hours_earn_points(user: User, org: Organization, allowed: bool) -> None:
    """Admins of ``org`` or above; audited by core."""
    settings.put(user, org, "volunteering", {"honour_hours_earn_points": allowed})
