"""Who may act where: a role at an organization covers its whole subtree.

A user's effective role at an organization is the highest role they hold at
it or any ancestor (one query over the materialized path, cached for the
request). Platform administrators are admins everywhere.
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import select

from core.api import Forbidden, NotFound
from core.extensions import db
from core.models import ROLE_RANKS, Membership, Organization, Role, User


def effective_role(user: User | None, org: Organization) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if user.is_platform_admin:
        return Role.admin
    cache = g.setdefault("_jindou_roles", {}) if has_request_context() else {}
    key = (user.id, org.id)
    if key not in cache:
        roles = db.session.scalars(
            select(Membership.role).where(
                Membership.user_id == user.id, Membership.org_id.in_(org.ancestor_ids)
            )
        ).all()
        cache[key] = max((Role(r) for r in roles), key=lambda r: ROLE_RANKS[r], default=None)
    return cache[key]


def has_role(user: User | None, org: Organization, minimum: Role) -> bool:
    role = effective_role(user, org)
    return role is not None and ROLE_RANKS[role] >= ROLE_RANKS[minimum]


def require_role(user: User | None, org: Organization, minimum: Role) -> Role:
    """403 for a member lacking the role; 404 for an outsider, so existence
    does not leak beyond the people who can see the organization at all."""
    role = effective_role(user, org)
    if role is None and not can_see(user, org):
        raise NotFound("未找到该组织")
    if role is None or ROLE_RANKS[role] < ROLE_RANKS[minimum]:
        raise Forbidden("没有权限：需要{}权限".format({"staff": "工作人员", "admin": "管理员"}.get(minimum, "")))
    return role


def can_see(user: User | None, org: Organization) -> bool:
    """Members see their organizations, their ancestors and subtrees below them."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_platform_admin or effective_role(user, org) is not None:
        return True
    # An ancestor of one of my organizations: visible (activities there concern me).
    paths = db.session.scalars(
        select(Organization.path).join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id)
    ).all()
    return any(path.startswith(org.path) for path in paths)


def get_org(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("未找到该组织")
    return org


def get_visible_org(user: User | None, org_id: int) -> Organization:
    """The organization, if ``user`` may see it; 404 otherwise (existence does not leak)."""
    org = get_org(org_id)
    if not can_see(user, org):
        raise NotFound("未找到该组织")
    return org


def org_with_role(user: User | None, org_id: int, minimum: Role) -> Organization:
    """The organization, if ``user`` holds at least ``minimum`` there (404 for
    an outsider, 403 for a member without the role)."""
    org = get_org(org_id)
    require_role(user, org, minimum)
    return org


def subtree_ids(org: Organization):
    """A select of the ids of ``org`` and everything below it (one prefix match)."""
    return select(Organization.id).where(Organization.path.startswith(org.path, autoescape=True))


def nearest_setting(org: Organization, org_column, value_column, default=None):
    """A per-organization setting as plugin switches work: the row of the
    nearest ancestor-or-self wins, no row anywhere gives ``default``. One query."""
    rows = dict(db.session.execute(
        select(org_column, value_column).where(org_column.in_(org.ancestor_ids))).all())
    for org_id in reversed(org.ancestor_ids):
        if org_id in rows:
            return rows[org_id]
    return default
