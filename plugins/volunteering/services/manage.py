"""Staff managing an activity: edit, cancel, copy, walk-ins at the door, the roster.

Edits and walk-ins run in their own write transaction (``core.ledger.atomic``)
with the activity locked, like sign-ups, so a count and the write that depends
on it cannot race; cancel and copy leave committing to the caller.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from core import ledger
from core.access import can_see, require_role
from core.api import BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Role, User, utcnow
from plugins.volunteering.models import Activity, Attendance, Signup
from plugins.volunteering.services.activities import (
    ACTIVE,
    _clashing_activity,
    _lock_activity,
    _promote_waitlist,
    check_activity,
    keeping_loaded_state,
)
from plugins.volunteering.services.attendance import CHECKIN_OPENS_BEFORE

EDITABLE = (
    "title",
    "category",
    "location",
    "description",
    "starts_at",
    "ends_at",
    "signup_deadline",
    "capacity",
    "points",
    "points_per_hour",
)
ROSTER_PAGE = 50


def refuse_cancelled(activity: Activity) -> None:
    if activity.cancelled_at is not None:
        raise Conflict(f"活动已取消：{activity.cancel_reason}", code="cancelled")


def current_fields(activity: Activity) -> dict:
    """The activity as a create body (times as ISO text): an edit is loaded as
    this merged with the changes, so the schema checks the whole result."""
    body = {name: getattr(activity, name) for name in EDITABLE}
    for name in ("starts_at", "ends_at", "signup_deadline"):
        body[name] = body[name].isoformat() if body[name] is not None else None
    return body


def update_activity(user: User, activity_id: int, data: dict, changed) -> Activity:
    """Staff change ``changed`` fields of an activity to ``data`` (the whole
    activity, validated by its schema). Caps and the one-hour rule apply to the
    changed fields; a capacity below the confirmed count is 409
    ``capacity_below_confirmed``; a larger one confirms people from the waitlist."""
    changed = [name for name in EDITABLE if name in set(changed)]

    def work():
        activity = _lock_activity(activity_id)
        require_role(user, activity.organization, Role.staff)
        refuse_cancelled(activity)
        check_activity(activity.organization, {name: data[name] for name in changed})
        confirmed = db.session.scalar(
            select(func.count()).where(
                Signup.activity_id == activity.id, Signup.status == "confirmed"
            )
        )
        if data["capacity"] < confirmed:
            raise Conflict(
                f"已有 {confirmed} 人确认报名，名额不能少于 {confirmed}",
                code="capacity_below_confirmed",
                fields={"capacity": [f"不能少于已确认的 {confirmed} 人"]},
            )
        before = {name: _plain(getattr(activity, name)) for name in changed}
        for name in changed:
            setattr(activity, name, data[name])
        db.session.flush()
        while confirmed < activity.capacity and _promote_waitlist(activity) is not None:
            confirmed += 1
        audit(
            "volunteering.activity_updated",
            actor=user,
            org=activity.organization,
            obj=activity,
            before=before,
            after={name: _plain(getattr(activity, name)) for name in changed},
        )
        return activity

    with keeping_loaded_state():
        return ledger.atomic(work)


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def cancel_activity(
    user: User, activity: Activity, reason: str, now: datetime | None = None
) -> Activity:
    """Staff call an activity off. Sign-ups stay (volunteers see the reason on
    their list); it takes no more sign-ups or scans. Cancelling again is harmless."""
    require_role(user, activity.organization, Role.staff)
    if activity.cancelled_at is not None:
        return activity
    if activity.ends_at <= (now or utcnow()):
        raise Conflict("活动已结束，不能取消", code="ended")
    activity.cancelled_at, activity.cancel_reason = now or utcnow(), reason
    db.session.flush()
    audit(
        "volunteering.activity_cancelled",
        actor=user,
        org=activity.organization,
        obj=activity,
        reason=reason,
    )
    return activity


def copy_activity(user: User, activity: Activity, starts_at: datetime) -> Activity:
    """A new activity like this one (same length and fields, no sign-ups) from
    ``starts_at``; the sign-up deadline keeps its distance to the start."""
    require_role(user, activity.organization, Role.staff)
    shift = starts_at - activity.starts_at
    ends_at = activity.ends_at + shift
    if ends_at <= utcnow():
        raise BadRequest("活动设置有误", fields={"starts_at": ["复制的活动必须在将来结束"]})
    data = {
        name: getattr(activity, name)
        for name in (
            "title",
            "category",
            "location",
            "description",
            "capacity",
            "points",
            "points_per_hour",
        )
    }
    data.update(
        starts_at=starts_at,
        ends_at=ends_at,
        signup_deadline=activity.signup_deadline + shift if activity.signup_deadline else None,
    )
    check_activity(activity.organization, data)
    copy = Activity(org_id=activity.org_id, created_by_id=user.id, **data)
    db.session.add(copy)
    db.session.flush()
    audit(
        "volunteering.activity_copied",
        actor=user,
        org=activity.organization,
        obj=copy,
        source_id=activity.id,
        title=copy.title,
    )
    return copy


def walk_in(
    staff: User, activity_id: int, person: User, now: datetime | None = None
) -> tuple[Attendance, bool]:
    """At the door: sign ``person`` up and check them in while places are left
    (409 ``full``). Returns ``(attendance, created)``; someone already checked
    in answers their first check-in. A person already confirmed is checked in."""

    def work():
        activity = _lock_activity(activity_id)
        require_role(staff, activity.organization, Role.staff)
        if not can_see(person, activity.organization):
            raise NotFound("该居民不属于本活动所在组织", code="not_member")
        refuse_cancelled(activity)
        done = db.session.scalar(
            select(Attendance).where(
                Attendance.activity_id == activity.id, Attendance.user_id == person.id
            )
        )
        if done is not None:
            return done, False
        at = now or utcnow()
        if at < activity.starts_at - CHECKIN_OPENS_BEFORE:
            raise Conflict("签到尚未开始（活动开始前 30 分钟开放）", code="checkin_not_open")
        if at >= activity.ends_at:
            raise Conflict("活动已结束，签到已关闭", code="checkin_closed")
        signup = db.session.scalar(
            select(Signup).where(Signup.activity_id == activity.id, Signup.user_id == person.id)
        )
        if signup is None or signup.status != "confirmed":
            confirmed = db.session.scalar(
                select(func.count()).where(
                    Signup.activity_id == activity.id, Signup.status == "confirmed"
                )
            )
            if confirmed >= activity.capacity:
                raise Conflict("名额已满，不能现场报名", code="full")
            clash = _clashing_activity(person.id, activity)
            if clash is not None:
                raise Conflict(
                    f"{person.name} 已报名同一时间的“{clash.title}”",
                    code="time_clash",
                    fields={"activity_id": [clash.id]},
                )
            if signup is None:
                signup = Signup(activity_id=activity.id, user_id=person.id)
                db.session.add(signup)
            signup.status, signup.queued_at = "confirmed", at
        db.session.execute(
            insert(Attendance).values(
                activity_id=activity.id,
                user_id=person.id,
                status="open",
                checked_in_at=at,
                checkin_by_id=staff.id,
            )
        )
        audit(
            "volunteering.walk_in",
            actor=staff,
            org=activity.organization,
            obj=activity,
            user_id=person.id,
        )
        return db.session.scalar(
            select(Attendance).where(
                Attendance.activity_id == activity.id, Attendance.user_id == person.id
            )
        ), True

    with keeping_loaded_state():
        return ledger.atomic(work)


def roster(activity: Activity, q: str = "", page: int = 1):
    """Who signed up (confirmed, then waitlisted), with their attendance if any,
    whose name contains ``q``; ``ROSTER_PAGE`` a page. Returns ``(rows, more)``."""
    stmt = (
        select(Signup, User, Attendance)
        .join(User, User.id == Signup.user_id)
        .outerjoin(
            Attendance,
            (Attendance.activity_id == Signup.activity_id) & (Attendance.user_id == Signup.user_id),
        )
        .where(Signup.activity_id == activity.id, Signup.status.in_(ACTIVE))
    )
    if q:
        stmt = stmt.where(User.name.contains(q.strip(), autoescape=True))
    page = max(1, page)
    rows = db.session.execute(
        stmt.order_by(Signup.status, Signup.queued_at, Signup.id)
        .offset((page - 1) * ROSTER_PAGE)
        .limit(ROSTER_PAGE + 1)
    ).all()
    return rows[:ROSTER_PAGE], len(rows) > ROSTER_PAGE
