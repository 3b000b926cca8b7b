"""Marshmallow schemas of the volunteering API."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import Moment, StrictBool, StrictInt, text_field
from core.models import utcnow
from plugins.volunteering.models import CATEGORIES, Activity, Attendance

_MAX_LENGTH = timedelta(days=7)
# What one attendance may earn stays within what one 金豆 award may pay
# (points' MAX_AWARD, 1,000,000): at most 10,000 + 1,000 × 168 h = 178,000.
MAX_POINTS = 10_000
MAX_POINTS_PER_HOUR = 1_000


def _up_to(maximum: int) -> validate.Range:
    return validate.Range(min=0, max=maximum, error="必须是 0 到 {max} 之间的整数")


class ActivityCreateSchema(Schema):
    title = text_field(Activity.title, min_length=1, required=True)
    category = text_field(
        Activity.category,
        load_default="其他",
        validate=validate.OneOf(CATEGORIES, error="请从列表中选择：" + "、".join(CATEGORIES)),
    )
    location = text_field(Activity.location, load_default="")
    description = text_field(5000, load_default="")  # a TEXT column: a sane bound
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    signup_deadline = Moment(load_default=None, allow_none=True)
    capacity = StrictInt(
        required=True,
        validate=validate.Range(min=1, max=10_000, error="必须是 1 到 {max} 之间的整数"),
    )
    points = StrictInt(load_default=0, validate=_up_to(MAX_POINTS))
    points_per_hour = StrictInt(load_default=0, validate=_up_to(MAX_POINTS_PER_HOUR))

    @validates_schema
    def _times(self, data, **_kwargs):
        errors = {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            if ends <= starts:
                errors["ends_at"] = ["结束时间必须晚于开始时间"]
            elif ends <= utcnow():
                errors["ends_at"] = ["活动已结束：结束时间必须在将来"]
            elif ends - starts > _MAX_LENGTH:
                errors["ends_at"] = ["一次活动最长 7 天"]
        deadline = data.get("signup_deadline")
        if deadline and ends and deadline > ends:
            errors["signup_deadline"] = ["报名截止时间不能晚于活动结束时间"]
        if errors:
            raise ValidationError(errors)


class SignupSchema(Schema):
    status = fields.String()
    activity_id = fields.Integer()
    position = fields.Integer(allow_none=True)


class ActivitySchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.String()
    title = fields.String()
    category = fields.String()
    location = fields.String()
    description = fields.String()
    starts_at = fields.DateTime(format="iso")
    ends_at = fields.DateTime(format="iso")
    signup_deadline = fields.DateTime(format="iso", allow_none=True)
    capacity = fields.Integer()
    points = fields.Integer()
    points_per_hour = fields.Integer()
    confirmed_count = fields.Integer()
    waitlist_count = fields.Integer()
    places_left = fields.Integer()
    my_signup = fields.Nested(SignupSchema, allow_none=True)
    status = fields.String()  # "open" or "cancelled"
    cancel_reason = fields.String()


class CancelActivitySchema(Schema):
    reason = text_field(Activity.cancel_reason, min_length=2, required=True)


class CancelledSchema(Schema):
    status = fields.String()


class CopyActivitySchema(Schema):
    starts_at = Moment(required=True)


class WalkInSchema(Schema):
    person_code = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class WalkInResultSchema(Schema):
    status = fields.String()
    user_id = fields.Integer()
    name = fields.String()
    checked_in_at = fields.DateTime(format="iso")


class CheckinCodeQuerySchema(Schema):
    kind = fields.String(load_default="in", validate=validate.OneOf(("in", "out")))


class CheckinCodeSchema(Schema):
    token = fields.String()
    url = fields.String()
    expires_at = fields.DateTime(format="iso")


class PersonScanSchema(Schema):
    """Staff scanned a volunteer's own code (``token``) or typed its ``code``."""

    kind = fields.String(required=True, validate=validate.OneOf(("in", "out")))
    token = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))

    @validates_schema
    def _one_of(self, data, **_kwargs):
        if not data.get("token") and not data.get("code"):
            raise ValidationError({"token": ["请扫描个人码或输入短码"]})


class BackfillSchema(Schema):
    phone = fields.String(required=True, validate=validate.Regexp(r"^1\d{10}$", error="手机号无效"))
    checked_in_at = Moment(required=True)
    checked_out_at = Moment(required=True)
    reason = text_field(Attendance.reason, min_length=2, required=True)

    @validates_schema
    def _order(self, data, **_kwargs):
        start, end = data.get("checked_in_at"), data.get("checked_out_at")
        if start and end and end <= start:
            raise ValidationError({"checked_out_at": ["签退时间必须晚于签到时间"]})


class AttendanceSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    checked_in_at = fields.DateTime(format="iso", allow_none=True)
    checked_out_at = fields.DateTime(format="iso", allow_none=True)
    minutes = fields.Integer()
    verified = fields.Boolean()
    points = fields.Integer()


class SettingsSchema(Schema):
    honour_hours_earn_points = StrictBool(required=True)
