"""Raising a case, who may read it, and its steps: accept, escalate, resolve, rate.

Each step is a conditional UPDATE (``WHERE status IN ...``), so two staff
tapping 受理 at once write one timeline entry: the loser's update matches no row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from core import photos, settings
from core.access import can_see, has_role, require_role, subtree_ids
from core.api import Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.ledger import atomic
from core.models import Membership, Organization, Role, User, utcnow
from core.people.services import may_act_for, organizations_of
from core.plugins import require_enabled
from plugins.casework.models import LIVE, Case, Event


def due_for(handler: Organization, start: datetime) -> datetime:
    """When ``handler`` must have dealt with a case it gets at ``start``: the
    limit of its level, as in force at the handler (inherited down the tree)."""
    hours = settings.get(handler, "casework", f"hours_{handler.level}")
    return start + timedelta(hours=hours)


def _add_event(
    case: Case, action: str, user: User | None, note: str | None = None, at: datetime | None = None
) -> None:
    db.session.add(
        Event(
            case_id=case.id,
            action=action,
            org_id=case.handler_org_id,
            user_id=user.id if user is not None else None,
            note=note,
            at=at or utcnow(),
        )
    )


def _belongs(person: User, org: Organization) -> bool:
    """A member of ``org``, of something below it, or of something above it."""
    return any(o.is_within(org) or org.is_within(o) for o in organizations_of(person))


def raise_case(
    actor: User,
    org: Organization,
    *,
    category: str,
    text: str,
    location: str | None = None,
    photo: str | None = None,
    user_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    """A member raises a case at ``org`` (its handler), or staff record one for
    person ``user_id`` (a phone call, a visit at the desk)."""
    require_enabled(org, "casework")
    if user_id is not None and user_id != actor.id:
        require_role(actor, org, Role.staff)
        person = db.session.get(User, user_id)
        if person is None or not _belongs(person, org):
            raise NotFound("未找到该居民", code="person_not_found")
    else:
        person = actor
        if not (actor.is_platform_admin or _belongs(actor, org)):
            if can_see(actor, org):
                raise Forbidden("只有本组织的居民可以在这里提出诉求")
            raise NotFound("未找到该组织")
    data = photos.prepare(photos.from_base64(photo)) if photo else None
    kind = photos.CONTENT_TYPE if photo else None
    now = now or utcnow()
    case = Case(
        org_id=org.id,
        handler_org_id=org.id,
        user_id=person.id,
        created_by_id=actor.id,
        category=category,
        text=text,
        location=location or None,
        photo=data,
        photo_type=kind,
        status="open",
        due_at=due_for(org, now),
        created_at=now,
        overdue_climbs=0,
    )
    db.session.add(case)
    db.session.flush()
    note = None if person.id == actor.id else f"由工作人员{actor.name}代为登记"
    _add_event(case, "raised", actor, note, at=now)
    audit("casework.raised", actor=actor, org=org, obj=case, user_id=person.id, category=category)
    return case


def _staff_at_handler(user: User, handler: Organization) -> bool:
    """Staff (or admin) holding the role at the handler itself, not above it."""
    if user.is_platform_admin:
        return True
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.user_id == user.id,
                Membership.org_id == handler.id,
                Membership.role.in_((Role.staff.value, Role.admin.value)),
            )
        )
        is not None
    )


def may_read(user: User | None, case: Case) -> bool:
    """The resident, a relative, or staff over the handler or the origin."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if case.user_id == user.id:
        return True
    person = db.session.get(User, case.user_id)
    if person is not None and may_act_for(user, person):
        return True
    return any(
        has_role(user, db.session.get(Organization, org_id), Role.staff)
        for org_id in {case.handler_org_id, case.org_id}
    )


def get_case(user: User | None, case_id: int) -> Case:
    """The case, for someone who may read it; 404 for everyone else."""
    case = db.session.get(Case, case_id)
    if case is None or not may_read(user, case):
        raise NotFound("未找到该诉求")
    return case


def timeline(case: Case) -> list[Event]:
    return db.session.scalars(
        select(Event).where(Event.case_id == case.id).order_by(Event.at, Event.id)
    ).all()


def photo_of(user: User | None, case_id: int) -> tuple[bytes, str]:
    case = get_case(user, case_id)
    if case.photo is None:
        raise NotFound("这条诉求没有照片")
    return case.photo, case.photo_type


def my_cases(user: User):
    """A select of the cases ``user`` raised or that were raised for them."""
    return select(Case).where(Case.user_id == user.id)


def cases_handled_under(org: Organization, status: str | None = None):
    """A select of the cases whose handler is ``org`` or below it."""
    stmt = select(Case).where(Case.handler_org_id.in_(subtree_ids(org)))
    return stmt.where(Case.status == status) if status else stmt


def waiting_count(org: Organization) -> int:
    """Cases waiting for 受理 at ``org`` itself: what tells a new handler."""
    return (
        db.session.scalar(
            select(func.count(Case.id)).where(Case.handler_org_id == org.id, Case.status == "open")
        )
        or 0
    )


def _handler_staff(actor: User, case: Case) -> Organization:
    """The handler, for staff at or above it (403 for other readers)."""
    handler = db.session.get(Organization, case.handler_org_id)
    require_enabled(db.session.get(Organization, case.org_id), "casework")
    if not has_role(actor, handler, Role.staff):
        raise Forbidden("没有权限：需要承办组织的工作人员权限")
    return handler


def _wrong_status(case: Case) -> Conflict:
    from plugins.casework.models import STATUSES

    return Conflict(f"这条诉求{STATUSES[case.status]}，不能这样操作", code="wrong_status")


