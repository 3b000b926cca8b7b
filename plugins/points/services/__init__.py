"""金豆 business rules: plain functions, callable without a request.

Split by topic: ``accounts`` (ledger accounts, the fund, deposits, history),
``awards``, ``expiry``, ``rewards`` (catalog and redemption), ``reports``
and ``demo``. Functions that change beans run in :func:`core.ledger.atomic`
(one write transaction, committed, retried on lock trouble); the hook for
service hours runs inside the caller's transaction instead, in a savepoint.
"""

from plugins.points.services.accounts import (
    CURRENCY,
    KIND_TITLES,
    belongs_to,
    counterpart_names,
    deposit,
    fund_balance,
    funding_org,
    history,
    member_by_phone,
    org_account,
    wallet_account,
    wallet_summary,
)
from plugins.points.services.awards import (
    ALREADY_REVERSED,
    MAX_AWARD,
    SELF_AWARD,
    add_months,
    award,
    award_batch,
    award_for_service,
    awards_in,
    expiry_months,
    pay_unfunded,
    reverse_award,
    reversed_transfer_ids,
    unfunded_awards,
)
from plugins.points.services.demo import seed_demo
from plugins.points.services.expiry import expire_all, expire_wallet, set_expiry
from plugins.points.services.reports import REPORT_TITLES, earned_in_month, leaderboard, report
from plugins.points.services.rewards import (
    ACTIVE_REDEMPTIONS,
    SELF_APPROVAL,
    approve,
    by_code,
    cancel,
    create_reward,
    deciding_redemption,
    fulfil,
    is_open,
    pending_count,
    queue,
    reject,
    request_redemption,
    rewards_for,
    staff_redemption,
    update_reward,
    visible_reward,
)

__all__ = [
    "ACTIVE_REDEMPTIONS", "ALREADY_REVERSED", "CURRENCY", "KIND_TITLES", "MAX_AWARD", "REPORT_TITLES", "SELF_APPROVAL",
    "SELF_AWARD",
    "add_months", "approve", "award", "award_batch", "award_for_service", "awards_in",
    "belongs_to", "by_code", "cancel", "counterpart_names", "create_reward", "deciding_redemption",
    "deposit",
    "expire_all", "expire_wallet", "expiry_months", "fulfil", "fund_balance", "funding_org",
    "earned_in_month", "history", "is_open", "leaderboard", "member_by_phone", "org_account", "pay_unfunded",
    "pending_count", "queue", "reject", "report", "request_redemption", "reverse_award",
    "reversed_transfer_ids", "rewards_for", "seed_demo", "set_expiry", "staff_redemption",
    "unfunded_awards", "update_reward", "visible_reward", "wallet_account", "wallet_summary",
]
