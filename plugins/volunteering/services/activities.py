"""Activities and their places: create, list, sign up, cancel, the waitlist.

Sign-up and cancel must be atomic under concurrency: each runs its own write
transaction (``core.ledger.atomic``) and commits; the others leave committing
to the caller.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select

from core import ledger
from core.access import can_see, has_role, require_role
from core.api import BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from plugins.volunteering.models import Activity, Attendance, Signup
from plugins.volunteering.services.settings import points_caps

ACTIVE = ("confirmed", "waitlisted")
# Setting up the check-in screen may take a moment after the start; older
# service is back-filled (honour hours), never a new back-dated activity.
MAY_START_BEFORE_NOW = timedelta(hours=1)


@contextmanager
def keeping_loaded_state():
    """Commits inside do not expire loaded objects: the caller answers from
    what it just wrote, sparing refresh queries on the hot paths."""
    session = db.session()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True


def _lock_activity(activity_id: int) -> Activity:
    activity = db.session.scalar(
        select(Activity)
        .where(Activity.id == activity_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if activity is None:
        raise NotFound("未找到该活动")
    return activity


def _lock_user(user_id: int) -> None:
    """Serialises one person's sign-ups, so two overlapping ones cannot both pass."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            select(User.id).where(User.id == user_id).with_for_update(key_share=True)
        )


# -- activities -------------------------------------------------------------------------


def check_activity(org: Organization, data: dict, now: datetime | None = None) -> None:
    """The rules an activity of ``org`` obeys beyond its schema: it starts at
    most an hour ago and gives no more 金豆 than the organization's caps
    (settings ``max_points_per_activity``, ``max_points_per_hour``).
    400 naming every field that breaks one."""
    errors: dict[str, list[str]] = {}
    starts = data.get("starts_at")
    if starts is not None and starts < (now or utcnow()) - MAY_START_BEFORE_NOW:
        errors["starts_at"] = ["开始时间最早为一小时前；更早的服务请在活动中补录"]
    caps = points_caps(org)
    for field, title in (("points", "完成奖励金豆"), ("points_per_hour", "每小时金豆")):
        if data.get(field, 0) > caps[field]:
            errors[field] = [f"{title}不能超过本组织上限 {caps[field]}"]
    if errors:
        raise BadRequest("活动设置有误", fields=errors)


def create_activity(user: User, org: Organization, data: dict) -> Activity:
    """Staff of ``org`` (or above) create an activity there. ``data`` is validated
    by its schema; :func:`check_activity` applies the rules that need ``org``."""
    require_role(user, org, Role.staff)
    check_activity(org, data)
    activity = Activity(org_id=org.id, created_by_id=user.id, **data)
    db.session.add(activity)
    db.session.flush()
    audit("volunteering.activity_created", actor=user, org=org, obj=activity, title=activity.title)
    return activity


def get_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("未找到该活动")
    return activity


def visible_activity(user: User, activity_id: int) -> Activity:
    activity = get_activity(activity_id)
    if not can_see(user, activity.organization):
        raise NotFound("未找到该活动")
    return activity


def activities_query(user: User, org: Organization, *, include_past: bool = False):
    """Activities for people of ``org``: those of ``org`` and its ancestors;
    staff also see those below. Soonest first (the caller orders)."""
    visible = Activity.org_id.in_(org.ancestor_ids)
    if has_role(user, org, Role.staff):
        below = select(Organization.id).where(Organization.path.startswith(org.path))
        visible = visible | Activity.org_id.in_(below)
    stmt = select(Activity).where(visible)
    if not include_past:
        stmt = stmt.where(Activity.ends_at > utcnow())
    return stmt


def counts(activity_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(Signup.status, func.count())
        .where(Signup.activity_id == activity_id, Signup.status.in_(ACTIVE))
        .group_by(Signup.status)
    ).all()
    found = dict(rows)
    return {"confirmed": found.get("confirmed", 0), "waitlisted": found.get("waitlisted", 0)}


def signup_of(user: User, activity_id: int) -> Signup | None:
    return db.session.scalar(
        select(Signup).where(Signup.activity_id == activity_id, Signup.user_id == user.id)
    )


