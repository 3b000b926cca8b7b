"""Who may act where: a role at an organization covers its whole subtree.

A user's effective role at an organization is the highest core role they hold
at it or any ancestor (one query over the materialized path, cached for the
request). Platform administrators are admins everywhere.

Plugin roles (``"<plugin>.<name>"``, e.g. ``meals.cashier``) cover the subtree
too but have no rank: they are not implied by staff or admin (nor by being a
platform admin) and imply nothing; an admin grants them, to others or to
themselves. The same cached query answers both kinds.
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import select

from core.api import Forbidden, NotFound
from core.extensions import db
from core.models import CORE_ROLES, ROLE_RANKS, Membership, Organization, Role, User


def _roles_over(user: User, org: Organization) -> frozenset[str]:
    """Every role (core and plugin) ``user`` holds at ``org`` or an ancestor:
    one query, cached for the request."""
    cache = g.setdefault("_jindou_roles", {}) if has_request_context() else {}
    key = (user.id, org.id)
    if key not in cache:
        cache[key] = frozenset(
            db.session.scalars(
                select(Membership.role).where(
                    Membership.user_id == user.id, Membership.org_id.in_(org.ancestor_ids)
                )
            ).all()
        )
    return cache[key]


def effective_role(user: User | None, org: Organization) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if user.is_platform_admin:
        return Role.admin
    roles = [Role(r) for r in _roles_over(user, org) if r in CORE_ROLES]
    return max(roles, key=lambda r: ROLE_RANKS[r], default=None)


def has_plugin_role(user: User | None, org: Organization, role: str) -> bool:
    """Does ``user`` hold plugin role ``role`` (``"meals.cashier"``) at ``org``
    or an ancestor? Not implied by any core role."""
    if "." not in role:
        raise ValueError(f"{role!r} is not a plugin role (<plugin>.<name>)")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return role in _roles_over(user, org)


def require_plugin_role(user: User | None, org: Organization, role: str) -> None:
    """404 for someone who cannot see ``org``; 403 for one who lacks ``role``."""
    if has_plugin_role(user, org, role):
        return
    if not can_see(user, org):
        raise NotFound("未找到该组织")
    raise Forbidden("没有权限：需要相应的岗位权限")


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
        raise Forbidden(
            "没有权限：需要{}权限".format({"staff": "工作人员", "admin": "管理员"}.get(minimum, ""))
        )
    return role


def can_see(user: User | None, org: Organization) -> bool:
    """Members see their organizations, their ancestors and subtrees below them."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_platform_admin or effective_role(user, org) is not None:
        return True
    # An ancestor of one of my organizations: visible (activities there concern me);
    # below one (a plugin role, which effective_role ignores, covers the subtree too).
    paths = db.session.scalars(
        select(Organization.path)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id)
    ).all()
    return any(path.startswith(org.path) or org.path.startswith(path) for path in paths)


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
