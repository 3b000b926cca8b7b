"""Builders shared by the patrol tests: a route and a shift through the services."""

from __future__ import annotations

from datetime import timedelta

from core.extensions import db
from core.models import utcnow
from plugins.patrol import services

NAMES = ("东大门", "3号院", "自行车棚", "北门岗亭")


def make_route(staff, org, names=NAMES):
    route = services.create_route(
        staff, org, name="夜间巡逻", checkpoints=[{"name": n} for n in names]
    )
    db.session.commit()
    return route


def make_shift(staff, org, route, team, *, starts_in=-10, minutes=120, points=20, grace=15):
    """A shift starting ``starts_in`` minutes from now (negative: on now)."""
    starts = utcnow().replace(microsecond=0) + timedelta(minutes=starts_in)
    shift = services.create_shift(
        staff,
        org,
        route_id=route.id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        team=[u.id for u in team],
        points=points,
        grace_minutes=grace,
    )
    db.session.commit()
    return shift


def tokens(route):
    return [services.checkpoint_token(c) for c in services.checkpoints_of(route.id)]
