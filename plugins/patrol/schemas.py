"""治安巡逻 API schemas (marshmallow)."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import Moment, StrictInt, id_field, text_field
from plugins.patrol.models import INCIDENT_KINDS, Checkpoint, Incident, Route

MAX_POINTS = 10_000
MAX_SHIFT = timedelta(hours=24)


class CheckpointInSchema(Schema):
    name = text_field(Checkpoint.name, min_length=1, required=True)
    lat = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=-90, max=90),
    )
    lng = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=-180, max=180),
    )


class RouteCreateSchema(Schema):
    name = text_field(Route.name, min_length=1, required=True)
    checkpoints = fields.List(
        fields.Nested(CheckpointInSchema),
        required=True,
        validate=validate.Length(min=1, max=100, error="巡逻点须为 1 到 100 个"),
    )


class CheckpointOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    token = fields.String()
    url = fields.String()


class RouteSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    checkpoints = fields.List(fields.Nested(CheckpointOutSchema))


class ShiftCreateSchema(Schema):
    route_id = id_field(required=True)
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    team = fields.List(
        id_field(),
        required=True,
        validate=validate.Length(min=1, max=50, error="队员须为 1 到 50 人"),
    )
    points = StrictInt(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_POINTS, error="必须是 0 到 {max} 之间的整数"),
    )
    grace_minutes = StrictInt(
        load_default=15,
        validate=validate.Range(min=0, max=240, error="必须是 0 到 {max} 之间的整数"),
    )

    @validates_schema
    def _window(self, data, **_kwargs):
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            if ends <= starts:
                raise ValidationError({"ends_at": ["结束时间必须晚于开始时间"]})
            if ends - starts > MAX_SHIFT:
                raise ValidationError({"ends_at": ["一个班次最长 24 小时"]})
            if ends - starts < timedelta(minutes=1):
                raise ValidationError({"ends_at": ["一个班次至少 1 分钟"]})
        team = data.get("team") or []
        if len(set(team)) != len(team):
            raise ValidationError({"team": ["队员重复"]})


class TeamMemberSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()


class ShiftCheckpointSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    scanned_at = fields.DateTime(format="iso", allow_none=True)
    user_id = fields.Integer(allow_none=True)


class ShiftSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    route_id = fields.Integer()
    route_name = fields.String()
    starts_at = fields.DateTime(format="iso")
    ends_at = fields.DateTime(format="iso")
    grace_minutes = fields.Integer()
    points = fields.Integer()
    minutes = fields.Integer()
    status = fields.String()
    team = fields.List(fields.Nested(TeamMemberSchema))
    checkpoints = fields.List(fields.Nested(ShiftCheckpointSchema))


class ShiftListQuerySchema(Schema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(("scheduled", "on", "completed", "incomplete"), error="状态无效"),
    )


class ClosingSchema(Schema):
    status = fields.String()
    missed = fields.List(fields.Integer())
    minutes = fields.Integer()


class IncidentCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(INCIDENT_KINDS, error="类别无效"))
    text = text_field(2000, min_length=1, required=True)
    checkpoint_id = id_field(load_default=None, allow_none=True)
    # base64; 2 MB of photo is about 2.8 MB of text (the byte limit is checked decoded)
    photo = fields.String(load_default=None, allow_none=True)


class IncidentSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    shift_id = fields.Integer()
    checkpoint_id = fields.Integer(allow_none=True)
    user_id = fields.Integer()
    kind = fields.String()
    text = fields.String()
    has_photo = fields.Boolean()
    photo_url = fields.String(allow_none=True)
    status = fields.String()
    note = fields.String()
    created_at = fields.DateTime(format="iso")
    resolved_at = fields.DateTime(format="iso", allow_none=True)


class IncidentListQuerySchema(Schema):
    status = fields.String(
        load_default=None, validate=validate.OneOf(("open", "resolved"), error="状态无效")
    )


class ResolveSchema(Schema):
    note = text_field(Incident.note, min_length=1, required=True)
