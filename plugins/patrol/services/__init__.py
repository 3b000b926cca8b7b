"""治安巡逻 rules: plain functions, no request object, callable from tests and jobs.

Split by topic: ``routes`` (routes, ordered checkpoints, printed codes),
``shifts`` (scheduling, scanning, closing, announcing service) and
``incidents`` (reports with photos, the staff queue). Import from here.
"""

from plugins.patrol.services.incidents import (
    MAX_PHOTO_BYTES,
    decode_photo,
    get_incident,
    incidents_query,
    prepare_photo,
    report_incident,
    resolve_incident,
    visible_incident,
)
from plugins.patrol.services.routes import (
    add_checkpoint,
    checkpoint_token,
    checkpoints_of,
    create_route,
    get_route,
    move_checkpoint,
    routes_of,
    staff_route,
)
from plugins.patrol.services.shifts import (
    OPENS_BEFORE,
    CheckpointScan,
    Closing,
    announce_pending,
    awarded_to,
    close_shift,
    close_shifts,
    closing_of,
    create_shift,
    get_shift,
    is_member,
    may_manage,
    my_next_shifts,
    progress,
    scan_checkpoint,
    shifts_query,
    status_of,
    team_of,
    visible_shift,
)

__all__ = [
    "MAX_PHOTO_BYTES", "OPENS_BEFORE", "CheckpointScan", "Closing", "add_checkpoint",
    "announce_pending", "awarded_to", "checkpoint_token", "checkpoints_of", "close_shift",
    "close_shifts", "closing_of", "create_route", "create_shift", "decode_photo",
    "get_incident", "get_route", "get_shift", "incidents_query", "is_member", "may_manage",
    "move_checkpoint", "my_next_shifts", "prepare_photo", "progress", "report_incident",
    "resolve_incident", "routes_of", "scan_checkpoint", "shifts_query", "staff_route",
    "status_of", "team_of", "visible_incident", "visible_shift",
]
