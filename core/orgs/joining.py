"""Joining an organization: a person asks (by picking their building or
scanning its join code), staff over it approve or reject.

Approving makes the person a resident there. Asking twice answers the
pending request; every decision is audited.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.access import require_role, subtree_ids
from core.api import Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import CORE_ROLES, JoinRequest, Level, Membership, Organization, Role, User, utcnow


def ask_to_join(user: User, org: Organization) -> tuple[JoinRequest, bool]:
    """``(request, created)``: the pending request of ``user`` for ``org``, new
    or the one already waiting. 409 ``already_member`` when they hold a core
    role there already."""
    held = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.org_id == org.id,
            Membership.role.in_(CORE_ROLES),
        )
    )
    if held is not None:
        raise Conflict("您已是本组织成员", code="already_member")
    pending = _pending(user.id, org.id)
    if pending is not None:
        return pending, False
    request = JoinRequest(user_id=user.id, org_id=org.id, status="pending")
    db.session.add(request)
    try:
        db.session.flush()
    except IntegrityError:  # the same request at the same moment: answer that one
        db.session.rollback()
        pending = _pending(user.id, org.id)
        if pending is None:
            raise
        return pending, False
    audit("join.ask", actor=user, org=org, obj=request)
    return request, True


def _pending(user_id: int, org_id: int) -> JoinRequest | None:
    return db.session.scalar(
        select(JoinRequest).where(
            JoinRequest.user_id == user_id,
            JoinRequest.org_id == org_id,
            JoinRequest.status == "pending",
        )
    )


def pending_stmt(org: Organization):
    """Pending requests of ``org`` and below, joined with the person and the place."""
    return (
        select(JoinRequest, User, Organization)
        .join(User, User.id == JoinRequest.user_id)
        .join(Organization, Organization.id == JoinRequest.org_id)
        .where(JoinRequest.status == "pending", JoinRequest.org_id.in_(subtree_ids(org)))
    )


def pending_count(org: Organization) -> int:
    """How many requests of ``org`` and below wait: one count, no joins."""
    return db.session.scalar(  # type: ignore[return-value]
        select(func.count()).where(
            JoinRequest.status == "pending", JoinRequest.org_id.in_(subtree_ids(org))
        )
    )


def pending_page(org: Organization, after_id: int | None = None, limit: int = 20):
    """``(rows, next_after)``: a page of :func:`pending_stmt`, oldest first."""
    stmt = pending_stmt(org)
    if after_id is not None:
        stmt = stmt.where(JoinRequest.id > after_id)
    rows = db.session.execute(stmt.order_by(JoinRequest.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more else None)


def my_pending(user: User) -> Sequence:
    return db.session.execute(
        select(JoinRequest, Organization)
        .join(Organization, Organization.id == JoinRequest.org_id)
        .where(JoinRequest.user_id == user.id, JoinRequest.status == "pending")
        .order_by(JoinRequest.id)
    ).all()


def request_for_staff(actor: User, request_id: int) -> tuple[JoinRequest, Organization]:
    """The request and its organization, if ``actor`` is staff over it (404 for
    a stranger, 403 for a member there without the role). Locked for the decision."""
    request = db.session.scalar(
        select(JoinRequest).where(JoinRequest.id == request_id).with_for_update()
    )
    if request is None:
        raise NotFound("未找到该申请")
    org = db.session.get(Organization, request.org_id)
    if org is None:
        raise NotFound("未找到该申请")
    require_role(actor, org, Role.staff)
    return request, org


def approve(actor: User, request_id: int) -> JoinRequest:
    """The person becomes a resident of the organization (approving twice is harmless;
    approving a rejected request is 409 ``already_decided``)."""
    request, org = request_for_staff(actor, request_id)
    if request.status == "approved":
        return request
    if request.status != "pending":
        raise Conflict("该申请已被拒绝", code="already_decided")
    held = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == request.user_id,
            Membership.org_id == org.id,
            Membership.role.in_(CORE_ROLES),
        )
    )
    if held is None:  # staff may have added them by phone meanwhile
        db.session.add(Membership(user_id=request.user_id, org_id=org.id, role=Role.resident.value))
    _decide(actor, request, org, "approved", "join.approve")
    return request


def reject(actor: User, request_id: int) -> JoinRequest:
    """The request is closed without a membership (the person may ask again)."""
    request, org = request_for_staff(actor, request_id)
    if request.status == "rejected":
        return request
    if request.status != "pending":
        raise Conflict("该申请已被批准", code="already_decided")
    _decide(actor, request, org, "rejected", "join.reject")
    return request


def _decide(actor: User, request: JoinRequest, org: Organization, status: str, action: str) -> None:
    request.status, request.decided_at, request.decided_by_id = status, utcnow(), actor.id
    db.session.flush()
    audit(action, actor=actor, org=org, obj=request, user_id=request.user_id)


def choices(parent: Organization | None) -> Sequence[Organization]:
    """What a person picks from, one level at a time: the districts, or the
    organizations directly below ``parent``, by name. Names of the tree are
    no secret: they are on the buildings' doors."""
    stmt = select(Organization)
    stmt = (
        stmt.where(Organization.level == Level.district.value)
        if parent is None
        else stmt.where(Organization.parent_id == parent.id)
    )
    return db.session.scalars(stmt.order_by(Organization.name, Organization.id)).all()


def lineage(org: Organization) -> Sequence[Organization]:
    """``org``'s ancestors and itself, from the top: to say where the person is joining."""
    return db.session.scalars(
        select(Organization)
        .where(Organization.id.in_(org.ancestor_ids))
        .order_by(Organization.path)
    ).all()
