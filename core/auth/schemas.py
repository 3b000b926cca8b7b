from marshmallow import Schema, fields, validate

PHONE = validate.Regexp(r"^1\d{10}$", error="请输入 11 位手机号（以 1 开头）")


class RegisterSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=8, max=128, error="密码至少 8 位"))


class LoginSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=20))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


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
