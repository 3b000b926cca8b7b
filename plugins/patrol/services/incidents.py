"""Incidents a team reports during a shift (with an optional photo), and the
community staff's queue where they are resolved with a note."""

from __future__ import annotations

from sqlalchemy import select

from core import photos
from core.access import require_role, subtree_ids
from core.api import BadRequest, Conflict, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from core.plugins import require_enabled
from plugins.patrol.models import Checkpoint, Incident
from plugins.patrol.services.shifts import get_shift, is_member

# Photos are checked, shrunk and re-encoded by core (core.photos).
decode_photo = photos.from_base64
prepare_photo = photos.prepare


def report_incident(
    user: User,
    shift_id: int,
    *,
    kind: str,
    text: str,
    checkpoint_id: int | None = None,
    photo: bytes | None = None,
) -> Incident:
    """A team member reports something on the route; it goes to the staff queue
    of the shift's organization."""
    shift = get_shift(shift_id)
    require_enabled(shift.organization, "patrol")
    if not is_member(user, shift.id):
        raise NotFound("未找到该班次")
    if checkpoint_id is not None:
        checkpoint = db.session.get(Checkpoint, checkpoint_id)
        if checkpoint is None or checkpoint.route_id != shift.route_id:
            raise BadRequest("巡逻点不在本班次的路线上", fields={"checkpoint_id": ["不在本路线上"]})
    prepared = prepare_photo(photo) if photo else None
    incident = Incident(
        org_id=shift.org_id,
        shift_id=shift.id,
        checkpoint_id=checkpoint_id,
        user_id=user.id,
        kind=kind,
        text=text,
        photo=prepared,
        has_photo=prepared is not None,
        status="open",
    )
    db.session.add(incident)
    db.session.flush()
    audit("patrol.incident_reported", actor=user, org=shift.organization, obj=incident, kind=kind)
    return incident


def incidents_query(org: Organization, status: str | None = None):
    stmt = select(Incident).where(Incident.org_id.in_(subtree_ids(org)))
    return stmt.where(Incident.status == status) if status else stmt


def get_incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id) if isinstance(incident_id, int) else None
    if incident is None:
        raise NotFound("未找到该事件")
    return incident


def visible_incident(user: User, incident_id: int) -> Incident:
    """The reporter and staff over the organization see it; nobody else."""
    incident = get_incident(incident_id)
    org = db.session.get(Organization, incident.org_id)
    require_enabled(org, "patrol")
    if incident.user_id != user.id:
        require_role(user, org, Role.staff)
    return incident


def resolve_incident(actor: User, incident_id: int, *, note: str) -> Incident:
    """Staff close an incident with what was done; resolving twice is a 409."""
    incident = get_incident(incident_id)
    org = db.session.get(Organization, incident.org_id)
    require_enabled(org, "patrol")
    require_role(actor, org, Role.staff)
    if incident.status == "resolved":
        raise Conflict("该事件已处理", code="already_resolved")
    incident.status, incident.note = "resolved", note
    incident.resolved_by_id, incident.resolved_at = actor.id, utcnow()
    db.session.flush()
    audit("patrol.incident_resolved", actor=actor, org=org, obj=incident)
    return incident
