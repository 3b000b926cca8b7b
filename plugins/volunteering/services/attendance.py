"""Check-in and check-out: volunteers' scans, staff scanning a person's code,
back-fill by staff, closing forgotten check-outs, and announcing recorded
service to the other plugins (``service_recorded``; points awards 金豆 for it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, insert, literal_column, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import joinedload

from core import ledger
from core.access import can_see, require_role
from core.api import ApiError, BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, unloaded, utcnow
from core.plugins import manager, orgs_where_enabled, require_enabled, switch_summary
from plugins.volunteering.models import Activity, Attendance, Signup
from plugins.volunteering.services.activities import keeping_loaded_state
from plugins.volunteering.services.settings import honour_hours_earn_points

log = logging.getLogger("jindou.volunteering")

CHECKIN_OPENS_BEFORE = timedelta(minutes=30)
DEFAULT_GRACE_MINUTES = 60
RETRY_ANNOUNCEMENTS_FOR = timedelta(days=7)


def grace() -> timedelta:
    return timedelta(
        minutes=current_app.config.get(
            "JINDOU_VOLUNTEERING_CHECKOUT_GRACE_MINUTES", DEFAULT_GRACE_MINUTES
        )
    )


def attendance_of(user_id: int, activity_id: int) -> Attendance | None:
    return db.session.scalar(
        select(Attendance)
        .where(Attendance.activity_id == activity_id, Attendance.user_id == user_id)
        .execution_options(populate_existing=True)
    )


def service_minutes(activity: Activity, checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Whole minutes of [check-in, check-out] inside [starts_at, ends_at]."""
    start = max(checked_in_at, activity.starts_at)
    end = min(checked_out_at, activity.ends_at)
    return max(0, int((end - start).total_seconds()) // 60)


def points_for(activity: Activity, minutes: int, user_id: int | None = None) -> int:
    """The base points plus points_per_hour pro rata by the minute, rounded down.
    Whoever created the activity earns none from it (their minutes still count):
    nobody sets their own pay."""
    if user_id is not None and user_id == activity.created_by_id:
        return 0
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

    def data(self) -> dict:
        """The scan as the API answers it (API.md, "Volunteering")."""
        body = {
            "kind": self.kind,
            "activity_id": self.activity_id,
            "user_id": self.user_id,
            "at": self.at.isoformat(),
        }
        if self.kind == "checkout":
            body.update(
                minutes=self.minutes,
                verified=self.verified,
                points=self.points_awarded or 0,
                points_earned=self.points_earned,
            )
        return body


def _commit_keeping_state() -> None:
    with keeping_loaded_state():  # a scan answers from what it wrote
        db.session.commit()


_ATTENDANCE_COLUMNS = (
    Attendance.id,
    Attendance.status,
    Attendance.checked_in_at,
    Attendance.checked_out_at,
    Attendance.minutes,
    Attendance.verified,
    Attendance.points_earned,
    Attendance.points_awarded,
)


def _attendance_row(user_id: int, activity_id: int):
    return db.session.execute(
        select(*_ATTENDANCE_COLUMNS).where(
            Attendance.activity_id == activity_id, Attendance.user_id == user_id
        )
    ).first()


def _scan_state(user_id: int, activity_id: int):
    """One round trip for a staff scan: the sign-up status and the attendance so far."""
    signup_status = (
        select(Signup.status)
        .where(Signup.activity_id == Activity.id, Signup.user_id == user_id)
        .scalar_subquery()
        .label("signup_status")
    )
    stmt = (
        select(signup_status, *_ATTENDANCE_COLUMNS)
        .select_from(Activity)
        .outerjoin(
            Attendance, (Attendance.activity_id == Activity.id) & (Attendance.user_id == user_id)
        )
        .where(Activity.id == activity_id)
    )
    return db.session.execute(stmt).first()


def _as_scan(kind: str, activity: Activity, user_id: int, row) -> Scan:
    return Scan(
        kind,
        activity.id,
        user_id,
        row.checked_in_at if kind == "checkin" else row.checked_out_at,
        row.status,
        row.minutes,
        row.verified,
        row.points_earned,
        row.points_awarded,
        activity.title,
    )


def _refuse_other_activity(user_id: int, activity: Activity, action: str) -> None:
    """A volunteer at the wrong screen (two activities in one hall): name theirs."""
    at = utcnow()
    if action == "签到":
        mine = (
            select(Activity)
            .join(Signup, Signup.activity_id == Activity.id)
            .where(
                Signup.user_id == user_id,
                Signup.status == "confirmed",
                Activity.starts_at <= at + CHECKIN_OPENS_BEFORE,
                Activity.ends_at > at,
            )
        )
    else:
        mine = (
            select(Activity)
            .join(Attendance, Attendance.activity_id == Activity.id)
            .where(Attendance.user_id == user_id, Attendance.status == "open")
        )
    other = db.session.scalar(mine.where(Activity.id != activity.id).limit(1))
    if other is not None:
        raise Conflict(
            f"这是“{activity.title}”的{action}码，您参加的是“{other.title}”",
            code="other_activity",
            fields={"activity_id": [other.id]},
        )


def _refuse_cancelled(activity: Activity) -> None:
    if activity.cancelled_at is not None:
        raise Conflict(f"活动已取消：{activity.cancel_reason}", code="cancelled")


# -- scans ----------------------------------------------------------------------------------

# Built once: a statement object keeps its cache key, so the door's scans spend
# no time constructing SQL (the ledger's hot path is text() for the same reason).
_ATTENDANCE = Attendance.__table__
_CHECK_IN = insert(_ATTENDANCE)
_CHECK_OUT = (
    update(_ATTENDANCE)
    .where(_ATTENDANCE.c.id == bindparam("attendance_id"), _ATTENDANCE.c.status == "open")
    .values(
        status=bindparam("new_status"),
        checked_out_at=bindparam("out_at"),
        minutes=bindparam("new_minutes"),
        verified=True,
        points_earned=bindparam("earned"),
        points_awarded=bindparam("awarded"),
        checkout_by_id=bindparam("by_id"),
        updated_at=bindparam("now"),
    )
)


def check_in(
    user_id: int,
    activity: Activity,
    *,
    by: User | None = None,
    now: datetime | None = None,
    state=None,
) -> Scan:
    """Record arrival. A repeated check-in answers the first one."""
    _refuse_cancelled(activity)
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
        db.session.execute(
            _CHECK_IN,
            {
                "activity_id": activity.id,
                "user_id": user_id,
                "status": "open",
                "checked_in_at": at,
                "checkin_by_id": by.id if by else None,
            },
        )
        _commit_keeping_state()
    except IntegrityError:
        db.session.rollback()  # a simultaneous scan won (or staff back-filled): answer that
        row = _attendance_row(user_id, activity.id)
        return _as_scan("checkin", activity, user_id, row)
    return Scan("checkin", activity.id, user_id, at, title=activity.title)


def check_out(
    user_id: int,
    activity: Activity,
    *,
    by: User | None = None,
    now: datetime | None = None,
    user: User | None = None,
    state=None,
) -> Scan:
    """Record leaving, count the minutes, announce the service. A repeat answers the first."""
    _refuse_cancelled(activity)
    row = state or _scan_state(user_id, activity.id)
    if row.id is None or row.checked_in_at is None:
        _refuse_other_activity(user_id, activity, "签退")
        raise Conflict("尚未签到，不能签退", code="not_checked_in")
    if row.status != "open":
        if row.status == "incomplete":
            raise Conflict(
                "签退时间已过，本次记录未完成，请联系工作人员补录", code="checkout_closed"
            )
        return _as_scan("checkout", activity, user_id, row)
    at = now or utcnow()
    if at > activity.ends_at + grace():
        raise Conflict("签退时间已过，请联系工作人员补录", code="checkout_closed")
    minutes = service_minutes(activity, row.checked_in_at, at)
    # No minutes of service (e.g. out before the start): nothing earned, nothing to announce.
    earned = points_for(activity, minutes, user_id) if minutes else 0
    # With nobody listening (points off here) the record is final in one commit.
    listening = minutes > 0 and _listeners(activity.organization)
    done = db.session.execute(
        _CHECK_OUT,
        {
            "attendance_id": row.id,
            "new_status": "completed",
            "out_at": at,
            "new_minutes": minutes,
            "earned": earned,
            "awarded": None if listening else 0,
            "by_id": by.id if by else None,
            "now": utcnow(),
        },
    )
    _commit_keeping_state()
    if done.rowcount != 1:  # a simultaneous scan closed it: answer that
        return _as_scan("checkout", activity, user_id, _attendance_row(user_id, activity.id))
    awarded = 0
    if listening:
        awarded = announce_service(
            row.id,
            activity,
            user or db.session.get(User, user_id),
            minutes=minutes,
            verified=True,
            points=earned,
        )
    return Scan(
        "checkout",
        activity.id,
        user_id,
        at,
        "completed",
        minutes,
        True,
        earned,
        awarded,
        activity.title,
    )


_DOOR_ACTIVITY_COLUMNS = (
    Activity.org_id,
    Activity.title,
    Activity.starts_at,
    Activity.ends_at,
    Activity.points,
    Activity.points_per_hour,
    Activity.created_by_id,
    Activity.cancelled_at,
    Activity.cancel_reason,
)


@cache
def _door_statement(dialect: str):
    """A volunteer's scan in one Core statement (built once per dialect): the
    activity, its organization's path and plugin switches, the sign-up status
    and the attendance so far."""
    user_id = bindparam("user_id")
    signup_status = (
        select(Signup.status)
        .where(Signup.activity_id == Activity.id, Signup.user_id == user_id)
        .scalar_subquery()
        .label("signup_status")
    )
    return (
        select(
            *_DOOR_ACTIVITY_COLUMNS,
            Organization.path.label("org_path"),
            switch_summary(Organization.path).label("switches"),
            signup_status,
            *_ATTENDANCE_COLUMNS,
        )
        .select_from(Activity)
        .join(Organization, Organization.id == Activity.org_id)
        .outerjoin(
            Attendance, (Attendance.activity_id == Activity.id) & (Attendance.user_id == user_id)
        )
        .where(Activity.id == bindparam("activity_id"))
    )


def _door_state(user_id: int, activity_id: int):
    stmt = _door_statement(db.session.get_bind().dialect.name)
    return db.session.execute(stmt, {"user_id": user_id, "activity_id": activity_id}).first()


def scan(user: User, activity_id, kind: str, *, now: datetime | None = None) -> Scan:
    """A volunteer scanned the check-in (``in``) or check-out (``out``) code of an
    activity. One statement reads everything (:func:`_door_state`), then the write
    and its commit: the activity and its organization are :func:`unloaded` objects
    made from that row, and the plugin switches are cached for the request."""
    state = _door_state(user.id, activity_id) if isinstance(activity_id, int) else None
    if state is None:
        raise NotFound("未找到该活动")
    manager().remember_states(state.org_id, state.org_path, state.switches)
    org = unloaded(Organization, state.org_id, path=state.org_path)
    activity = unloaded(
        Activity,
        activity_id,
        organization=org,
        **{column.key: getattr(state, column.key) for column in _DOOR_ACTIVITY_COLUMNS},
    )
    # Scans arrive through core's /api/v1/scan, which no plugin switch guards.
    require_enabled(org, "volunteering")
    if kind == "in":
        return check_in(user.id, activity, now=now, state=state)
    return check_out(user.id, activity, now=now, user=user, state=state)


def staff_scan(
    staff: User, activity: Activity, kind: str, *, user_id: int, now: datetime | None = None
) -> Scan:
    """Staff scanned a volunteer's own code (or typed its short code)."""
    require_role(staff, activity.organization, Role.staff)
    if kind == "in":
        return check_in(user_id, activity, by=staff, now=now)
    return check_out(user_id, activity, by=staff, now=now)


def short_code_candidates(activity: Activity, kind: str) -> list[int]:
    """Who may show up at this desk: confirmed volunteers (in), checked-in ones (out)."""
    if kind == "in":
        return list(
            db.session.scalars(
                select(Signup.user_id).where(
                    Signup.activity_id == activity.id, Signup.status == "confirmed"
                )
            )
        )
    return list(
        db.session.scalars(
            select(Attendance.user_id).where(
                Attendance.activity_id == activity.id, Attendance.checked_in_at.is_not(None)
            )
        )
    )


def attendance_list(activity: Activity) -> list[tuple[Attendance, User]]:
    return db.session.execute(
        select(Attendance, User)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.activity_id == activity.id)
        .order_by(Attendance.id)
    ).all()


