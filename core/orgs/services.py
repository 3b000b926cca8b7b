"""The organization tree, its members and its plugin switches."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from core.access import has_role, require_role
from core.api import BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import (
    CORE_ROLES,
    LEVEL_TITLES,
    LEVELS,
    Level,
    Membership,
    Organization,
    OrgPlugin,
    Role,
    User,
)
from core.plugins import PluginManager, PluginState


def create_org(actor: User, *, name: str, level: str, parent_id: int | None) -> Organization:
    level = Level(level)
    if level is Level.district:
        if parent_id is not None:
            raise BadRequest("区是顶级组织，不能有上级", fields={"parent_id": ["区不能有上级"]})
        if not actor.is_platform_admin:
            raise Forbidden("只有平台管理员可以创建区")
        parent = None
    else:
        if parent_id is None:
            raise BadRequest("缺少上级组织", fields={"parent_id": ["必填"]})
        parent = db.session.get(Organization, parent_id)
        if parent is None:
            raise NotFound("未找到上级组织")
        require_role(actor, parent, Role.admin)
        if Level(parent.level).child is not level:
            raise BadRequest(
                f"层级不对：{parent.level_title}的下级应是{_child_title(parent)}",
                fields={
                    "parent_id": [
                        f"a {level.value} must sit directly below a {LEVELS_ABOVE[level]}"
                    ]
                },
            )
    org = Organization(name=name.strip(), level=level.value, parent_id=parent_id)
    db.session.add(org)
    db.session.flush()  # the id is part of the path
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    audit("org.create", actor=actor, org=org, obj=org, name=org.name, level=org.level)
    return org


LEVELS_ABOVE = {lv.child: lv.value for lv in Level if lv.child}


def _child_title(parent: Organization) -> str:
    child = Level(parent.level).child
    return LEVEL_TITLES[child.value] if child else "无"


def children(org: Organization) -> Sequence[Organization]:
    return db.session.scalars(
        select(Organization).where(Organization.parent_id == org.id).order_by(Organization.id)
    ).all()


def is_within(org_id: int, ancestor: Organization) -> bool:
    """Is organization ``org_id`` ``ancestor`` or below it? One query."""
    path = db.session.scalar(select(Organization.path).where(Organization.id == org_id))
    return path is not None and path.startswith(ancestor.path)


def grantable_roles(actor: User, org: Organization) -> list[str]:
    """The roles ``actor`` may grant (and take away) at ``org``: staff add and
    remove residents; admins any core role and the loaded plugins' roles."""
    if has_role(actor, org, Role.admin):
        return [*CORE_ROLES, *plugin_role_titles()]
    if has_role(actor, org, Role.staff):
        return [Role.resident.value]
    return []


def _require_grantable(actor: User, org: Organization, role: str) -> None:
    require_role(actor, org, Role.staff)
    if role not in grantable_roles(actor, org):
        raise Forbidden("工作人员只能添加或移除居民，其他角色请找管理员", code="role_not_grantable")


def add_member(actor: User, org: Organization, *, phone: str, role: str) -> Membership:
    """Give a registered person a role here: a core role (one per person and
    organization) or a loaded plugin's role (``"<plugin>.<name>"``), beside it.
    Staff may add residents; admins any role."""
    require_role(actor, org, Role.staff)
    if role not in CORE_ROLES and role not in plugin_role_titles():
        raise BadRequest("没有这个角色", fields={"role": ["没有这个角色"]}, code="unknown_role")
    _require_grantable(actor, org, role)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise NotFound("该手机号尚未注册", code="user_not_found")
    held = set(
        db.session.scalars(
            select(Membership.role).where(
                Membership.user_id == user.id, Membership.org_id == org.id
            )
        )
    )
    if role in held or (role in CORE_ROLES and held & set(CORE_ROLES)):
        raise Conflict(
            "此人已是本组织成员" if role in CORE_ROLES else "此人已有这个角色",
            code="already_member",
        )
    membership = Membership(user_id=user.id, org_id=org.id, role=role)
    db.session.add(membership)
    try:
        db.session.flush()
    except IntegrityError as err:  # the same grant at the same moment
        db.session.rollback()
        raise Conflict("此人已有这个角色", code="already_member") from err
    audit("member.add", actor=actor, org=org, obj=membership, user_id=user.id, role=role)
    return membership


def plugin_role_titles() -> dict[str, str]:
    """The loaded plugins' roles, ``"<plugin>.<name>"`` -> title."""
    return current_app.extensions["jindou_plugins"].role_titles


