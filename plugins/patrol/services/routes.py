"""Routes and their ordered checkpoints, and each checkpoint's printed code."""

from __future__ import annotations

from sqlalchemy import func, select

from core import qr
from core.access import require_role
from core.api import NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User
from core.plugins import require_enabled
from plugins.patrol.models import Checkpoint, Route


def checkpoint_token(checkpoint: Checkpoint) -> str:
    """The static token printed at a checkpoint; it counts only inside a shift (see scans)."""
    return qr.sign("patrol", {"c": checkpoint.id})


def checkpoints_of(route_id: int) -> list[Checkpoint]:
    return list(
        db.session.scalars(
            select(Checkpoint).where(Checkpoint.route_id == route_id).order_by(Checkpoint.position)
        )
    )


def get_route(route_id: int) -> Route:
    route = db.session.get(Route, route_id) if isinstance(route_id, int) else None
    if route is None:
        raise NotFound("未找到该巡逻路线")
    return route


def staff_route(actor: User, route_id: int) -> Route:
    route = get_route(route_id)
    require_enabled(route.organization, "patrol")
    require_role(actor, route.organization, Role.staff)
    return route


def routes_of(org: Organization) -> list[Route]:
    return list(db.session.scalars(select(Route).where(Route.org_id == org.id).order_by(Route.id)))


def _append(route: Route, names: list[dict]) -> list[Checkpoint]:
    last = (
        db.session.scalar(
            select(func.max(Checkpoint.position)).where(Checkpoint.route_id == route.id)
        )
        or 0
    )
    added = []
    for n, point in enumerate(names, start=last + 1):
        checkpoint = Checkpoint(
            org_id=route.org_id,
            route_id=route.id,
            position=n,
            name=point["name"],
            lat=point.get("lat"),
            lng=point.get("lng"),
        )
        db.session.add(checkpoint)
        added.append(checkpoint)
    db.session.flush()
    return added


def create_route(actor: User, org: Organization, *, name: str, checkpoints: list[dict]) -> Route:
    """Staff of ``org`` lay out a route: its checkpoints in walking order."""
    require_enabled(org, "patrol")
    require_role(actor, org, Role.staff)
    route = Route(org_id=org.id, name=name, created_by_id=actor.id)
    db.session.add(route)
    db.session.flush()
    _append(route, checkpoints)
    audit("patrol.route_created", actor=actor, org=org, obj=route, checkpoints=len(checkpoints))
    return route


def add_checkpoint(actor: User, route_id: int, *, name: str, lat=None, lng=None) -> Checkpoint:
    """Append a checkpoint at the end of the walk (staff)."""
    route = staff_route(actor, route_id)
    return _append(route, [{"name": name, "lat": lat, "lng": lng}])[0]


def move_checkpoint(actor: User, checkpoint_id: int, step: int) -> None:
    """Swap a checkpoint with its neighbour (step -1: earlier, +1: later)."""
    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise NotFound("未找到该巡逻点")
    staff_route(actor, checkpoint.route_id)
    points = checkpoints_of(checkpoint.route_id)
    at = points.index(checkpoint)
    other_at = at + (1 if step > 0 else -1)
    if not 0 <= other_at < len(points):
        return
    other = points[other_at]
    # Through a free position: (route_id, position) is unique at every step.
    first, second = checkpoint.position, other.position
    checkpoint.position = -1
    db.session.flush()
    other.position = first
    db.session.flush()
    checkpoint.position = second
    db.session.flush()