def _accept(actor: User, case_id: int, *, now: datetime | None = None) -> Case:
    """受理; a repeated accept changes nothing (and writes nothing)."""
    case = get_case(actor, case_id)
    handler = _handler_staff(actor, case)
    if case.status == "accepted":
        return case
    now = now or utcnow()
    done = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == "open")
        .values(status="accepted", accepted_at=func.coalesce(Case.accepted_at, now))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(case)
    if done:
        _add_event(case, "accepted", actor, at=now)
        audit("casework.accepted", actor=actor, org=handler, obj=case)
    elif case.status != "accepted":
        raise _wrong_status(case)
    return case


def _climb(case: Case, handler: Organization, now: datetime, *, expect: tuple[str, ...]) -> bool:
    """Hand ``case`` to ``handler``'s parent, open again with a new due time."""
    parent = db.session.get(Organization, handler.parent_id)
    done = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.handler_org_id == handler.id, Case.status.in_(expect))
        .values(handler_org_id=parent.id, status="open", due_at=due_for(parent, now))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(case)
    return bool(done)


def _escalate(actor: User, case_id: int, *, reason: str, now: datetime | None = None) -> Case:
    """Staff at the handler send the case one level up; 409 ``top_level`` at the district."""
    case = get_case(actor, case_id)
    handler = db.session.get(Organization, case.handler_org_id)
    require_enabled(db.session.get(Organization, case.org_id), "casework")
    if not _staff_at_handler(actor, handler):
        raise Forbidden("只有承办组织本级的工作人员可以上报")
    if handler.parent_id is None:
        raise Conflict("已在区级办理，不能再上报", code="top_level")
    if case.status not in LIVE or not _climb(case, handler, now or utcnow(), expect=LIVE):
        raise _wrong_status(case)
    _add_event(case, "escalated", actor, reason, at=now)
    audit(
        "casework.escalated",
        actor=actor,
        org=handler,
        obj=case,
        to_org_id=case.handler_org_id,
        reason=reason,
    )
    return case


def _resolve(actor: User, case_id: int, *, note: str, now: datetime | None = None) -> Case:
    """办结 with a note, by staff at or above the handler."""
    case = get_case(actor, case_id)
    handler = _handler_staff(actor, case)
    now = now or utcnow()
    done = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status.in_(LIVE))
        .values(
            status="resolved",
            resolved_at=now,
            resolution=note,
            on_time=(Case.due_at >= now) & (Case.overdue_climbs == 0),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(case)
    if not done:
        raise _wrong_status(case)
    _add_event(case, "resolved", actor, note, at=now)
    audit("casework.resolved", actor=actor, org=handler, obj=case)
    return case


def _rate(
    actor: User,
    case_id: int,
    *,
    satisfied: bool,
    comment: str | None = None,
    now: datetime | None = None,
) -> Case:
    """The resident or a relative rates a resolved case: satisfied closes it;
    not satisfied reopens it one level up (at the district it stays there)."""
    case = get_case(actor, case_id)
    person = db.session.get(User, case.user_id)
    if not may_act_for(actor, person):
        raise Forbidden("只有提出诉求的居民或其家属可以评价")
    require_enabled(db.session.get(Organization, case.org_id), "casework")
    now = now or utcnow()
    values = dict(rated_at=now, satisfied=satisfied, rating_comment=comment or None)
    if satisfied:
        values["status"] = "closed"
    done = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == "resolved")
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(case)
    if not done:
        raise Conflict("诉求办结后才能评价", code="not_resolved")
    _add_event(case, "rated", actor, comment or ("满意" if satisfied else "不满意"), at=now)
    audit(
        "casework.rated",
        actor=actor,
        org=db.session.get(Organization, case.org_id),
        obj=case,
        satisfied=satisfied,
    )
    if not satisfied:
        handler = db.session.get(Organization, case.handler_org_id)
        if handler.parent_id is not None:
            _climb(case, handler, now, expect=("resolved",))
        else:  # the district handles it again itself
            db.session.execute(
                update(Case)
                .where(Case.id == case.id)
                .values(status="open", due_at=due_for(handler, now))
                .execution_options(synchronize_session=False)
            )
            db.session.refresh(case)
        _add_event(case, "reopened", None, "居民不满意，重新办理", at=now)
        audit(
            "casework.reopened", actor=actor, org=handler, obj=case, to_org_id=case.handler_org_id
        )
    return case


# Each step is one write transaction (BEGIN IMMEDIATE on SQLite), committed and
# retried on lock trouble: two staff tapping at once never see "database is locked".


def accept(actor: User, case_id: int, *, now: datetime | None = None) -> Case:
    """受理; a repeated accept changes nothing (and writes nothing). Commits."""
    return atomic(lambda: _accept(actor, case_id, now=now))


def escalate(actor: User, case_id: int, *, reason: str, now: datetime | None = None) -> Case:
    """One level up, by staff at the handler. Commits."""
    return atomic(lambda: _escalate(actor, case_id, reason=reason, now=now))


def resolve(actor: User, case_id: int, *, note: str, now: datetime | None = None) -> Case:
    """办结 with a note. Commits."""
    return atomic(lambda: _resolve(actor, case_id, note=note, now=now))


def rate(
    actor: User,
    case_id: int,
    *,
    satisfied: bool,
    comment: str | None = None,
    now: datetime | None = None,
) -> Case:
    """The resident's or a relative's rating. Commits."""
    return atomic(lambda: _rate(actor, case_id, satisfied=satisfied, comment=comment, now=now))
