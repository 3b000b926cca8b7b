"""Volunteering business rules: plain functions, no request object.

Functions that must be atomic under concurrency (sign-up, cancel, scans) run
their own transaction and commit; the others leave committing to the caller.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core import ledger
from core.access import can_see, has_role, nearest_setting, require_role
from core.api import MAX_YEAR, MIN_YEAR, ApiError, BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from plugins.volunteering.models import Activity, Attendance, OrgSetting, Signup

log = logging.getLogger("jindou.volunteering")

CHECKIN_OPENS_BEFORE = timedelta(minutes=30)
DEFAULT_GRACE_MINUTES = 60
DEFAULT_STAR_HOURS = (100, 300, 600, 1000, 1500)
ACTIVE = ("confirmed", "waitlisted")
RETRY_ANNOUNCEMENTS_FOR = timedelta(days=7)


def grace() -> timedelta:
    return timedelta(minutes=current_app.config.get("JINDOU_VOLUNTEERING_CHECKOUT_GRACE_MINUTES",
                                                    DEFAULT_GRACE_MINUTES))


# -- transactions --------------------------------------------------------------------


def write_transaction(work, attempts: int = 8):
    """Run ``work()`` in a fresh transaction that may take write locks, and commit.

    SQLite: BEGIN IMMEDIATE takes the database write lock up front (see
    core.extensions), so a read-then-write cannot interleave. PostgreSQL:
    ``work`` locks rows with SELECT ... FOR UPDATE. Lock timeouts and deadlocks
    are retried a bounded number of times.
    """
    for attempt in range(attempts):
        try:
            if db.engine.dialect.name == "sqlite":
                db.session.rollback()  # BEGIN IMMEDIATE needs a fresh transaction
                db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            result = work()
            _commit_keeping_state()  # the caller answers from what it just wrote
            return result
        except OperationalError as err:
            db.session.rollback()
            if not _is_lock_error(err):
                raise
            if attempt == attempts - 1:
                raise ApiError(503, "busy", "系统繁忙，请稍后再试") from err
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def _is_lock_error(err: OperationalError) -> bool:
    text = str(err.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "could not serialize", "lock timeout"))


def _lock_activity(activity_id: int) -> Activity:
    activity = db.session.scalar(
        select(Activity).where(Activity.id == activity_id)
        .with_for_update(key_share=True).execution_options(populate_existing=True))
    if activity is None:
        raise NotFound("未找到该活动")
    return activity


def _lock_user(user_id: int) -> None:
    """Serialises one person's sign-ups, so two overlapping ones cannot both pass."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


# -- activities -------------------------------------------------------------------------


def create_activity(user: User, org: Organization, data: dict) -> Activity:
    """Staff of ``org`` (or above) create an activity there. ``data`` is validated."""
    require_role(user, org, Role.staff)
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
        select(Signup.status, func.count()).where(Signup.activity_id == activity_id,
                                                  Signup.status.in_(ACTIVE))
        .group_by(Signup.status)).all()
    found = dict(rows)
    return {"confirmed": found.get("confirmed", 0), "waitlisted": found.get("waitlisted", 0)}


def signup_of(user: User, activity_id: int) -> Signup | None:
    return db.session.scalar(select(Signup).where(Signup.activity_id == activity_id,
                                                  Signup.user_id == user.id))


def waitlist_position(signup: Signup) -> int | None:
    if signup.status != "waitlisted":
        return None
    ahead = db.session.scalar(select(func.count()).where(
        Signup.activity_id == signup.activity_id, Signup.status == "waitlisted",
        (Signup.queued_at < signup.queued_at)
        | ((Signup.queued_at == signup.queued_at) & (Signup.id < signup.id))))
    return ahead + 1


# -- sign-up -------------------------------------------------------------------------------


def _clashing_activity(user_id: int, activity: Activity) -> Activity | None:
    """Another activity this person holds a confirmed place on at an overlapping time."""
    return db.session.scalar(
        select(Activity).join(Signup, Signup.activity_id == Activity.id)
        .where(Signup.user_id == user_id, Signup.status == "confirmed",
               Activity.id != activity.id,
               Activity.starts_at < activity.ends_at, Activity.ends_at > activity.starts_at)
        .order_by(Activity.starts_at).limit(1))


