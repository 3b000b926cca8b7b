"""Marshmallow schemas of the 金豆 API (see API.md, "Points")."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import Moment, StrictInt, amount_field
from core.auth.schemas import PHONE

MAX_BEANS = 1_000_000  # one award, deposit or reward cost
MAX_STOCK = 100_000
MAX_QUANTITY = 100

KEY = fields.String(required=True, validate=validate.Length(min=1, max=100))


class WalletSchema(Schema):
    balance = fields.Integer()
    held = fields.Integer()


class TransferLineSchema(Schema):
    id = fields.Integer()
    amount = fields.Integer()
    reason = fields.String()
    at = fields.DateTime()
    status = fields.String()
    counterpart = fields.String()


class DepositSchema(Schema):
    amount = amount_field(maximum=MAX_BEANS * 100, required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))
    donor = fields.String(load_default="", validate=validate.Length(max=100))
    idempotency_key = KEY


class FundSchema(Schema):
    balance = fields.Integer()


class AwardCreateSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)
    amount = amount_field(maximum=MAX_BEANS, required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=100))
    idempotency_key = KEY


class AwardCreatedSchema(Schema):
    transfer_id = fields.Integer()


class RewardCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    cost = amount_field(maximum=MAX_BEANS, required=True)
    stock = StrictInt(required=True, validate=validate.Range(
        min=0, max=MAX_STOCK, error="必须是 0 到 {max} 之间的整数"))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    per_person_limit = amount_field(maximum=MAX_QUANTITY, load_default=None, allow_none=True)
    starts_at = Moment(load_default=None, allow_none=True)
    ends_at = Moment(load_default=None, allow_none=True)

    @validates_schema
    def window_in_order(self, data, **_kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("结束时间必须晚于开始时间", field_name="ends_at")


class RewardSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    cost = fields.Integer()
    stock = fields.Integer()
    per_person_limit = fields.Integer(allow_none=True)
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()


class RedemptionCreateSchema(Schema):
    quantity = amount_field(maximum=MAX_QUANTITY, required=True)
    idempotency_key = KEY


class RedemptionSchema(Schema):
    id = fields.Integer()
    reward_id = fields.Integer()
    reward_name = fields.Function(lambda r: r.reward.name)
    org_id = fields.Integer()
    user_id = fields.Integer()
    user_name = fields.Function(lambda r: r.user.name)
    quantity = fields.Integer()
    total = fields.Integer()
    status = fields.String()
    code = fields.String()
    created_at = fields.DateTime()


class RejectSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class StatusSchema(Schema):
    status = fields.String()


class QueueQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["pending", "approved", "rejected", "cancelled", "fulfilled"]))


class AwardSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    user_id = fields.Integer()
    user_name = fields.Function(lambda a: a.user.name)
    amount = fields.Integer()
    reason = fields.String()
    kind = fields.String()
    status = fields.String()
    transfer_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    reversed_at = fields.DateTime(allow_none=True)


class ReverseSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ReversedSchema(Schema):
    transfer_id = fields.Integer()
