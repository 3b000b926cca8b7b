"""Statistics over a subtree and a date range, the monthly report, the public board."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from core.access import subtree_ids
from core.extensions import db
from core.models import LEVELS, Organization
from plugins.casework.models import CATEGORIES, Case


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count_if(condition):
    return func.coalesce(func.sum(when((condition, 1), else_=0)), 0)


def _scope(org: Organization, start: datetime, end: datetime) -> tuple:
    return (Case.org_id.in_(subtree_ids(org)), Case.created_at >= start, Case.created_at < end)


def _totals(scope: tuple) -> tuple[int, ...]:
    """received, accepted, resolved, rated, satisfied, on time: one grouped read."""
    row = db.session.execute(
        select(
            func.count(Case.id),
            _count_if(Case.accepted_at.is_not(None)),
            _count_if(Case.resolved_at.is_not(None)),
            _count_if(Case.rated_at.is_not(None)),
            _count_if(Case.satisfied.is_(True)),
            _count_if(Case.on_time.is_(True)),
        ).where(*scope)
    ).one()
    return tuple(int(v) for v in row)


def stats(org: Organization, start: datetime, end: datetime) -> dict:
    """Cases raised in ``org``'s subtree in ``[start, end)``, counted in SQL."""
    scope = _scope(org, start, end)
    received, accepted, resolved, rated, satisfied, on_time = _totals(scope)
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_category.update(
        db.session.execute(
            select(Case.category, func.count(Case.id)).where(*scope).group_by(Case.category)
        ).all()
    )
    handler = aliased(Organization)
    by_level = dict.fromkeys((str(level) for level in LEVELS), 0)
    by_level.update(
        db.session.execute(
            select(handler.level, func.count(Case.id))
            .join(handler, handler.id == Case.handler_org_id)
            .where(*scope)
            .group_by(handler.level)
        ).all()
    )
    return {
        "received": received,
        "accepted": accepted,
        "resolved": resolved,
        "rated": rated,
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, rated),
        "on_time_rate": _rate(on_time, resolved),
        "by_category": by_category,
        "by_level": by_level,
    }


def stats_by_child(org: Organization, start: datetime, end: datetime) -> list[dict]:
    """One level of the tree: the counts of ``org``'s subtree split by the child
    under which each case's origin falls (path prefix), ``org`` itself first
    (``id`` None) when cases were raised there. Two grouped reads: per origin
    organization, then those rows folded onto the children."""
    per_org = (
        select(
            Case.org_id.label("org_id"),
            func.count(Case.id).label("received"),
            _count_if(Case.accepted_at.is_not(None)).label("accepted"),
            _count_if(Case.resolved_at.is_not(None)).label("resolved"),
            _count_if(Case.on_time.is_(True)).label("on_time"),
        )
        .where(*_scope(org, start, end))
        .group_by(Case.org_id)
        .subquery()
    )
    origin, child = aliased(Organization), aliased(Organization)
    rows = db.session.execute(
        select(
            child.id,
            child.name,
            func.sum(per_org.c.received),
            func.sum(per_org.c.accepted),
            func.sum(per_org.c.resolved),
            func.sum(per_org.c.on_time),
        )
        .select_from(per_org)
        .join(origin, origin.id == per_org.c.org_id)
        .outerjoin(child, (child.parent_id == org.id) & origin.path.startswith(child.path))
        .group_by(child.id, child.name)
    ).all()
    result = [
        {
            "id": child_id,
            "name": name if child_id is not None else f"{org.name}（本级）",
            "received": int(received),
            "accepted": int(accepted),
            "resolved": int(resolved),
            "on_time_rate": _rate(int(on_time), int(resolved)),
        }
        for child_id, name, received, accepted, resolved, on_time in rows
    ]
    return sorted(result, key=lambda r: (r["id"] is not None, r["name"], r["id"] or 0))


def report_rows(org: Organization, start: datetime, end: datetime) -> list[tuple[str, object]]:
    """The monthly report's rows (org_report): one grouped read."""
    received, accepted, resolved, rated, satisfied, on_time = _totals(_scope(org, start, end))

    def pct(value):
        return "—" if value is None else f"{value * 100:.1f}%"

    return [
        ("收到诉求", received),
        ("已受理", accepted),
        ("已办结", resolved),
        ("按时办结率", pct(_rate(on_time, resolved))),
        ("已评价", rated),
        ("满意率", pct(_rate(satisfied, rated))),
    ]


def board(org: Organization, limit: int = 50) -> list[dict]:
    """The 公示 board: recent cases of the subtree, without names, phones or
    the resident's own words about the place (only the origin organization)."""
    origin = aliased(Organization)
    rows = db.session.execute(
        select(Case.id, Case.category, Case.status, Case.created_at, Case.resolved_at, origin.name)
        .join(origin, origin.id == Case.org_id)
        .where(Case.org_id.in_(subtree_ids(org)))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": r[0],
            "category": r[1],
            "status": r[2],
            "created_at": r[3],
            "resolved_at": r[4],
            "place": r[5],
        }
        for r in rows
    ]
