"""Volunteering business rules: plain functions, no request object.

Split by topic: ``activities`` (create, list, sign-up, cancel, waitlist),
``attendance`` (scans, person scans, back-fill, closing, announcing service),
``manage`` (staff edit, cancel, copy, walk-ins, roster), ``records`` (service record, stars, export rows, month summary) and
``settings``. Import from here: ``services.sign_up(...)``.
"""

from plugins.volunteering.services.activities import (
    ACTIVE,
    activities_query,
    cancel_signup,
    counts,
    create_activity,
    get_activity,
    keeping_loaded_state,
    sign_up,
    signup_of,
    visible_activity,
    waitlist_position,
)
from plugins.volunteering.services.attendance import (
    CHECKIN_OPENS_BEFORE,
    Scan,
    announce_service,
    attendance_list,
    attendance_of,
    backfill,
    check_in,
    check_out,
    close_attendance,
    grace,
    points_for,
    presence,
    scan,
    service_minutes,
    short_code_candidates,
    staff_scan,
    user_by_phone,
)
from plugins.volunteering.services.manage import (
    EDITABLE,
    ROSTER_PAGE,
    cancel_activity,
    copy_activity,
    current_fields,
    refuse_cancelled,
    roster,
    update_activity,
    walk_in,
)
from plugins.volunteering.services.records import (
    EXPORT_HEADER,
    export_rows,
    format_minutes,
    mask_phone,
    month_summary,
    service_record,
    service_rows,
    star_level,
)
from plugins.volunteering.services.settings import (
    honour_hours_earn_points,
    set_honour_hours_earn_points,
)

__all__ = [
    "ACTIVE", "CHECKIN_OPENS_BEFORE", "EDITABLE", "EXPORT_HEADER", "ROSTER_PAGE", "Scan",
    "activities_query", "cancel_activity", "copy_activity", "current_fields",
    "refuse_cancelled", "roster", "update_activity", "walk_in",
    "announce_service", "attendance_list", "attendance_of", "backfill", "cancel_signup",
    "check_in", "check_out", "close_attendance", "counts", "create_activity", "export_rows",
    "format_minutes", "get_activity", "grace", "honour_hours_earn_points",
    "keeping_loaded_state", "mask_phone", "month_summary", "points_for", "presence", "scan",
    "service_minutes", "service_record", "service_rows", "set_honour_hours_earn_points",
    "short_code_candidates", "sign_up", "signup_of", "staff_scan", "star_level",
    "user_by_phone", "visible_activity", "waitlist_position",
]