def user_by_phone(phone: str) -> User:
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise NotFound("没有这个手机号的用户", code="unknown_phone")
    return user


def presence(activity_id: int) -> dict[str, int]:
    rows = dict(
        db.session.execute(
            select(Attendance.status, func.count())
            .where(Attendance.activity_id == activity_id)
            .group_by(Attendance.status)
        ).all()
    )
    return {"present": rows.get("open", 0), "completed": rows.get("completed", 0)}


# -- announcing service to other plugins ------------------------------------------------------


def _listeners(org: Organization) -> bool:
    return bool(manager().for_org(org, "service_recorded").get_hookimpls())


def announce_service(
    attendance_id: int, activity: Activity, user: User, *, minutes: int, verified: bool, points: int
) -> int | None:
    """Emit ``service_recorded`` to the plugins on at the activity's organization
    and keep what they awarded. A failure leaves ``points_awarded`` empty for
    ``close-attendance`` to retry (the key makes it idempotent)."""

    def work() -> int:
        answers = manager().emit(
            activity.organization,
            "service_recorded",
            user=user,
            activity_id=activity.id,
            title=activity.title,
            minutes=minutes,
            verified=verified,
            points=points,
            key=f"volunteering.attendance.{attendance_id}",
        )
        awarded = sum(a for a in answers if isinstance(a, int))
        db.session.execute(
            update(Attendance)
            .where(Attendance.id == attendance_id)
            .values(points_awarded=awarded)
            .execution_options(synchronize_session=False)
        )
        return awarded

    # One write transaction (BEGIN IMMEDIATE on SQLite), retried on lock
    # trouble: the listeners write, and a deferred transaction could meet
    # "database is locked" after the attendance is already committed.
    with keeping_loaded_state():  # the caller answers from what it loaded
        try:
            return ledger.atomic(work)
        except (ApiError, ledger.LedgerError, DBAPIError) as err:
            db.session.rollback()
            log.warning(
                "service_recorded for attendance %s failed: %s",
                attendance_id,
                getattr(err, "message", err),
            )
            return None


