from marshmallow import Schema, fields, validate

from core.api import StrictBool, id_field, text_field
from core.auth.schemas import PHONE
from core.models import LEVELS, Organization, Role, User


class OrgCreateSchema(Schema):
    name = text_field(Organization.name, min_length=1, required=True)
    level = fields.String(required=True, validate=validate.OneOf([lv.value for lv in LEVELS]))
    parent_id = id_field(load_default=None, allow_none=True)


class OrgSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


class MemberCreateSchema(Schema):
    phone = text_field(User.phone, required=True, validate=PHONE)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))


class MemberSchema(Schema):
    user_id = fields.Integer()
    org_id = fields.Integer()
    role = fields.String()
    name = fields.String(dump_only=True)
    phone = fields.String(dump_only=True)


class PluginStateSchema(Schema):
    name = fields.String()
    title = fields.String()
    enabled = fields.Boolean()
    source_org_id = fields.Integer(allow_none=True)


class PluginSwitchSchema(Schema):
    enabled = StrictBool(required=True)


class PluginListSchema(Schema):
    items = fields.List(fields.Nested(PluginStateSchema))
