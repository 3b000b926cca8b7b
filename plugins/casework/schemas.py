"""群众诉求 API schemas (marshmallow)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from core.api import StrictBool, id_field, text_field
from plugins.casework.models import CATEGORIES, Case, Event


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("不能为空")


MAX_PHOTO_CHARS = 2 * 1024 * 1024 * 4 // 3 + 100  # 2 MB as base64, with a data: prefix


class CaseCreateSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    text = text_field(Case.text, min_length=1, required=True, validate=not_blank)
    location = text_field(Case.location, allow_none=True)
    photo = fields.String(allow_none=True, validate=validate.Length(max=MAX_PHOTO_CHARS))
    user_id = id_field(allow_none=True)


class EscalateSchema(Schema):
    reason = text_field(Event.note, min_length=1, required=True, validate=not_blank)


class ResolveSchema(Schema):
    note = text_field(Case.resolution, min_length=1, required=True, validate=not_blank)


class RateSchema(Schema):
    satisfied = StrictBool(required=True)
    comment = text_field(Case.rating_comment, allow_none=True)


class EventSchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    org_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class CaseSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    org_id = fields.Integer()
    handler_org_id = fields.Integer()
    due_at = fields.DateTime()
    user_id = fields.Integer()
    category = fields.String()
    text = fields.String()
    location = fields.String(allow_none=True)
    has_photo = fields.Function(lambda c: c.photo_type is not None)
    created_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    rated_at = fields.DateTime(allow_none=True)
    satisfied = fields.Boolean(allow_none=True)
    rating_comment = fields.String(allow_none=True)


class CaseDetailSchema(CaseSchema):
    timeline = fields.List(fields.Nested(EventSchema))


class CountsSchema(Schema):
    received = fields.Integer()
    accepted = fields.Integer()
    resolved = fields.Integer()
    rated = fields.Integer()
    satisfied = fields.Integer()
    satisfaction_rate = fields.Float(allow_none=True)
    on_time_rate = fields.Float(allow_none=True)
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