def _announce_attendance(attendance: Attendance) -> int | None:
    return announce_service(
        attendance.id,
        attendance.activity,
        attendance.user,
        minutes=attendance.minutes,
        verified=attendance.verified,
        points=attendance.points_earned,
    )


# -- back-fill and closing ------------------------------------------------------------------------


def backfill(
    staff: User,
    activity: Activity,
    *,
    user: User,
    checked_in_at: datetime,
    checked_out_at: datetime,
    reason: str,
) -> Attendance:
    """Staff record hours nobody scanned (荣誉时数), with a reason, audited.
    Scanned hours are never overwritten."""
    require_role(staff, activity.organization, Role.staff)
    if user.id == staff.id:
        raise Forbidden("不能为自己补录服务时长，请由其他工作人员补录", code="self_backfill")
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
        raise BadRequest(
            "补录时间与活动时间没有重叠",
            fields={"checked_out_at": ["须在活动时间内"]},
            code="no_overlap",
        )
    earned = (
        points_for(activity, minutes, user.id)
        if honour_hours_earn_points(activity.organization)
        else 0
    )
    attendance.status, attendance.verified = "backfilled", False
    attendance.checked_in_at, attendance.checked_out_at = checked_in_at, checked_out_at
    attendance.minutes, attendance.points_earned = minutes, earned
    attendance.recorded_by_id, attendance.reason = staff.id, reason
    db.session.flush()
    audit(
        "volunteering.backfill",
        actor=staff,
        org=activity.organization,
        obj=attendance,
        user_id=user.id,
        activity_id=activity.id,
        minutes=minutes,
        reason=reason,
    )
    db.session.commit()
    _announce_attendance(attendance)
    return attendance_of(user.id, activity.id)


