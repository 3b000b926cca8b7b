"""``jindou casework escalate``: overdue cases climb one level, once per overdue period.

Set-based and restartable: each batch is one select of overdue cases, one
conditional UPDATE per (handler → parent) group, one insert of timeline rows
and one of audit rows, then a commit. A climbed case gets a due time counted
from ``now``, so a second run at the same ``now`` finds nothing to do, and a
later run after the new due time passes climbs it again. The district is the top.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import aliased

from core.extensions import db
from core.ledger import atomic
from core.models import AuditLog, Organization
from core.plugins import orgs_where_enabled
from plugins.casework.models import LIVE, Case, Event
from plugins.casework.services.cases import due_for

BATCH = 500


def _overdue_batch(now: datetime, after_id: int) -> list[tuple[int, int, int]]:
    handler = aliased(Organization)
    return db.session.execute(
        select(Case.id, Case.handler_org_id, handler.parent_id)
        .join(handler, handler.id == Case.handler_org_id)
        .where(
            Case.status.in_(LIVE),
            Case.due_at <= now,
            handler.parent_id.is_not(None),
            Case.org_id.in_(orgs_where_enabled("casework")),
            Case.id > after_id,
        )
        .order_by(Case.id)
        .limit(BATCH)
    ).all()


def escalate_overdue(now: datetime) -> int:
    """Climb every overdue open or accepted case one level; answers how many climbed."""
    climbed, after_id, dues = 0, 0, {}
    while True:
        count, after_id = atomic(lambda last=after_id: _climb_batch(now, last, dues))
        climbed += count
        if after_id is None:
            return climbed


def _climb_batch(now: datetime, after_id: int, dues: dict) -> tuple[int, int | None]:
    """One batch in one write transaction: (how many climbed, the last id seen or None)."""
    rows = _overdue_batch(now, after_id)
    if not rows:
        return 0, None
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for case_id, handler_id, parent_id in rows:
        groups[(handler_id, parent_id)].append(case_id)
    moved: list[tuple[int, int, int]] = []
    for (handler_id, parent_id), ids in groups.items():
        if parent_id not in dues:
            dues[parent_id] = due_for(db.session.get(Organization, parent_id), now)
        # The WHERE repeats the test: a case accepted, resolved or moved
        # meanwhile (or by a concurrent run) is left alone.
        result = db.session.execute(
            update(Case)
            .where(
                Case.id.in_(ids),
                Case.handler_org_id == handler_id,
                Case.status.in_(LIVE),
                Case.due_at <= now,
            )
            .values(
                handler_org_id=parent_id,
                status="open",
                due_at=dues[parent_id],
                overdue_climbs=Case.overdue_climbs + 1,
            )
            .returning(Case.id)
            .execution_options(synchronize_session=False)
        )
        moved += [(case_id, handler_id, parent_id) for case_id in result.scalars()]
    if moved:
        db.session.execute(
            insert(Event),
            [
                {
                    "case_id": c,
                    "at": now,
                    "action": "escalated",
                    "org_id": p,
                    "user_id": None,
                    "note": "超过办理时限，自动上报上级",
                }
                for c, _, p in moved
            ],
        )
        db.session.execute(
            insert(AuditLog),
            [
                {
                    "at": now,
                    "actor_id": None,
                    "org_id": h,
                    "action": "casework.escalated",
                    "object_type": "Case",
                    "object_id": str(c),
                    "details": {"to_org_id": p, "overdue": True},
                }
                for c, h, p in moved
            ],
        )
    return len(moved), rows[-1][0]
