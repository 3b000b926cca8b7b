from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import text_field
from core.models import User
from core.passwords import MAX_LENGTH, password_problem

PHONE = validate.Regexp(r"^1\d{10}$", error="请输入 11 位手机号（以 1 开头）")


def _password_field(**kwargs):
    return fields.String(
        required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH), **kwargs
    )


class _NewPassword(Schema):
    """Checks ``password`` against the rule (core.passwords), with ``phone`` if given."""

    @validates_schema
    def _password_rule(self, data, **kwargs):
        if "password" in data:
            problem = password_problem(data["password"], data.get("phone"))
            if problem:
                raise ValidationError(problem, field_name="password")


class RegisterSchema(_NewPassword):
    phone = text_field(User.phone, required=True, validate=PHONE)
    name = text_field(User.name, min_length=1, required=True)
    password = _password_field()


class LoginSchema(Schema):
    phone = text_field(20, required=True)
    password = _password_field()


class ChangePasswordSchema(_NewPassword):
    old_password = _password_field()
    password = _password_field()


class ResetPasswordSchema(_NewPassword):
    phone = text_field(20, required=True)
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Regexp(r"^\d{6}$", error="重置码为 6 位数字"),
    )
    password = _password_field()


class ResetCodeSchema(Schema):
    code = fields.String()
    expires_at = fields.DateTime()


class UserSchema(Schema):
    id = fields.Integer()
    phone = fields.String()
    name = fields.String()


class TokenSchema(Schema):
    token = fields.String()
    user = fields.Nested(UserSchema)


class MembershipSchema(Schema):
    org_id = fields.Integer()
    org_name = fields.String()
    role = fields.String()


class MeSchema(UserSchema):
    memberships = fields.List(fields.Nested(MembershipSchema))
