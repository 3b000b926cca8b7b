"""The plugin's one per-organization setting: do back-filled honour hours earn 金豆?"""

from __future__ import annotations

from core.access import nearest_setting, require_role
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User
from plugins.volunteering.models import OrgSetting


def honour_hours_earn_points(org: Organization) -> bool:
    """The nearest ancestor-or-self's choice; off where nobody chose."""
    return nearest_setting(org, OrgSetting.org_id, OrgSetting.honour_hours_earn_points, False)


def set_honour_hours_earn_points(user: User, org: Organization, allowed: bool) -> None:
    require_role(user, org, Role.admin)
    db.session.merge(OrgSetting(org_id=org.id, honour_hours_earn_points=allowed))
    audit("volunteering.setting_changed", actor=user, org=org,
          honour_hours_earn_points=allowed)
