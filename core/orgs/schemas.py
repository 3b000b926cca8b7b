from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from core.api import StrictBool, id_field, text_field
from core.auth.schemas import PHONE
from core.models import CORE_ROLES, LEVELS, Organization, User


class OrgCreateSchema(Schema):
    name = text_field(Organization.name, min_length=1, required=True)
    level = fields.String(required=True, validate=validate.OneOf([lv.value for lv in LEVELS]))
    parent_id = id_field(load_default=None, allow_none=True)


class OrgSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


def known_role(value: str) -> None:
    """A core role or a loaded plugin's ``"<plugin>.<name>"``."""
    if (
        value not in CORE_ROLES
        and value not in current_app.extensions["jindou_plugins"].role_titles
    ):
        raise ValidationError("没有这个角色")


class MemberCreateSchema(Schema):
    phone = text_field(User.phone, required=True, validate=PHONE)
    role = fields.String(required=True, validate=known_role)


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


class SettingValuesSchema(Schema):
    """``{name: value}``: the plugin's declared settings (bool, int or str)."""

    class Meta:
        unknown = INCLUDE


class OrgSettingsSchema(Schema):
    settings = fields.Dict(keys=fields.String())
    sources = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))


class JoinRequestSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    user_id = fields.Integer()
    org_id = fields.Integer()
    created_at = fields.DateTime()


class PendingJoinSchema(JoinRequestSchema):
    name = fields.String()
    phone = fields.String()
    org_name = fields.String()


class JoinChoiceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()
