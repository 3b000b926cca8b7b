"""居家养老服务券 business rules: plain functions, callable without a request.

Split by topic: ``accounts`` (ledger accounts), ``programmes`` (programmes,
budgets, enrolment, wallets), ``issuance`` (monthly issuance, expiry),
``visits`` (providers, workers, visits, disputes), ``claims`` (claims,
settlement, anomalies) and ``demo``. Money moves in :func:`core.ledger.atomic`.
"""

from plugins.elder_vouchers.services.accounts import (
    CURRENCY,
    PLUGIN,
    budget_balance,
    programme_account,
    provider_account,
    wallet,
)
from plugins.elder_vouchers.services.claims import (
    SETTLEMENT_HEADER,
    anomalies,
    approve_claim,
    claim_dict,
    claims_at_my_level,
    get_claim,
    next_org,
    reject_claim,
    settlement,
    settlement_rows,
    submit_claim,
)
from plugins.elder_vouchers.services.issuance import (
    expire_all,
    expire_wallet,
    expires_at,
    issue,
    issue_all,
)
from plugins.elder_vouchers.services.programmes import (
    create_programme,
    deposit,
    enrol,
    get_programme,
    ineligibility,
    programme_dict,
    programme_org,
    programmes_of,
    unenrol,
    wallet_items,
    wallet_of,
)
from plugins.elder_vouchers.services.visits import (
    add_worker,
    cancel_visit,
    confirm_visit,
    create_provider,
    dispute_visit,
    finish_visit,
    get_provider,
    get_visit,
    open_visit_of,
    provider_dict,
    providers_of_worker,
    resolve_dispute,
    services_of,
    start_visit,
    visits_of_person,
    workers_of,
)

__all__ = [
    "CURRENCY", "PLUGIN", "SETTLEMENT_HEADER", "add_worker", "anomalies", "approve_claim",
    "budget_balance", "cancel_visit", "claim_dict", "claims_at_my_level", "confirm_visit",
    "create_programme", "create_provider", "deposit", "dispute_visit", "enrol", "expire_all",
    "expire_wallet", "expires_at", "finish_visit", "get_claim", "get_programme", "get_provider",
    "get_visit", "ineligibility", "issue", "issue_all", "next_org", "open_visit_of",
    "programme_account", "programme_dict", "programme_org", "programmes_of", "provider_account",
    "provider_dict", "providers_of_worker", "reject_claim", "resolve_dispute", "services_of",
    "settlement", "settlement_rows", "start_visit", "submit_claim", "unenrol", "visits_of_person",
    "wallet", "wallet_items", "wallet_of", "workers_of",
]
