"""Shifts: scheduling a team, scanning checkpoints inside the window, closing
(by staff or the job) and announcing a completed patrol's service
(``service_recorded``: points, when on there, awards 金豆 for it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, insert, select, update
from sqlalchemy.exc import DBAPIError

from core import ledger
from core.access import has_plugin_role, has_role, require_role, subtree_ids
from core.api import ApiError, BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User, utcnow
from core.plugins import manager, orgs_where_enabled, require_enabled
from plugins.patrol.models import Checkpoint, Member, Route, Scan, Shift
from plugins.patrol.services.routes import checkpoints_of

log = logging.getLogger("jindou.patrol")

OPENS_BEFORE = timedelta(minutes=15)
DEFAULT_GRACE_MINUTES = 15


def status_of(shift: Shift, now: datetime | None = None) -> str:
    """scheduled, on (the window has opened, nobody closed it), completed, incomplete."""
    if shift.status != "scheduled":
        return shift.status
    return "on" if (now or utcnow()) >= shift.starts_at - OPENS_BEFORE else "scheduled"


def status_filter(stmt, status: str, now: datetime | None = None):
    now = now or utcnow()
    if status == "on":
        return stmt.where(Shift.status == "scheduled", Shift.starts_at <= now + OPENS_BEFORE)
    if status == "scheduled":
        return stmt.where(Shift.status == "scheduled", Shift.starts_at > now + OPENS_BEFORE)
    return stmt.where(Shift.status == status)


def get_shift(shift_id: int) -> Shift:
    shift = db.session.get(Shift, shift_id) if isinstance(shift_id, int) else None
    if shift is None:
        raise NotFound("未找到该班次")
    return shift


def team_of(shift_id: int) -> list[User]:
    return teams_of([shift_id])[shift_id]


def is_member(user: User, shift_id: int) -> bool:
    return (
        db.session.scalar(
            select(Member.id).where(Member.shift_id == shift_id, Member.user_id == user.id)
        )
        is not None
    )


def may_manage(user: User, org: Organization) -> bool:
    """Staff, or a patrol leader (巡逻队长) of the organization."""
    return has_role(user, org, Role.staff) or has_plugin_role(user, org, "patrol.leader")


def visible_shift(user: User, shift_id: int) -> Shift:
    """The team sees its shift, staff and leaders theirs; anyone else a 404."""
    shift = get_shift(shift_id)
    require_enabled(shift.organization, "patrol")
    if not (is_member(user, shift.id) or may_manage(user, shift.organization)):
        raise NotFound("未找到该班次")
    return shift


def create_shift(
    actor: User,
    org: Organization,
    *,
    route_id: int,
    starts_at: datetime,
    ends_at: datetime,
    team: list[int],
    points: int = 0,
    grace_minutes: int = DEFAULT_GRACE_MINUTES,
) -> Shift:
    """Staff schedule a team on a route of their organization (or above it)."""
    require_enabled(org, "patrol")
    require_role(actor, org, Role.staff)
    route = db.session.get(Route, route_id)
    if route is None or route.org_id not in set(
        db.session.scalars(
            select(Organization.id).where(Organization.id.in_(org.ancestor_ids + [org.id]))
        )
    ):
        raise BadRequest("路线不属于该组织", fields={"route_id": ["未找到该路线"]})
    if not checkpoints_of(route.id):
        raise BadRequest("该路线还没有巡逻点", fields={"route_id": ["路线没有巡逻点"]})
    known = set(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.user_id.in_(team), Membership.org_id.in_(subtree_ids(org))
            )
        )
    )
    strangers = [u for u in team if u not in known]
    if strangers:
        raise BadRequest(
            "队员必须是本组织的成员",
            fields={"team": [f"不是本组织成员：{', '.join(map(str, strangers))}"]},
        )
    shift = Shift(
        org_id=org.id,
        route_id=route.id,
        starts_at=starts_at,
        ends_at=ends_at,
        grace_minutes=grace_minutes,
        closes_at=ends_at + timedelta(minutes=grace_minutes),
        minutes=int((ends_at - starts_at).total_seconds()) // 60,
        points=points,
        status="scheduled",
        created_by_id=actor.id,
    )
    db.session.add(shift)
    db.session.flush()
    db.session.add_all(Member(shift_id=shift.id, user_id=u) for u in team)
    db.session.flush()
    audit(
        "patrol.shift_scheduled",
        actor=actor,
        org=org,
        obj=shift,
        route_id=route.id,
        team=team,
        points=points,
    )
    return shift


def shifts_query(org: Organization, status: str | None = None):
    stmt = select(Shift).where(Shift.org_id.in_(subtree_ids(org)))
    return status_filter(stmt, status) if status else stmt


def my_next_shifts(user: User, now: datetime | None = None, limit: int = 20) -> list[Shift]:
    """My shifts not yet closed, soonest first."""
    return list(
        db.session.scalars(
            select(Shift)
            .join(Member, Member.shift_id == Shift.id)
            .where(
                Member.user_id == user.id,
                Shift.status == "scheduled",
                Shift.closes_at >= (now or utcnow()),
            )
            .order_by(Shift.starts_at, Shift.id)
            .limit(limit)
        )
    )


def progress(shift: Shift) -> list[dict]:
    """Every checkpoint of the route in order, with its scan (or None)."""
    return progress_many([shift])[shift.id]


def progress_many(shifts: list[Shift]) -> dict[int, list[dict]]:
    """:func:`progress` of many shifts in two queries (pages listing shifts)."""
    if not shifts:
        return {}
    points: dict[int, list[Checkpoint]] = {}
    for c in db.session.scalars(
        select(Checkpoint)
        .where(Checkpoint.route_id.in_({s.route_id for s in shifts}))
        .order_by(Checkpoint.route_id, Checkpoint.position)
    ):
        points.setdefault(c.route_id, []).append(c)
    scans = {
        (s.shift_id, s.checkpoint_id): s
        for s in db.session.scalars(select(Scan).where(Scan.shift_id.in_([s.id for s in shifts])))
    }
    return {
        shift.id: [
            {
                "id": c.id,
                "name": c.name,
                "position": c.position,
                "scanned_at": scan.scanned_at if scan else None,
                "user_id": scan.user_id if scan else None,
            }
            for c in points.get(shift.route_id, [])
            for scan in [scans.get((shift.id, c.id))]
        ]
        for shift in shifts
    }


def teams_of(shift_ids: list[int]) -> dict[int, list[User]]:
    """:func:`team_of` of many shifts in one query."""
    teams: dict[int, list[User]] = {i: [] for i in shift_ids}
    if shift_ids:
        for shift_id, user in db.session.execute(
            select(Member.shift_id, User)
            .join(User, User.id == Member.user_id)
            .where(Member.shift_id.in_(shift_ids))
            .order_by(Member.id)
        ):
            teams[shift_id].append(user)
    return teams


# -- scanning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointScan:
    shift_id: int
    checkpoint_id: int
    at: datetime
    scanned: int
    total: int
    left: list[str]
    route_name: str
    checkpoint_name: str

    def data(self) -> dict:
        """As API.md answers it (plus ``left``: names still to walk, in order)."""
        return {
            "kind": "checkpoint",
            "shift_id": self.shift_id,
            "checkpoint_id": self.checkpoint_id,
            "at": self.at.isoformat(),
            "scanned": self.scanned,
            "total": self.total,
            "left": self.left,
        }


def active_shift(user: User, checkpoint: Checkpoint, now: datetime) -> Shift | None:
    """The user's open shift on the checkpoint's route whose window holds ``now``."""
    return db.session.scalar(
        select(Shift)
        .join(Member, and_(Member.shift_id == Shift.id, Member.user_id == user.id))
        .where(
            Shift.route_id == checkpoint.route_id,
            Shift.status == "scheduled",
            Shift.starts_at <= now + OPENS_BEFORE,
            Shift.closes_at >= now,
        )
        .order_by(Shift.starts_at, Shift.id)
        .limit(1)
    )


def scan_checkpoint(user: User, checkpoint_id, *, now: datetime | None = None) -> CheckpointScan:
    """A team member scanned a printed checkpoint code. Counts only inside the
    member's shift window on that route; the first scan of a checkpoint in a
    shift stands, a repeat (or a simultaneous one) answers it."""
    checkpoint = (
        db.session.get(Checkpoint, checkpoint_id) if isinstance(checkpoint_id, int) else None
    )
    if checkpoint is None:
        raise NotFound("未找到该巡逻点")
    # Scans arrive through core's /api/v1/scan, which no plugin switch guards.
    require_enabled(checkpoint.route.organization, "patrol")
    now = now or utcnow()
    shift = active_shift(user, checkpoint, now)
    if shift is None:
        raise Conflict(
            "您现在没有这条路线的巡逻班次（班次开始前 15 分钟至结束后宽限期内有效）",
            code="no_active_shift",
        )
    shift_id, checkpoint_id, user_id = shift.id, checkpoint.id, user.id

    def write() -> None:
        # The first scan stands. A simultaneous insert of the same pair breaks the
        # unique constraint; atomic retries, and the retry sees the winner's row.
        if (
            db.session.scalar(
                select(Scan.id).where(
                    Scan.shift_id == shift_id, Scan.checkpoint_id == checkpoint_id
                )
            )
            is None
        ):
            db.session.execute(
                insert(Scan).values(
                    shift_id=shift_id, checkpoint_id=checkpoint_id, user_id=user_id, scanned_at=now
                )
            )

    ledger.atomic(write)  # BEGIN IMMEDIATE on SQLite: no lock upgrade halfway
    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    first = db.session.scalar(
        select(Scan).where(Scan.shift_id == shift_id, Scan.checkpoint_id == checkpoint.id)
    )
    shift = get_shift(shift_id)
    walk = progress(shift)
    left = [p["name"] for p in walk if p["scanned_at"] is None]
    return CheckpointScan(
        shift_id,
        checkpoint.id,
        first.scanned_at,
        len(walk) - len(left),
        len(walk),
        left,
        shift.route.name,
        checkpoint.name,
    )


# -- closing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closing:
    status: str
    missed: list[int]
    minutes: int


def closing_of(shift: Shift) -> Closing:
    """A closed shift's result, recomputed from its rows (so closing twice answers the same)."""
    missed = [p["id"] for p in progress(shift) if p["scanned_at"] is None]
    return Closing(shift.status, missed, shift.minutes if shift.status == "completed" else 0)