def remove_member(actor: User, org: Organization, user_id: int, role: str | None = None) -> None:
    """Remove a person's roles here: only ``role`` when given, else all of them.

    Staff remove residents, admins any role. Nobody removes the last admin
    over an organization: when no other admin membership would remain here or
    above (platform administrators do not count), 409 ``last_admin``.
    """
    require_role(actor, org, Role.staff)
    query = select(Membership).where(Membership.user_id == user_id, Membership.org_id == org.id)
    if role is not None:
        query = query.where(Membership.role == role)
    rows = db.session.scalars(query).all()
    if not rows:
        raise NotFound("不是本组织成员")
    for membership in rows:
        _require_grantable(actor, org, membership.role)
    if any(m.role == Role.admin.value for m in rows):
        _keep_an_admin(org, user_id)
    for membership in rows:
        audit(
            "member.remove",
            actor=actor,
            org=org,
            obj=membership,
            user_id=user_id,
            role=membership.role,
        )
        db.session.delete(membership)


def _keep_an_admin(org: Organization, leaving_user_id: int) -> None:
    """409 unless someone other than the leaving admin holds admin here or above.
    The rows are locked (PostgreSQL), so two admins removing each other at the
    same moment cannot both succeed."""
    admins = db.session.execute(
        select(Membership.user_id, Membership.org_id)
        .where(Membership.role == Role.admin.value, Membership.org_id.in_(org.ancestor_ids))
        .with_for_update()
    ).all()
    if not any(not (uid == leaving_user_id and oid == org.id) for uid, oid in admins):
        raise Conflict(
            f"不能移除最后一位管理员：移除后将没有人能管理「{org.name}」。请先添加另一位管理员。",
            code="last_admin",
        )


def members(org: Organization) -> Sequence:
    """Every member of ``org`` (small organizations, tests); pages use member_page."""
    return db.session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id)
        .order_by(Membership.id)
    ).all()


def member_page(
    org: Organization, q: str = "", after_id: int | None = None, limit: int = 20
) -> tuple[Sequence, int | None]:
    """One page of the members of ``org`` itself (not below), oldest first,
    those whose name or phone contains ``q``; and the id to continue after."""
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id)
    )
    q = (q or "").strip()
    if q:
        stmt = stmt.where(
            or_(User.name.contains(q, autoescape=True), User.phone.contains(q, autoescape=True))
        )
    if after_id is not None:
        stmt = stmt.where(Membership.id > after_id)
    rows = db.session.execute(stmt.order_by(Membership.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more else None)


def set_plugin(
    actor: User, manager: PluginManager, org: Organization, name: str, enabled: bool | None
) -> PluginState:
    """Switch ``name`` on or off at ``org`` (and so below it); ``None`` inherits again."""
    if name not in manager.meta:
        raise NotFound("没有这个插件", code="unknown_plugin")
    require_role(actor, org, Role.admin)
    if enabled:
        states = manager.states(org)
        missing = [r for r in manager.meta[name].requires if not states[r].enabled]
        if missing:
            raise Conflict(f"请先启用：{', '.join(missing)}", code="plugin_requires")
    row = db.session.get(OrgPlugin, (org.id, name))
    before = None if row is None else row.enabled
    if enabled is None:
        db.session.execute(
            delete(OrgPlugin).where(OrgPlugin.org_id == org.id, OrgPlugin.plugin == name)
        )
    elif row is None:
        db.session.add(OrgPlugin(org_id=org.id, plugin=name, enabled=enabled))
    else:
        row.enabled = enabled
    audit("plugin.set", actor=actor, org=org, plugin=name, before=before, after=enabled)
    db.session.flush()
    forget_plugin_cache()
    return manager.states(org)[name]


def inheriting_below(org: Organization, name: str) -> int:
    """How many organizations below ``org`` follow its switch of plugin ``name``
    (none of their ancestors below ``org``, nor themselves, sets it): those a
    change here affects. One query: each organization below is checked against
    the few switches below ``org`` through its parent chain (integer joins, at
    most the tree's depth), not against every switch's path."""
    setters = (
        select(OrgPlugin.org_id)
        .join(Organization, Organization.id == OrgPlugin.org_id)
        .where(
            OrgPlugin.plugin == name,
            Organization.path.startswith(org.path, autoescape=True),
            Organization.id != org.id,
        )
    )
    below = Organization.__table__.alias("below")
    # ``below`` itself, its parent, and the parents above, up to the level under ``org``
    chain = [below.c.id, below.c.parent_id]
    joined = below
    steps = len(LEVELS) - 3 - Level(org.level).depth
    for i in range(max(steps, 0)):
        up = Organization.__table__.alias(f"up{i}")
        joined = joined.outerjoin(up, up.c.id == chain[-1])
        chain.append(up.c.parent_id)
    return db.session.scalar(  # type: ignore[return-value]
        select(func.count())
        .select_from(joined)
        .where(
            below.c.path.startswith(org.path, autoescape=True),
            below.c.id != org.id,
            *[func.coalesce(col, 0).not_in(setters) for col in chain],
        )
    )


def forget_plugin_cache() -> None:
    from flask import g, has_request_context

    if has_request_context():
        g.pop("_jindou_plugin_states", None)