def waitlist_position(signup: Signup) -> int | None:
    if signup.status != "waitlisted":
        return None
    ahead = db.session.scalar(
        select(func.count()).where(
            Signup.activity_id == signup.activity_id,
            Signup.status == "waitlisted",
            (Signup.queued_at < signup.queued_at)
            | ((Signup.queued_at == signup.queued_at) & (Signup.id < signup.id)),
        )
    )
    return ahead + 1


# -- sign-up -------------------------------------------------------------------------------


def _clashing_activity(user_id: int, activity: Activity) -> Activity | None:
    """Another activity this person holds a confirmed place on at an overlapping time."""
    return db.session.scalar(
        select(Activity)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.user_id == user_id,
            Signup.status == "confirmed",
            Activity.id != activity.id,
            Activity.starts_at < activity.ends_at,
            Activity.ends_at > activity.starts_at,
        )
        .order_by(Activity.starts_at)
        .limit(1)
    )


def sign_up(user: User, activity_id: int, now: datetime | None = None) -> tuple[Signup, bool]:
    """Take a place (confirmed up to capacity, then the waitlist). Returns
    ``(signup, created)``; signing up again returns the same signup."""
    activity = visible_activity(user, activity_id)
    user_id = user.id

    def work():
        _lock_user(user_id)  # first: one person's sign-ups never race each other
        signup = db.session.scalar(
            select(Signup).where(Signup.activity_id == activity_id, Signup.user_id == user_id)
        )
        if signup is not None and signup.status in ACTIVE:
            return signup, False
        clash = _clashing_activity(user_id, activity)
        locked = _lock_activity(activity_id)  # held briefly: count, insert, commit
        if locked.cancelled_at is not None:
            raise Conflict(f"活动已取消：{locked.cancel_reason}", code="cancelled")
        at = now or utcnow()
        if at >= (locked.signup_deadline or locked.ends_at) or at >= locked.ends_at:
            raise Conflict("报名已截止", code="signup_closed")
        confirmed = db.session.scalar(
            select(func.count()).where(
                Signup.activity_id == locked.id, Signup.status == "confirmed"
            )
        )
        status = "confirmed" if confirmed < locked.capacity else "waitlisted"
        if status == "confirmed" and clash is not None:
            raise Conflict(
                f"与已报名的活动“{clash.title}”时间冲突",
                code="time_clash",
                fields={"activity_id": [clash.id], "title": [clash.title]},
            )
        if signup is None:
            signup = Signup(activity_id=locked.id, user_id=user_id)
            db.session.add(signup)
        signup.status, signup.queued_at = status, at
        db.session.flush()
        return signup, True

    with keeping_loaded_state():  # the caller answers from the sign-up just written
        return ledger.atomic(work)


def cancel_signup(user: User, activity_id: int) -> None:
    """Give up a place; the first on the waitlist (without a clash) moves up."""
    activity = visible_activity(user, activity_id)
    user_id = user.id

    def work():
        locked = _lock_activity(activity.id)
        signup = db.session.scalar(
            select(Signup).where(Signup.activity_id == locked.id, Signup.user_id == user_id)
        )
        if signup is None or signup.status not in ACTIVE:
            raise NotFound("您没有报名该活动", code="not_signed_up")
        checked_in = db.session.scalar(
            select(Attendance.id).where(
                Attendance.activity_id == locked.id, Attendance.user_id == user_id
            )
        )
        if checked_in is not None:
            raise Conflict("已签到，不能取消报名", code="already_checked_in")
        was_confirmed = signup.status == "confirmed"
        signup.status = "cancelled"
        db.session.flush()
        if was_confirmed:
            _promote_waitlist(locked)

    ledger.atomic(work)


def _promote_waitlist(activity: Activity) -> Signup | None:
    waiting = db.session.scalars(
        select(Signup)
        .where(Signup.activity_id == activity.id, Signup.status == "waitlisted")
        .order_by(Signup.queued_at, Signup.id)
    ).all()
    for signup in waiting:
        if _clashing_activity(signup.user_id, activity) is None:
            signup.status = "confirmed"
            db.session.flush()
            return signup
    return None