CLOSE_BATCH = 1000  # attendances closed per statement
RETRY_BATCH = 100  # announcements retried per transaction (they lock the fund)

# Literal, so PostgreSQL matches the small partial indexes of the two queues.
_OPEN = Attendance.status == literal_column("'open'")
_UNANNOUNCED = and_(
    Attendance.points_awarded.is_(None),
    Attendance.status.in_([literal_column("'completed'"), literal_column("'backfilled'")]),
)


def close_attendance(
    now: datetime | None = None,
    *,
    batch: int = CLOSE_BATCH,
    retry_batch: int = RETRY_BATCH,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Job: close open attendances past end + grace as incomplete, and retry
    announcements that failed (or are in flight: the key makes a second one
    harmless). Only where the plugin is on.

    Set-based and restartable: batches of ids taken in id order (keyset) from
    a small partial index, three statements a batch, each batch committed; a
    rerun after a crash finds what is left (the queues are "still open",
    "still unanswered"). ``progress`` gets a line per batch."""
    now = now or utcnow()
    say = progress or (lambda line: None)
    closed, last = 0, 0
    while rows := db.session.execute(
        select(Attendance.id, Attendance.activity_id)
        .where(_OPEN, Attendance.id > last)
        .order_by(Attendance.id)
        .limit(batch)
    ).all():
        last = rows[-1].id
        # Which of this batch's activities are over (and on): asked of a few
        # activities, never of all of them, so a batch costs the same at any size.
        due = set(
            db.session.scalars(
                select(Activity.id).where(
                    Activity.id.in_({r.activity_id for r in rows}),
                    Activity.ends_at < now - grace(),
                    Activity.org_id.in_(orgs_where_enabled("volunteering")),
                )
            )
        )
        done = 0
        if ids := [r.id for r in rows if r.activity_id in due]:
            # Conditional on "open": a check-out that lands meanwhile wins.
            done = len(
                db.session.execute(
                    update(Attendance)
                    .where(Attendance.id.in_(ids), _OPEN)
                    .values(status="incomplete", minutes=0, updated_at=utcnow())
                    .returning(Attendance.id)
                    .execution_options(synchronize_session=False)
                ).all()
            )
        db.session.commit()
        closed += done
        say(f"closed {done} incomplete (up to attendance {last}), {closed} so far")
    retried = _retry_announcements(now, retry_batch, say)
    return {"closed": closed, "retried": retried}


def _retry_announcements(now: datetime, size: int, say: Callable[[str], None]) -> int:
    """Announce recorded service still unanswered, ``size`` per transaction:
    one statement loads a batch, each announcement runs in a savepoint (one
    that fails stays unanswered for the next run), one UPDATE keeps the answers."""
    # A refusal that lasts a week (say, a fund never refilled) stops being retried.
    pending = select(Attendance.id).where(
        _UNANNOUNCED, Attendance.updated_at > now - RETRY_ANNOUNCEMENTS_FOR
    )
    retried, last = 0, 0
    while ids := list(
        db.session.scalars(pending.where(Attendance.id > last).order_by(Attendance.id).limit(size))
    ):
        last = ids[-1]
        tried, answered = ledger.atomic(partial(_announce_batch, ids))
        retried += tried
        say(f"retried {tried} announcements, {answered} answered, {retried} so far")
    return retried


def _announce_batch(ids: list[int]) -> tuple[int, int]:
    """Announce the batch's attendances (where the plugin is on); how many
    were tried, how many answered."""
    rows = db.session.execute(
        select(
            Attendance.id,
            Attendance.minutes,
            Attendance.verified,
            Attendance.points_earned,
            Activity,
            User,
        )
        .join(Activity, Activity.id == Attendance.activity_id)
        .join(User, User.id == Attendance.user_id)
        .options(joinedload(Activity.organization))
        .where(
            Attendance.id.in_(ids),
            _UNANNOUNCED,  # answered meanwhile: skip
            Activity.org_id.in_(orgs_where_enabled("volunteering")),
        )
    ).all()
    answered: dict[int, int] = {}
    for row in rows:
        try:
            with db.session.begin_nested():
                answers = manager().emit(
                    row.Activity.organization,
                    "service_recorded",
                    user=row.User,
                    activity_id=row.Activity.id,
                    title=row.Activity.title,
                    minutes=row.minutes,
                    verified=row.verified,
                    points=row.points_earned,
                    key=f"volunteering.attendance.{row.id}",
                )
            answered[row.id] = sum(a for a in answers if isinstance(a, int))
        except (ApiError, ledger.LedgerError, DBAPIError) as err:
            log.warning(
                "service_recorded for attendance %s failed: %s",
                row.id,
                getattr(err, "message", err),
            )
    if answered:
        db.session.execute(
            update(Attendance)
            .where(Attendance.id.in_(list(answered)))
            .values(points_awarded=case(answered, value=Attendance.id))
            .execution_options(synchronize_session=False)
        )
    return len(rows), len(answered)