def _missing_checkpoint():
    """SQL: the shift (correlated) has a checkpoint of its route nobody scanned."""
    # Explicit correlation: the innermost query refers two levels out, which
    # auto-correlation would not do (it would add patrol_shift to its FROM).
    scanned = (
        select(Scan.id)
        .where(Scan.shift_id == Shift.id, Scan.checkpoint_id == Checkpoint.id)
        .correlate(Shift, Checkpoint)
    )
    return exists(
        select(Checkpoint.id)
        .where(Checkpoint.route_id == Shift.route_id, ~exists(scanned))
        .correlate(Shift)
    )


def _close(ids, now: datetime, by: User | None) -> int:
    """Close the scheduled shifts among ``ids`` (a list or a select) in one
    UPDATE: completed when no checkpoint is missing, else incomplete."""
    return db.session.execute(
        update(Shift)
        .where(Shift.id.in_(ids), Shift.status == "scheduled")
        .values(
            status=case((_missing_checkpoint(), "incomplete"), else_="completed"),
            closed_at=now,
            closed_by_id=by.id if by else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def close_shift(actor: User, shift_id: int, *, now: datetime | None = None) -> Closing:
    """Staff (or a patrol leader) close a shift: completed when every checkpoint
    was scanned, else incomplete. Closing again answers the first result."""
    shift = get_shift(shift_id)
    require_enabled(shift.organization, "patrol")
    if not may_manage(actor, shift.organization):
        require_role(actor, shift.organization, Role.staff)
    now = now or utcnow()
    if shift.status == "scheduled" and now < shift.starts_at - OPENS_BEFORE:
        raise Conflict("班次尚未开始，不能结束", code="shift_not_started")
    shift_id, org = shift.id, shift.organization

    def write() -> None:
        if _close([shift_id], now, actor):
            audit("patrol.shift_closed", actor=actor, org=org, obj=shift)

    ledger.atomic(write)
    shift = db.session.get(Shift, shift_id, populate_existing=True)
    announce_pending(shift_ids=[shift.id])
    return closing_of(shift)


BATCH = 1000

# ``progress(step, done_so_far, last_id)``: step is "closed" or "announced".
Progress = Callable[[str, int, int], None]


def close_shifts(now: datetime | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Job: close every shift whose grace has passed, where patrol is on, then
    announce service (and retry announcements that failed).

    Keyset batches by id, one transaction of two statements each (the batch's
    ids, one UPDATE). Restartable: a closed shift is no longer scheduled, and a
    member announced has ``points_awarded`` set, so a rerun skips both."""
    now = now or utcnow()
    closed, after_id = 0, 0
    while True:
        count, last = ledger.atomic(lambda after=after_id: _close_batch(now, after))
        if last is None:
            break
        closed, after_id = closed + count, last
        if progress is not None:
            progress("closed", closed, after_id)
    return {"closed": closed, "announced": announce_pending(progress=progress)}


def _close_batch(now: datetime, after_id: int) -> tuple[int, int | None]:
    ids = db.session.scalars(
        select(Shift.id)
        .where(
            Shift.status == "scheduled",
            Shift.closes_at < now,
            Shift.id > after_id,
            Shift.org_id.in_(orgs_where_enabled("patrol")),
        )
        .order_by(Shift.id)
        .limit(BATCH)
    ).all()
    if not ids:
        return 0, None
    return _close(ids, now, None), ids[-1]


# -- announcing service -----------------------------------------------------------------------


ANNOUNCE_BATCH = 200


def _pending(shift_ids: list[int] | None, after_id: int = 0, limit: int | None = None):
    """(member id, user id, shift id, org id, route name, minutes, points) of
    members of completed shifts who scanned at least once, not yet announced."""
    stmt = (
        select(
            Member.id,
            Member.user_id,
            Shift.id,
            Shift.org_id,
            Route.name,
            Shift.minutes,
            Shift.points,
        )
        .join(Shift, Shift.id == Member.shift_id)
        .join(Route, Route.id == Shift.route_id)
        .where(
            Member.points_awarded.is_(None),
            Member.id > after_id,
            Shift.status == "completed",
            Shift.org_id.in_(orgs_where_enabled("patrol")),
            exists(
                select(Scan.id).where(Scan.shift_id == Shift.id, Scan.user_id == Member.user_id)
            ),
        )
        .order_by(Member.id)
    )
    if shift_ids is not None:
        stmt = stmt.where(Shift.id.in_(shift_ids))
    return db.session.execute(stmt.limit(limit) if limit else stmt).all()


def announce_pending(shift_ids: list[int] | None = None, progress: Progress | None = None) -> int:
    """Emit ``service_recorded`` for each pending member, keep what was awarded.

    The hook is per person (points pays each through the ledger with its own
    key, so a second announcement is harmless); what is set-based is around
    it: keyset batches of members, one transaction per batch with a savepoint
    per member (a failure stays pending, the rest of the batch is kept),
    people and organizations loaded once per batch, one UPDATE of
    ``points_awarded`` per batch."""
    count, after_id = 0, 0
    while True:
        rows = _pending(shift_ids, after_id, ANNOUNCE_BATCH)
        if not rows:
            return count
        count += ledger.atomic(lambda rows=rows: _announce_batch(rows))
        after_id = rows[-1][0]
        if progress is not None:
            progress("announced", count, after_id)


def _announce_batch(rows) -> int:
    users = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_({r[1] for r in rows})))
    }
    orgs = {
        o.id: o
        for o in db.session.scalars(
            select(Organization).where(Organization.id.in_({r[3] for r in rows}))
        )
    }
    hooks: dict[int, object] = {}
    awarded: dict[int, int] = {}
    for member_id, user_id, shift_id, org_id, route_name, minutes, points in rows:
        org = orgs[org_id]
        if org_id not in hooks:
            hooks[org_id] = manager().for_org(org, "service_recorded")
        try:
            with db.session.begin_nested():
                answers = hooks[org_id](  # type: ignore[operator]
                    org=org,
                    user=users[user_id],
                    activity_id=None,
                    title=f"治安巡逻：{route_name}",
                    minutes=minutes,
                    verified=True,
                    points=points,
                    key=f"patrol:shift:{shift_id}:{user_id}",
                )
        except (ApiError, ledger.LedgerError, DBAPIError) as err:
            log.warning(
                "service_recorded for shift %s user %s failed: %s",
                shift_id,
                user_id,
                getattr(err, "message", err),
            )
            continue
        awarded[member_id] = sum(a for a in answers if isinstance(a, int))
    if awarded:
        db.session.execute(
            update(Member)
            .where(Member.id.in_(list(awarded)), Member.points_awarded.is_(None))
            .values(points_awarded=case(awarded, value=Member.id))
            .execution_options(synchronize_session=False)
        )
    return len(awarded)


def awarded_to(user: User, shift_id: int) -> int | None:
    return db.session.scalar(
        select(Member.points_awarded).where(Member.shift_id == shift_id, Member.user_id == user.id)
    )
