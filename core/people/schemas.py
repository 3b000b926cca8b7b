from datetime import date

from marshmallow import Schema, ValidationError, fields, validate

from core.api import StrictBool, text_field
from core.auth.schemas import PHONE
from core.models import User
from core.people.services import HARDSHIP_REASONS


class PlainDate(fields.Date):
    """``YYYY-MM-DD`` only (no datetimes, no other spellings)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) != 10 or not value.isascii():
            raise ValidationError("日期格式应为 YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError as err:
            raise ValidationError("日期格式应为 YYYY-MM-DD") from err


REASON = validate.OneOf(HARDSHIP_REASONS, error="应为 低保、特困 或 分散供养")


class ResidentCreateSchema(Schema):
    name = text_field(User.name, min_length=1, required=True)
    birth_date = PlainDate(required=True)
    phone = text_field(User.phone, load_default=None, allow_none=True, validate=PHONE)
    hardship = StrictBool(load_default=None, allow_none=True)
    hardship_reason = fields.String(load_default=None, allow_none=True, validate=REASON)


class ProfileSchema(Schema):
    name = text_field(User.name, min_length=1)
    birth_date = PlainDate()
    hardship = StrictBool()
    hardship_reason = fields.String(allow_none=True, validate=REASON)


class RelativeCreateSchema(Schema):
    phone = text_field(User.phone, required=True, validate=PHONE)


class RelativeSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()


class PersonSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    birth_date = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    hardship = fields.Boolean()
    hardship_reason = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)
    relatives = fields.List(fields.Nested(RelativeSchema))


class ResidentSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()
    birth_date = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    hardship = fields.Boolean()
    hardship_reason = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)


class PersonCodeSchema(Schema):
    token = fields.String()
    url = fields.String()
    short_code = fields.String()
    expires_at = fields.String()


class CardSchema(Schema):
    token = fields.String()
    url = fields.String()
    short_code = fields.String()
