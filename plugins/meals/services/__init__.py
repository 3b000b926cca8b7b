"""爱心食堂 business rules: plain functions, callable without a request.

Split by topic: ``canteens`` (canteens, menus, who may serve), ``policy``
(the subsidy policy and one meal's subsidy), ``funds`` (ledger accounts,
deposits), ``bookings``, ``servings``, ``reports`` (关爱 list, settlement)
and ``demo``. Functions that change places or money run in
:func:`core.ledger.atomic` (one write transaction, committed, retried).
"""

from plugins.meals.services.bookings import book, booking_dict, cancel, is_closed, my_bookings
from plugins.meals.services.canteens import (
    CASHIER,
    canteens_under,
    copy_week,
    create_canteen,
    create_menu,
    get_canteen,
    get_menu,
    may_serve,
    menus_between,
    require_counter,
    slot_start,
)
from plugins.meals.services.demo import seed_demo
from plugins.meals.services.funds import canteen_account, deposit, fund_balance, org_account
from plugins.meals.services.policy import effective_policy, put_policy, subsidy_for
from plugins.meals.services.reports import (
    FIGURES,
    TITLES,
    attendance,
    csv_rows,
    settlement,
    settlement_of,
    totals_of,
)
from plugins.meals.services.servings import serve, serving_dict

__all__ = [
    "CASHIER",
    "FIGURES",
    "TITLES",
    "attendance",
    "book",
    "booking_dict",
    "cancel",
    "canteen_account",
    "canteens_under",
    "copy_week",
    "create_canteen",
    "create_menu",
    "csv_rows",
    "deposit",
    "effective_policy",
    "fund_balance",
    "get_canteen",
    "get_menu",
    "is_closed",
    "may_serve",
    "menus_between",
    "require_counter",
    "my_bookings",
    "org_account",
    "put_policy",
    "seed_demo",
    "serve",
    "serving_dict",
    "settlement",
    "settlement_of",
    "totals_of",
    "slot_start",
    "subsidy_for",
]
