"""The subsidy policy (nearest ancestor-or-self wins) and the subsidy of one meal."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.access import require_role
from core.api import BadRequest
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from core.people.services import age_on
from plugins.meals.models import SubsidyPolicy


def effective_policy(org: Organization) -> dict:
    """``{tiers, hardship_extra, source_org_id}`` of the nearest ancestor-or-self
    with a policy (one query); none anywhere: no subsidy."""
    rows = {
        p.org_id: p
        for p in db.session.scalars(
            select(SubsidyPolicy).where(SubsidyPolicy.org_id.in_(org.ancestor_ids))
        )
    }
    for org_id in reversed(org.ancestor_ids):
        if org_id in rows:
            row = rows[org_id]
            return {
                "tiers": sorted(row.tiers, key=lambda t: t["min_age"]),
                "hardship_extra": row.hardship_extra,
                "source_org_id": org_id,
            }
    return {"tiers": [], "hardship_extra": 0, "source_org_id": None}


def check_tiers(tiers: list[dict]) -> list[dict]:
    """Sorted by age; ages distinct and subsidies not falling with age (so an
    elder's subsidy never drops on a birthday)."""
    tiers = sorted(
        ({"min_age": t["min_age"], "subsidy": t["subsidy"]} for t in tiers),
        key=lambda t: t["min_age"],
    )
    for lower, upper in zip(tiers, tiers[1:], strict=False):
        if lower["min_age"] == upper["min_age"]:
            raise BadRequest("年龄段重复", fields={"tiers": [f"{upper['min_age']} 岁出现两次"]})
        if upper["subsidy"] < lower["subsidy"]:
            raise BadRequest(
                "年龄越大补贴不应越少",
                fields={"tiers": [f"{upper['min_age']} 岁的补贴少于 {lower['min_age']} 岁"]},
            )
    return tiers


def put_policy(actor: User, org: Organization, *, tiers: list[dict], hardship_extra: int) -> dict:
    """An admin of ``org`` (or above) sets its policy; the subtree inherits it."""
    require_role(actor, org, Role.admin)
    tiers = check_tiers(tiers)
    row = db.session.get(SubsidyPolicy, org.id)
    if row is None:
        row = SubsidyPolicy(org_id=org.id)
        db.session.add(row)
    row.tiers, row.hardship_extra = tiers, hardship_extra
    row.updated_by_id, row.updated_at = actor.id, utcnow()
    db.session.flush()
    audit("meals.policy", actor=actor, org=org, tiers=tiers, hardship_extra=hardship_extra)
    return effective_policy(org)


def subsidy_for(
    policy: dict, *, birth_date: date | None, hardship: bool, day: date, price: int
) -> tuple[int, int | None]:
    """``(subsidy, tier min_age)`` of one meal on ``day``: the highest tier the
    person has reached that day, plus ``hardship_extra`` in hardship, never
    above the price; no birth date or no tier reached: ``(0, None)``."""
    if birth_date is None:
        return 0, None
    age = age_on(birth_date, day)
    reached = [t for t in policy["tiers"] if age >= t["min_age"]]
    if not reached:
        return 0, None
    tier = max(reached, key=lambda t: t["min_age"])
    amount = tier["subsidy"] + (policy["hardship_extra"] if hardship else 0)
    return max(0, min(amount, price)), tier["min_age"]
