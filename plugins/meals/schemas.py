"""Marshmallow schemas of the 爱心食堂 API (see API.md, "Love canteens")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import Moment, StrictInt, amount_field, id_field, text_field
from plugins.meals.models import SLOTS, Canteen, Deposit

MAX_PRICE = 100_000  # ¥1,000 a meal
MAX_CAPACITY = 10_000
MAX_DEPOSIT = 1_000_000_000  # ¥10,000,000
MAX_AGE = 150


class CanteenCreateSchema(Schema):
    name = text_field(Canteen.name, min_length=1, required=True)
    address = text_field(Canteen.address, load_default="")


class CanteenSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    address = fields.String()


class MenuCreateSchema(Schema):
    date = fields.Date(required=True, data_key="date", attribute="day")
    slot = fields.String(
        required=True, validate=validate.OneOf(SLOTS, error="应为 breakfast、lunch 或 dinner")
    )
    dishes = fields.List(
        text_field(50, min_length=1),
        required=True,
        validate=validate.Length(min=1, max=20, error="菜品应为 1 到 20 道"),
    )
    price = StrictInt(
        required=True,
        validate=validate.Range(min=0, max=MAX_PRICE, error="必须是 0 到 {max} 之间的整数（分）"),
    )
    capacity = amount_field(maximum=MAX_CAPACITY, required=True)
    book_by = Moment(load_default=None)


class MyBookingSchema(Schema):
    id = fields.Integer()
    status = fields.String()


class MenuSchema(Schema):
    id = fields.Integer()
    canteen_id = fields.Integer()
    date = fields.Date(attribute="day")
    slot = fields.String()
    dishes = fields.List(fields.String())
    price = fields.Integer()
    capacity = fields.Integer()
    booked = fields.Integer()
    places_left = fields.Integer()
    book_by = fields.AwareDateTime()
    my_booking = fields.Nested(MyBookingSchema, allow_none=True)


class MenuQuerySchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class TierSchema(Schema):
    min_age = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_AGE))
    subsidy = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_PRICE))


class PolicySchema(Schema):
    tiers = fields.List(
        fields.Nested(TierSchema),
        required=True,
        validate=validate.Length(max=20, error="最多 20 个年龄段"),
    )
    hardship_extra = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_PRICE))
    source_org_id = fields.Integer(dump_only=True, allow_none=True)


class MealDepositSchema(Schema):
    amount = amount_field(maximum=MAX_DEPOSIT, required=True)
    note = text_field(Deposit.note, required=True)
    idempotency_key = text_field(100, min_length=1, required=True)


class MealFundSchema(Schema):
    balance = fields.Integer()


class BookingCreateSchema(Schema):
    user_id = id_field()
    person_code = text_field(2000, min_length=1)


class BookingSchema(Schema):
    id = fields.Integer()
    menu_id = fields.Integer()
    user_id = fields.Integer()
    price = fields.Integer()
    subsidy = fields.Integer()
    to_pay = fields.Integer()
    status = fields.String()


class ServingCreateSchema(Schema):
    person_code = text_field(2000, min_length=1, required=True)
    menu_id = id_field(required=True)


class ServingSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    age = fields.Integer(allow_none=True)
    price = fields.Integer()
    subsidy = fields.Integer()
    to_pay = fields.Integer()
    booked = fields.Boolean()
    funded = fields.Boolean()
    subsidy_owed = fields.Integer()
    menu_id = fields.Integer()
    canteen_id = fields.Integer()


class MealRelativeSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()
    phone_masked = fields.String(allow_none=True)


class WaitingSchema(Schema):
    user_id = fields.Integer()
    name = fields.String()
    phone_masked = fields.String(allow_none=True)
    relatives = fields.List(fields.Nested(MealRelativeSchema))


class MealAttendanceSchema(Schema):
    booked = fields.Integer()
    served = fields.Integer()
    not_arrived = fields.List(fields.Nested(WaitingSchema))


class FiguresSchema(Schema):
    meals = fields.Integer()
    subsidised_meals = fields.Integer()
    subsidy = fields.Integer()
    subsidy_owed = fields.Integer()
    paid_by_diners = fields.Integer()


class TierFiguresSchema(Schema):
    min_age = fields.Integer()
    meals = fields.Integer()
    subsidy = fields.Integer()


class CanteenFiguresSchema(FiguresSchema):
    canteen_id = fields.Integer()
    name = fields.String()
    by_tier = fields.List(fields.Nested(TierFiguresSchema))


class SettlementSchema(Schema):
    month = fields.String()
    canteens = fields.List(fields.Nested(CanteenFiguresSchema))
    total = fields.Nested(FiguresSchema)
