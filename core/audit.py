"""The audit trail: every action on 金豆, vouchers, meals and enablement."""

from __future__ import annotations

from flask import g, has_request_context, request

from core.extensions import db
from core.models import AuditLog, Organization, User


def audit(
    action: str,
    *,
    actor: User | None,
    org: Organization | None = None,
    obj: object | None = None,
    **details,
) -> AuditLog:
    """Add an audit row to the current transaction (it commits with the change)."""
    row = AuditLog(
        action=action,
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        org_id=org.id if org is not None else None,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(getattr(obj, "id", "")) if obj is not None else None,
        details=details,
    )
    if has_request_context():
        row.request_id = g.get("request_id")
        row.ip = request.remote_addr
    db.session.add(row)
    return row