def sign_up(user: User, activity_id: int, now: datetime | None = None) -> tuple[Signup, bool]:
    """Take a place (confirmed up to capacity, then the waitlist). Returns
    ``(signup, created)``; signing up again returns the same signup."""
    activity = visible_activity(user, activity_id)
    user_id = user.id

    def work():
        _lock_user(user_id)  # first: one person's sign-ups never race each other
        signup = db.session.scalar(select(Signup).where(Signup.activity_id == activity_id,
                                                        Signup.user_id == user_id))
        if signup is not None and signup.status in ACTIVE:
            return signup, False
        clash = _clashing_activity(user_id, activity)
        locked = _lock_activity(activity_id)  # held briefly: count, insert, commit
        at = now or utcnow()
        if at >= (locked.signup_deadline or locked.ends_at) or at >= locked.ends_at:
            raise Conflict("报名已截止", code="signup_closed")
        confirmed = db.session.scalar(select(func.count()).where(
            Signup.activity_id == locked.id, Signup.status == "confirmed"))
        status = "confirmed" if confirmed < locked.capacity else "waitlisted"
        if status == "confirmed" and clash is not None:
            raise Conflict(f"与已报名的活动“{clash.title}”时间冲突", code="time_clash",
                           fields={"activity_id": [clash.id], "title": [clash.title]})
        if signup is None:
            signup = Signup(activity_id=locked.id, user_id=user_id)
            db.session.add(signup)
        signup.status, signup.queued_at = status, at
        db.session.flush()
        return signup, True

    return write_transaction(work)


def cancel_signup(user: User, activity_id: int) -> None:
    """Give up a place; the first on the waitlist (without a clash) moves up."""
    activity = visible_activity(user, activity_id)
    user_id = user.id

    def work():
        locked = _lock_activity(activity.id)
        signup = db.session.scalar(select(Signup).where(Signup.activity_id == locked.id,
                                                        Signup.user_id == user_id))
        if signup is None or signup.status not in ACTIVE:
            raise NotFound("您没有报名该活动", code="not_signed_up")
        if attendance_of(user_id, locked.id) is not None:
            raise Conflict("已签到，不能取消报名", code="already_checked_in")
        was_confirmed = signup.status == "confirmed"
        signup.status = "cancelled"
        db.session.flush()
        if was_confirmed:
            _promote_waitlist(locked)

    write_transaction(work)


def _promote_waitlist(activity: Activity) -> Signup | None:
    waiting = db.session.scalars(
        select(Signup).where(Signup.activity_id == activity.id, Signup.status == "waitlisted")
        .order_by(Signup.queued_at, Signup.id)).all()
    for signup in waiting:
        if _clashing_activity(signup.user_id, activity) is None:
            signup.status = "confirmed"
            db.session.flush()
            return signup
    return None


# -- check-in and check-out -----------------------------------------------------------------


def attendance_of(user_id: int, activity_id: int) -> Attendance | None:
    return db.session.scalar(select(Attendance).where(Attendance.activity_id == activity_id,
                                                      Attendance.user_id == user_id)
                             .execution_options(populate_existing=True))


