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


def points_caps(org: Organization) -> dict[str, int]:
    """The most an activity here may give: ``points`` on completion and
    ``points_per_hour`` (admins set them; nearest ancestor-or-self wins)."""
    return {
        "points": settings.get(org, "volunteering", "max_points_per_activity"),
        "points_per_hour": settings.get(org, "volunteering", "max_points_per_hour"),
    }
