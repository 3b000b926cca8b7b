"""居家养老服务券 API schemas (API.md "Home-care vouchers")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import StrictBool, StrictInt, amount_field, id_field, text_field
from core.auth.schemas import PHONE
from plugins.elder_vouchers.models import EXPIRIES, Programme, Provider, Service, Visit

MAX_FEN = 100_000_000  # ¥1,000,000: one deposit
MONTH = fields.String(
    required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="应为 YYYY-MM")
)


class ProgrammeCreateSchema(Schema):
    name = text_field(Programme.name, min_length=1, required=True)
    monthly_amount = amount_field(maximum=1_000_000, required=True)
    min_age = StrictInt(load_default=0, validate=validate.Range(0, 120))
    hardship_only = StrictBool(load_default=False)
    expiry = fields.String(load_default="month_end", validate=validate.OneOf(EXPIRIES))


class ProgrammeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    org_id = fields.Integer()
    monthly_amount = fields.Integer()
    min_age = fields.Integer()
    hardship_only = fields.Boolean()
    expiry = fields.String()
    budget = fields.Integer()
    enrolled = fields.Integer()


class VoucherDepositSchema(Schema):
    amount = amount_field(maximum=MAX_FEN, required=True)
    note = text_field(100, load_default="")
    idempotency_key = text_field(100, min_length=1, required=True)


class BudgetSchema(Schema):
    budget = fields.Integer()


class EnrolSchema(Schema):
    user_id = id_field(required=True)


class EnrolmentSchema(Schema):
    user_id = fields.Integer()
    programme_id = fields.Integer()


class IssueSchema(Schema):
    month = MONTH


class IssuanceSchema(Schema):
    month = fields.String()
    issued = fields.Integer()
    skipped = fields.Integer()
    amount = fields.Integer()


class WalletItemSchema(Schema):
    programme_id = fields.Integer()
    name = fields.String()
    balance = fields.Integer()
    held = fields.Integer()


class VoucherWalletSchema(Schema):
    items = fields.List(fields.Nested(WalletItemSchema))


class ServiceCreateSchema(Schema):
    name = text_field(Service.name, min_length=1, required=True)
    price = amount_field(maximum=1_000_000, required=True)


class ServiceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    price = fields.Integer()


class ProviderCreateSchema(Schema):
    name = text_field(Provider.name, min_length=1, required=True)
    services = fields.List(
        fields.Nested(ServiceCreateSchema), required=True, validate=validate.Length(1, 50)
    )


class ProviderSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    org_id = fields.Integer()
    services = fields.List(fields.Nested(ServiceSchema))


class WorkerCreateSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)


class WorkerSchema(Schema):
    user_id = fields.Integer()
    provider_id = fields.Integer()
    name = fields.String()


CODE = text_field(500, min_length=1, required=True)


class VisitStartSchema(Schema):
    person_code = CODE
    service_id = id_field(required=True)
    programme_id = id_field(required=True)


class VisitFinishSchema(Schema):
    person_code = CODE


class VisitSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()
    minutes = fields.Integer(allow_none=True)
    amount = fields.Integer()
    provider_id = fields.Integer()
    service_id = fields.Integer()
    person_id = fields.Integer()
    worker_id = fields.Integer()
    rating = fields.Integer(allow_none=True)


class ConfirmSchema(Schema):
    rating = StrictInt(required=True, validate=validate.Range(1, 5))
    comment = text_field(Visit.comment, load_default="")


class DisputeSchema(Schema):
    reason = text_field(Visit.dispute_reason, min_length=1, required=True)


class ResolveSchema(Schema):
    upheld = StrictBool(required=True)


class ClaimCreateSchema(Schema):
    month = MONTH


class ApprovalSchema(Schema):
    org_id = fields.Integer()
    level = fields.String()
    user_id = fields.Integer()
    at = fields.String()


class ClaimSchema(Schema):
    id = fields.Integer()
    provider_id = fields.Integer()
    month = fields.String()
    visits = fields.Integer()
    amount = fields.Integer()
    status = fields.String()
    reason = fields.String()
    approvals = fields.List(fields.Nested(ApprovalSchema))
    next_org_id = fields.Integer(allow_none=True)


class VoucherRejectSchema(Schema):
    reason = text_field(200, min_length=1, required=True)


class SettlementLineSchema(Schema):
    provider_id = fields.Integer()
    name = fields.String()
    visits = fields.Integer()
    amount = fields.Integer()
    claimed = fields.Integer()
    approved = fields.Integer()


class SettlementSchema(Schema):
    month = fields.String()
    providers = fields.List(fields.Nested(SettlementLineSchema))
    total = fields.Dict()


class AnomalySchema(Schema):
    kind = fields.String()
    visit_ids = fields.List(fields.Integer())
    provider_id = fields.Integer()
    note = fields.String()


class AnomaliesSchema(Schema):
    month = fields.String()
    items = fields.List(fields.Nested(AnomalySchema))


class VoucherStatusSchema(Schema):
    status = fields.String()