def service_minutes(activity: Activity, checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Whole minutes of [check-in, check-out] inside [starts_at, ends_at]."""
    start = max(checked_in_at, activity.starts_at)
    end = min(checked_out_at, activity.ends_at)
    return max(0, int((end - start).total_seconds()) // 60)


def points_for(activity: Activity, minutes: int) -> int:
    """The base points plus points_per_hour pro rata by the minute, rounded down."""
    return activity.points + activity.points_per_hour * minutes // 60


@dataclass(frozen=True)
class Scan:
    """What a check-in or check-out recorded (a repeat answers the first)."""

    kind: str  # checkin | checkout
    activity_id: int
    user_id: int
    at: datetime
    status: str = "open"
    minutes: int = 0
    verified: bool = True
    points_earned: int = 0
    points_awarded: int | None = None
    title: str = ""


def _commit_keeping_state() -> None:
    """Commit without expiring loaded objects: a scan answers from what it
    wrote, sparing the refresh queries on the hottest path."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


_ATTENDANCE_COLUMNS = (Attendance.id, Attendance.status, Attendance.checked_in_at,
                       Attendance.checked_out_at, Attendance.minutes, Attendance.verified,
                       Attendance.points_earned, Attendance.points_awarded)


def _attendance_row(user_id: int, activity_id: int):
    return db.session.execute(
        select(*_ATTENDANCE_COLUMNS)
        .where(Attendance.activity_id == activity_id, Attendance.user_id == user_id)).first()


def _scan_state(user_id: int, activity_id: int, *, with_activity: bool = False):
    """One round trip for a scan: the sign-up status and the attendance so far
    (and the activity with its organization)."""
    signup_status = (select(Signup.status).where(Signup.activity_id == Activity.id,
                                                 Signup.user_id == user_id)
                     .scalar_subquery().label("signup_status"))
    entities = (Activity, Organization) if with_activity else ()
    stmt = (select(*entities, signup_status, *_ATTENDANCE_COLUMNS).select_from(Activity)
            .join(Organization, Organization.id == Activity.org_id)
            .outerjoin(Attendance, (Attendance.activity_id == Activity.id)
                       & (Attendance.user_id == user_id))
            .where(Activity.id == activity_id))
    return db.session.execute(stmt).first()


def _as_scan(kind: str, activity: Activity, user_id: int, row) -> Scan:
    return Scan(kind, activity.id, user_id,
                row.checked_in_at if kind == "checkin" else row.checked_out_at, row.status,
                row.minutes, row.verified, row.points_earned, row.points_awarded, activity.title)


def _refuse_other_activity(user_id: int, activity: Activity, action: str) -> None:
    """A volunteer at the wrong screen (two activities in one hall): name theirs."""
    at = utcnow()
    if action == "签到":
        mine = (select(Activity).join(Signup, Signup.activity_id == Activity.id)
                .where(Signup.user_id == user_id, Signup.status == "confirmed",
                       Activity.starts_at <= at + CHECKIN_OPENS_BEFORE, Activity.ends_at > at))
    else:
        mine = (select(Activity).join(Attendance, Attendance.activity_id == Activity.id)
                .where(Attendance.user_id == user_id, Attendance.status == "open"))
    other = db.session.scalar(mine.where(Activity.id != activity.id).limit(1))
    if other is not None:
        raise Conflict(f"这是“{activity.title}”的{action}码，您参加的是“{other.title}”",
                       code="other_activity", fields={"activity_id": [other.id]})


def check_in(user_id: int, activity: Activity, *, by: User | None = None,
             now: datetime | None = None, state=None) -> Scan:
    """Record arrival. A repeated check-in answers the first one."""
    state = state or _scan_state(user_id, activity.id)
    signup_status, checked_in_at = state.signup_status, state.checked_in_at
    if checked_in_at is not None:
        return Scan("checkin", activity.id, user_id, checked_in_at, title=activity.title)
    if signup_status is None or signup_status == "cancelled":
        _refuse_other_activity(user_id, activity, "签到")
        raise Conflict("您没有报名该活动，不能签到", code="not_signed_up")
    if signup_status != "confirmed":
        raise Conflict("您在候补名单上，尚未确认名额，不能签到", code="not_confirmed")
    at = now or utcnow()
    if at < activity.starts_at - CHECKIN_OPENS_BEFORE:
        raise Conflict("签到尚未开始（活动开始前 30 分钟开放）", code="checkin_not_open")
    if at >= activity.ends_at:
        raise Conflict("活动已结束，签到已关闭", code="checkin_closed")
    try:
        db.session.execute(insert(Attendance).values(
            activity_id=activity.id, user_id=user_id, status="open", checked_in_at=at,
            checkin_by_id=by.id if by else None))
        _commit_keeping_state()
    except IntegrityError:
        db.session.rollback()  # a simultaneous scan won (or staff back-filled): answer that
        row = _attendance_row(user_id, activity.id)
        return _as_scan("checkin", activity, user_id, row)
    return Scan("checkin", activity.id, user_id, at, title=activity.title)


def check_out(user_id: int, activity: Activity, *, by: User | None = None,
              now: datetime | None = None, user: User | None = None, state=None) -> Scan:
    """Record leaving, count the minutes, announce the service. A repeat answers the first."""
    row = state or _scan_state(user_id, activity.id)
    if row.id is None or row.checked_in_at is None:
        _refuse_other_activity(user_id, activity, "签退")
        raise Conflict("尚未签到，不能签退", code="not_checked_in")
    if row.status != "open":
        if row.status == "incomplete":
            raise Conflict("签退时间已过，本次记录未完成，请联系工作人员补录",
                           code="checkout_closed")
        return _as_scan("checkout", activity, user_id, row)
    at = now or utcnow()
    if at > activity.ends_at + grace():
        raise Conflict("签退时间已过，请联系工作人员补录", code="checkout_closed")
    minutes = service_minutes(activity, row.checked_in_at, at)
    # No minutes of service (e.g. out before the start): nothing earned, nothing to announce.
    earned = points_for(activity, minutes) if minutes else 0
    # With nobody listening (points off here) the record is final in one commit.
    listening = minutes > 0 and _listeners(activity.organization)
    done = db.session.execute(
        update(Attendance).where(Attendance.id == row.id, Attendance.status == "open")
        .values(status="completed", checked_out_at=at, minutes=minutes, verified=True,
                points_earned=earned, points_awarded=None if listening else 0,
                checkout_by_id=by.id if by else None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    _commit_keeping_state()
    if done.rowcount != 1:  # a simultaneous scan closed it: answer that
        return _as_scan("checkout", activity, user_id, _attendance_row(user_id, activity.id))
    awarded = 0
    if listening:
        awarded = announce_service(row.id, activity, user or db.session.get(User, user_id),
                                   minutes=minutes, verified=True, points=earned)
    return Scan("checkout", activity.id, user_id, at, "completed", minutes, True, earned, awarded,
                activity.title)


def _listeners(org: Organization) -> bool:
    manager = current_app.extensions["jindou_plugins"]
    return bool(manager.for_org(org, "service_recorded").get_hookimpls())


def announce_service(attendance_id: int, activity: Activity, user: User, *, minutes: int,
                     verified: bool, points: int) -> int | None:
    """Emit ``service_recorded`` to the plugins on at the activity's organization
    and keep what they awarded. A failure leaves ``points_awarded`` empty for
    ``close-attendance`` to retry (the key makes it idempotent)."""
    manager = current_app.extensions["jindou_plugins"]

    def work() -> int:
        answers = manager.emit(
            activity.organization, "service_recorded", user=user, activity_id=activity.id,
            title=activity.title, minutes=minutes, verified=verified, points=points,
            key=f"volunteering.attendance.{attendance_id}")
        awarded = sum(a for a in answers if isinstance(a, int))
        db.session.execute(update(Attendance).where(Attendance.id == attendance_id)
                           .values(points_awarded=awarded)
                           .execution_options(synchronize_session=False))
        return awarded

    # One write transaction (BEGIN IMMEDIATE on SQLite), retried on lock
    # trouble: the listeners write, and a deferred transaction could meet
    # "database is locked" after the attendance is already committed.
    session = db.session()
    session.expire_on_commit = False  # the caller answers from what it loaded
    try:
        return ledger.atomic(work)
    except (ApiError, ledger.LedgerError, DBAPIError) as err:
        db.session.rollback()
        log.warning("service_recorded for attendance %s failed: %s", attendance_id,
                    getattr(err, "message", err))
        return None
    finally:
        session.expire_on_commit = True


def _announce_attendance(attendance: Attendance) -> int | None:
    return announce_service(attendance.id, attendance.activity, attendance.user,
                            minutes=attendance.minutes, verified=attendance.verified,
                            points=attendance.points_earned)


def scan(user: User, activity_id, kind: str, *, now: datetime | None = None) -> Scan:
    """A volunteer scanned the check-in (``in``) or check-out (``out``) code of an
    activity: one query loads the activity, the sign-up and the attendance."""
    state = _scan_state(user.id, activity_id, with_activity=True) if isinstance(
        activity_id, int) else None
    if state is None:
        raise NotFound("未找到该活动")
    activity = state.Activity
    manager = current_app.extensions["jindou_plugins"]
    if not manager.is_enabled(activity.organization, "volunteering"):
        raise NotFound("未找到该活动")
    if kind == "in":
        return check_in(user.id, activity, now=now, state=state)
    return check_out(user.id, activity, now=now, user=user, state=state)


def staff_scan(staff: User, activity: Activity, kind: str, *, user_id: int,
               now: datetime | None = None) -> Scan:
    """Staff scanned a volunteer's own code (or typed its short code)."""
    require_role(staff, activity.organization, Role.staff)
    if kind == "in":
        return check_in(user_id, activity, by=staff, now=now)
    return check_out(user_id, activity, by=staff, now=now)


def short_code_candidates(activity: Activity, kind: str) -> list[int]:
    """Who may show up at this desk: confirmed volunteers (in), checked-in ones (out)."""
    if kind == "in":
        return list(db.session.scalars(select(Signup.user_id).where(
            Signup.activity_id == activity.id, Signup.status == "confirmed")))
    return list(db.session.scalars(select(Attendance.user_id).where(
        Attendance.activity_id == activity.id, Attendance.checked_in_at.is_not(None))))


def attendance_list(activity: Activity) -> list[tuple[Attendance, User]]:
    return db.session.execute(
        select(Attendance, User).join(User, User.id == Attendance.user_id)
        .where(Attendance.activity_id == activity.id).order_by(Attendance.id)).all()


def user_by_phone(phone: str) -> User:
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise NotFound("没有这个手机号的用户", code="unknown_phone")
    return user


def presence(activity_id: int) -> dict[str, int]:
    rows = dict(db.session.execute(
        select(Attendance.status, func.count()).where(Attendance.activity_id == activity_id)
        .group_by(Attendance.status)).all())
    return {"present": rows.get("open", 0), "completed": rows.get("completed", 0)}


# -- back-fill, closing and settings -------------------------------------------------------------


def honour_hours_earn_points(org: Organization) -> bool:
    return nearest_setting(org, OrgSetting.org_id, OrgSetting.honour_hours_earn_points, False)


def set_honour_hours_earn_points(user: User, org: Organization, allowed: bool) -> None:
    require_role(user, org, Role.admin)
    db.session.merge(OrgSetting(org_id=org.id, honour_hours_earn_points=allowed))
    audit("volunteering.setting_changed", actor=user, org=org,
          honour_hours_earn_points=allowed)


def backfill(staff: User, activity: Activity, *, user: User, checked_in_at: datetime,
             checked_out_at: datetime, reason: str) -> Attendance:
    """Staff record hours nobody scanned (荣誉时数), with a reason, audited.
    Scanned hours are never overwritten."""
    require_role(staff, activity.organization, Role.staff)
    if not can_see(user, activity.organization):
        raise NotFound("该居民不属于本活动所在组织", code="not_member")
    attendance = attendance_of(user.id, activity.id)
    if attendance is not None and attendance.status in ("completed", "backfilled"):
        raise Conflict("该记录已完成，不能补录", code="already_recorded")
    if attendance is None:
        attendance = Attendance(activity_id=activity.id, user_id=user.id)
        db.session.add(attendance)
    minutes = service_minutes(activity, checked_in_at, checked_out_at)
    if minutes == 0:
        raise BadRequest("补录时间与活动时间没有重叠",
                         fields={"checked_out_at": ["须在活动时间内"]}, code="no_overlap")
    earned = (points_for(activity, minutes)
              if honour_hours_earn_points(activity.organization) else 0)
    attendance.status, attendance.verified = "backfilled", False
    attendance.checked_in_at, attendance.checked_out_at = checked_in_at, checked_out_at
    attendance.minutes, attendance.points_earned = minutes, earned
    attendance.recorded_by_id, attendance.reason = staff.id, reason
    db.session.flush()
    audit("volunteering.backfill", actor=staff, org=activity.organization, obj=attendance,
          user_id=user.id, activity_id=activity.id, minutes=minutes, reason=reason)
    db.session.commit()
    _announce_attendance(attendance)
    return attendance_of(user.id, activity.id)


def close_attendance(now: datetime | None = None) -> dict[str, int]:
    """Job: close open attendances past end + grace as incomplete, and retry
    announcements that failed (or are in flight: the key makes a second one
    harmless). Idempotent; only where the plugin is on."""
    manager = current_app.extensions["jindou_plugins"]
    cutoff = (now or utcnow()) - grace()
    stale = db.session.scalars(
        select(Attendance).join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.status == "open", Activity.ends_at < cutoff)).all()
    ids = [a.id for a in stale if manager.is_enabled(a.activity.organization, "volunteering")]
    # Conditional: a check-out that lands meanwhile wins.
    closed = db.session.execute(
        update(Attendance).where(Attendance.id.in_(ids), Attendance.status == "open")
        .values(status="incomplete", minutes=0, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount if ids else 0
    db.session.commit()
    retried = 0
    # A refusal that lasts a week (say, a fund never refilled) stops being retried.
    pending = db.session.scalars(select(Attendance).where(
        Attendance.status.in_(("completed", "backfilled")), Attendance.points_awarded.is_(None),
        Attendance.updated_at > (now or utcnow()) - RETRY_ANNOUNCEMENTS_FOR)).all()
    for attendance in pending:
        if manager.is_enabled(attendance.activity.organization, "volunteering"):
            _announce_attendance(attendance)
            retried += 1
    return {"closed": closed, "retried": retried}


# -- service record -------------------------------------------------------------------------------


def star_level(verified_minutes: int, thresholds=None) -> int:
    hours = verified_minutes // 60
    thresholds = thresholds or current_app.config.get("JINDOU_VOLUNTEERING_STAR_HOURS",
                                                      DEFAULT_STAR_HOURS)
    return sum(1 for limit in thresholds if hours >= limit)


def service_record(user: User) -> dict:
    """志愿服务记录: verified and honour minutes, star level, the activities."""
    rows = db.session.execute(
        select(Attendance, Activity).join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.user_id == user.id,
               Attendance.status.in_(("completed", "backfilled")))
        .order_by(Activity.starts_at.desc())).all()
    verified = sum(a.minutes for a, _ in rows if a.verified)
    honour = sum(a.minutes for a, _ in rows if not a.verified)
    return {"verified_minutes": verified, "honour_minutes": honour, "stars": star_level(verified),
            "rows": rows, "activities": len(rows)}


def service_rows(org: Organization, start: datetime, end: datetime):
    """Recorded service in ``org``'s subtree for activities starting in [start, end)."""
    return db.session.execute(
        select(Attendance, Activity, Organization, User)
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(Organization, Organization.id == Activity.org_id)
        .join(User, User.id == Attendance.user_id)
        .where(Organization.path.startswith(org.path),
               Attendance.status.in_(("completed", "backfilled")),
               Activity.starts_at >= start, Activity.starts_at < end)
        .order_by(Activity.starts_at, User.name, Attendance.id)).all()


def month_summary(org: Organization, start: datetime, end: datetime) -> dict:
    rows = service_rows(org, start, end)
    activities = db.session.scalar(
        select(func.count()).select_from(Activity).join(Organization, Organization.id == Activity.org_id)
        .where(Organization.path.startswith(org.path), Activity.starts_at >= start,
               Activity.starts_at < end))
    return {"activities": activities, "volunteers": len({u.id for _, _, _, u in rows}),
            "verified_minutes": sum(a.minutes for a, *_ in rows if a.verified),
            "honour_minutes": sum(a.minutes for a, *_ in rows if not a.verified)}


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("JINDOU_TIMEZONE", "Asia/Shanghai"))


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The local calendar month starting on ``month`` as aware datetimes."""
    zone = local_zone()
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise BadRequest("月份应为 YYYY-MM", fields={"month": [f"须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"]})
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, end


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def format_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} 小时 {rest} 分"
    return f"{hours} 小时" if hours else f"{rest} 分"
