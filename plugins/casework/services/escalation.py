"""``jindou casework escalate``: overdue cases climb one level, once per overdue period.

Set-based and restartable, in keyset batches of live cases (by id), each one
write transaction of a fixed number of statements whatever its size:

1. the batch: overdue live cases, their handler and the handler's parent;
2. the time limits at the parents not seen yet this run (one settings query);
3. one UPDATE … FROM the handler moving the batch (handler → parent, open,
   new due time), guarded by the state it was read in, RETURNING what moved;
4. one INSERT … SELECT of the timeline rows and one insert of the audit rows.

A climbed case gets a due time counted from ``now``, so a rerun at the same
``now`` (after a crash, or a second run) finds nothing to do for it, and a
later run after the new due time passes climbs it again. The district is the top.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case as when
from sqlalchemy import insert, literal, null, select, update
from sqlalchemy.orm import aliased

from core import settings
from core.extensions import db
from core.ledger import atomic
from core.models import AuditLog, Organization, Timestamp
from core.models import OrgSetting as Setting
from core.plugins import orgs_where_enabled
from plugins.casework.models import LIVE, Case, Event

BATCH = 1000
NOTE = "超过办理时限，自动上报上级"

Progress = Callable[[int, int], None]


def escalate_overdue(now: datetime, progress: Progress | None = None) -> int:
    """Climb every overdue open or accepted case one level; answers how many climbed.

    ``progress(climbed_so_far, last_case_id)`` is called after each committed batch."""
    climbed, after_id = 0, 0
    dues: dict[int, datetime] = {}  # parent id -> its new due time (``now`` is fixed)
    while True:
        count, last = atomic(lambda after=after_id: _climb_batch(now, after, dues))
        if last is None:
            return climbed
        climbed, after_id = climbed + count, last
        if progress is not None:
            progress(climbed, after_id)


def _overdue_batch(now: datetime, after_id: int) -> list:
    handler, parent = aliased(Organization), aliased(Organization)
    return db.session.execute(
        select(Case.id, Case.handler_org_id, parent.id, parent.level, parent.path)
        .join(handler, handler.id == Case.handler_org_id)
        .join(parent, parent.id == handler.parent_id)
        .where(
            Case.status.in_(LIVE),
            Case.due_at <= now,
            Case.id > after_id,
            Case.org_id.in_(orgs_where_enabled("casework")),
        )
        .order_by(Case.id)
        .limit(BATCH)
    ).all()


def _learn_dues(now: datetime, parents: dict[int, tuple[str, str]], dues: dict) -> None:
    """The due time at each new parent: its level's limit as in force there
    (nearest ancestor-or-self setting, else the default), one query for all."""
    new = {pid: lp for pid, lp in parents.items() if pid not in dues}
    if not new:
        return
    chains = {
        pid: [int(p) for p in path.strip("/").split("/") if p] for pid, (_, path) in new.items()
    }
    names = {f"hours_{level}" for level, _ in new.values()}
    rows = db.session.execute(
        select(Setting.org_id, Setting.name, Setting.value).where(
            Setting.plugin == "casework",
            Setting.name.in_(names),
            Setting.org_id.in_({o for chain in chains.values() for o in chain}),
        )
    ).all()
    values = {(org_id, name): value for org_id, name, value in rows}
    declared = settings.specs("casework")
    for pid, (level, _) in new.items():
        name = f"hours_{level}"
        hours = declared[name].default
        for org_id in chains[pid]:  # root first: the deepest setting wins
            hours = values.get((org_id, name), hours)
        dues[pid] = now + timedelta(hours=hours)


def _climb_batch(now: datetime, after_id: int, dues: dict) -> tuple[int, int | None]:
    """One batch in one write transaction: (how many climbed, the last id seen or None)."""
    rows = _overdue_batch(now, after_id)
    if not rows:
        return 0, None
    _learn_dues(now, {r[2]: (r[3], r[4]) for r in rows}, dues)
    by_due: dict[datetime, list[int]] = {}
    for parent_id in {r[2] for r in rows}:
        by_due.setdefault(dues[parent_id], []).append(parent_id)
    handler = aliased(Organization)
    # UPDATE … FROM the handler: the parent becomes the handler, with the due
    # time at its level (a CASE over the few distinct due times). The WHERE
    # repeats the test: a case accepted, resolved or moved meanwhile (or by a
    # concurrent run) is left alone.
    moved = db.session.execute(
        update(Case)
        .where(
            handler.id == Case.handler_org_id,
            handler.parent_id.in_(list({r[2] for r in rows})),
            Case.id.in_([r[0] for r in rows]),
            Case.status.in_(LIVE),
            Case.due_at <= now,
        )
        .values(
            handler_org_id=handler.parent_id,
            due_at=when(
                *(
                    (handler.parent_id.in_(parents), literal(due, Timestamp))
                    for due, parents in by_due.items()
                )
            ),
            status="open",
            overdue_climbs=Case.overdue_climbs + 1,
        )
        .returning(Case.id, Case.handler_org_id)
        .execution_options(synchronize_session=False)
    ).all()
    if moved:
        handler_of = {r[0]: r[1] for r in rows}
        ids = [case_id for case_id, _ in moved]
        db.session.execute(
            insert(Event).from_select(
                ["case_id", "at", "action", "org_id", "user_id", "note"],
                select(
                    Case.id,
                    literal(now, Timestamp),
                    literal("escalated"),
                    Case.handler_org_id,
                    null(),
                    literal(NOTE),
                ).where(Case.id.in_(ids)),
            )
        )
        db.session.execute(
            insert(AuditLog),
            [
                {
                    "at": now,
                    "actor_id": None,
                    "org_id": handler_of[case_id],
                    "action": "casework.escalated",
                    "object_type": "Case",
                    "object_id": str(case_id),
                    "details": {"to_org_id": parent_id, "overdue": True},
                }
                for case_id, parent_id in moved
            ],
        )
    return len(moved), rows[-1][0]
