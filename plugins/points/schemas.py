"""Marshmallow schemas of the 金豆 API (see API.md, "Points")."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import Moment, StrictInt, amount_field, text_field
from core.auth.schemas import PHONE
from plugins.points.models import Deposit, Redemption, Reward

MAX_BEANS = 1_000_000  # one award, deposit or reward cost
MAX_STOCK = 100_000
MAX_QUANTITY = 100

# Keys are stored scoped, as ``points:award:<actor>:<key>[:<user>]`` (200 characters):
# 100 leaves room for the prefix.
KEY_LENGTH = 100
# Award reasons become ledger reasons with a prefix (``冲正：…``, 200 characters).
REASON_LENGTH = 100
KEY = text_field(KEY_LENGTH, min_length=1, required=True)


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
    note = text_field(Deposit.note, load_default="")
    donor = text_field(Deposit.donor, load_default="")
    idempotency_key = KEY


class FundSchema(Schema):
    balance = fields.Integer()


class AwardCreateSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)
    amount = amount_field(maximum=MAX_BEANS, required=True)
    reason = text_field(REASON_LENGTH, min_length=1, required=True)
    idempotency_key = KEY


class AwardBatchSchema(Schema):
    """The 批量发放 form's fields besides its lines (parsed by the page)."""

    reason = text_field(REASON_LENGTH, min_length=1, required=True)
    idempotency_key = KEY


class AwardCreatedSchema(Schema):
    transfer_id = fields.Integer()


class RewardCreateSchema(Schema):
    name = text_field(Reward.name, min_length=1, required=True)
    cost = amount_field(maximum=MAX_BEANS, required=True)
    stock = StrictInt(
        required=True,
        validate=validate.Range(min=0, max=MAX_STOCK, error="必须是 0 到 {max} 之间的整数"),
    )
    description = text_field(2000, load_default="")  # a TEXT column: a sane bound
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
    reason = text_field(Redemption.reject_reason, load_default="")


class StatusSchema(Schema):
    status = fields.String()


class QueueQuerySchema(Schema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(["pending", "approved", "rejected", "cancelled", "fulfilled"]),
    )


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
    reason = text_field(REASON_LENGTH, min_length=1, required=True)


class ReversedSchema(Schema):
    transfer_id = fields.Integer()
