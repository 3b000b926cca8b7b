"""Claims (结算申报) signed off level by level, settlement, anomaly flags."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import aliased

from core import ledger
from core.access import has_role, require_role, subtree_ids
from core.api import Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User
from core.plugins import require_enabled
from core.times import month_bounds, to_local
from plugins.elder_vouchers.models import Approval, Claim, Provider, Service, Visit
from plugins.elder_vouchers.services.accounts import PLUGIN
from plugins.elder_vouchers.services.visits import is_worker


def get_claim(claim_id: int) -> Claim:
    row = db.session.get(Claim, claim_id)
    if row is None:
        raise NotFound("没有这份结算申报")
    return row


def submit_claim(actor: User, provider: Provider, month: date) -> Claim:
    """A worker of the provider or an admin over it claims ``month``'s finished,
    undisputed, unclaimed visits. 409 ``nothing_to_claim``."""
    org = db.session.get(Organization, provider.org_id)
    require_enabled(org, PLUGIN)
    if not is_worker(actor, provider):
        require_role(actor, org, Role.admin)
    start, end = month_bounds(month)

    def work():
        claim = Claim(
            org_id=org.id,
            provider_id=provider.id,
            month=month,
            visits=0,
            amount=0,
            created_by_id=actor.id,
        )
        db.session.add(claim)
        db.session.flush()
        # One UPDATE takes the visits: a racing claim finds them taken.
        db.session.execute(
            update(Visit)
            .where(
                Visit.provider_id == provider.id,
                Visit.status == "finished",
                Visit.claim_id.is_(None),
                Visit.finished_at >= start,
                Visit.finished_at < end,
            )
            .values(claim_id=claim.id)
            .execution_options(synchronize_session=False)
        )
        count, amount = db.session.execute(
            select(func.count(), func.coalesce(func.sum(Visit.amount), 0)).where(
                Visit.claim_id == claim.id
            )
        ).one()
        if not count:
            raise Conflict("这个月没有可申报的服务", code="nothing_to_claim")
        claim.visits, claim.amount = count, int(amount)
        audit(
            "elder_vouchers.claim_submit",
            actor=actor,
            org=org,
            obj=claim,
            visits=count,
            amount=int(amount),
        )
        return claim

    return ledger.atomic(work)


def chain(claim: Claim) -> list[Organization]:
    """The levels that sign off, bottom up: the provider's organization up to the district."""
    org = db.session.get(Organization, claim.org_id)
    ids = list(reversed(org.ancestor_ids))  # self first
    orgs = {
        o.id: o for o in db.session.scalars(select(Organization).where(Organization.id.in_(ids)))
    }
    return _levels(org, orgs)


def _levels(org: Organization, orgs: dict[int, Organization]) -> list[Organization]:
    levels = []
    for org_id in reversed(org.ancestor_ids):  # self first
        levels.append(orgs[org_id])
        if orgs[org_id].level == "district":
            break
    return levels


def approvals_of(claim: Claim) -> list[Approval]:
    return list(
        db.session.scalars(
            select(Approval).where(Approval.claim_id == claim.id).order_by(Approval.id)
        )
    )


def next_org(claim: Claim) -> Organization | None:
    if claim.status != "submitted":
        return None
    levels = chain(claim)
    done = len(approvals_of(claim))
    return levels[done] if done < len(levels) else None


def _signs_at(user: User, org: Organization) -> bool:
    """Staff or admin *of* that organization itself (each level signs for itself)."""
    if user.is_platform_admin:
        return True
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.user_id == user.id,
                Membership.org_id == org.id,
                Membership.role.in_(("staff", "admin")),
            )
        )
        is not None
    )


def _require_turn(actor: User, claim: Claim) -> Organization:
    turn = next_org(claim)
    if turn is None:
        raise Conflict("这份申报已处理完毕", code="not_your_turn")
    if _signs_at(actor, turn):
        return turn
    if any(_signs_at(actor, level) for level in chain(claim)):
        raise Conflict("还没轮到你这一级审核", code="not_your_turn")
    raise Forbidden("没有权限审核这份申报")


def approve_claim(actor: User, claim: Claim) -> Claim:
    require_enabled(db.session.get(Organization, claim.org_id), PLUGIN)

    def work():
        row = db.session.get(Claim, claim.id, with_for_update=True, populate_existing=True)
        turn = _require_turn(actor, row)
        db.session.add(
            Approval(claim_id=row.id, org_id=turn.id, level=turn.level, user_id=actor.id)
        )
        db.session.flush()
        if turn.level == "district" or next_org(row) is None:
            row.status = "approved"
        audit("elder_vouchers.claim_approve", actor=actor, org=turn, obj=row, status=row.status)
        return row

    return ledger.atomic(work)


def reject_claim(actor: User, claim: Claim, *, reason: str) -> Claim:
    """Whoever's turn it is rejects; the visits become claimable again."""
    require_enabled(db.session.get(Organization, claim.org_id), PLUGIN)

    def work():
        row = db.session.get(Claim, claim.id, with_for_update=True, populate_existing=True)
        turn = _require_turn(actor, row)
        row.status = "rejected"
        row.reason = reason
        db.session.execute(
            update(Visit)
            .where(Visit.claim_id == row.id)
            .values(claim_id=None)
            .execution_options(synchronize_session=False)
        )
        audit("elder_vouchers.claim_reject", actor=actor, org=turn, obj=row, reason=reason)
        return row

    return ledger.atomic(work)


def claim_dict(claim: Claim) -> dict:
    turn = next_org(claim)
    return {
        "id": claim.id,
        "provider_id": claim.provider_id,
        "month": claim.month.strftime("%Y-%m"),
        "visits": claim.visits,
        "amount": claim.amount,
        "status": claim.status,
        "reason": claim.reason,
        "approvals": [
            {"org_id": a.org_id, "level": a.level, "user_id": a.user_id, "at": a.at.isoformat()}
            for a in approvals_of(claim)
        ],
        "next_org_id": turn.id if turn else None,
    }


def claims_at_my_level(user: User, org: Organization) -> list[Claim]:
    """Submitted claims in ``org``'s subtree whose turn is an organization ``user``
    signs at. Four queries however many claims: the claims with their approval
    counts, the organizations of their chains, and where ``user`` signs."""
    rows = db.session.execute(
        select(Claim, func.count(Approval.id))
        .outerjoin(Approval, Approval.claim_id == Claim.id)
        .where(Claim.status == "submitted", Claim.org_id.in_(subtree_ids(org)))
        .group_by(Claim.id)
        .order_by(Claim.id)
    ).all()
    if not rows:
        return []
    own = {c.org_id for c, _ in rows}
    homes = list(db.session.scalars(select(Organization).where(Organization.id.in_(own))))
    ids = {i for o in homes for i in o.ancestor_ids}
    orgs = {
        o.id: o for o in db.session.scalars(select(Organization).where(Organization.id.in_(ids)))
    }
    signs = set(
        db.session.scalars(
            select(Membership.org_id).where(
                Membership.user_id == user.id, Membership.role.in_(("staff", "admin"))
            )
        )
    )
    mine = []
    for claim, done in rows:
        levels = _levels(orgs[claim.org_id], orgs)
        if done < len(levels) and (user.is_platform_admin or levels[done].id in signs):
            mine.append(claim)
    return mine


# -- settlement ----------------------------------------------------------------------------


def settlement(actor: User, org: Organization, month: date) -> dict:
    """Per provider of ``org``'s subtree: the month's finished visits and amounts,
    how much of it is claimed and approved. Aggregated in SQL."""
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.staff)
    start, end = month_bounds(month)
    spent = Visit.status == "finished"
    claimed = spent & Claim.status.in_(("submitted", "approved"))
    approved = spent & (Claim.status == "approved")
    rows = db.session.execute(
        select(
            Provider.id,
            Provider.name,
            func.count(case((spent, Visit.id))),
            func.coalesce(func.sum(case((spent, Visit.amount), else_=0)), 0),
            func.coalesce(func.sum(case((claimed, Visit.amount), else_=0)), 0),
            func.coalesce(func.sum(case((approved, Visit.amount), else_=0)), 0),
        )
        .join(
            Visit,
            (Visit.provider_id == Provider.id)
            & (Visit.finished_at >= start)
            & (Visit.finished_at < end),
            isouter=True,
        )
        .join(Claim, Claim.id == Visit.claim_id, isouter=True)
        .where(Provider.org_id.in_(subtree_ids(org)))
        .group_by(Provider.id, Provider.name)
        .order_by(Provider.id)
    ).all()
    providers = [
        {
            "provider_id": r[0],
            "name": r[1],
            "visits": int(r[2]),
            "amount": int(r[3]),
            "claimed": int(r[4]),
            "approved": int(r[5]),
        }
        for r in rows
    ]
    total = {k: sum(p[k] for p in providers) for k in ("visits", "amount", "claimed", "approved")}
    return {"month": month.strftime("%Y-%m"), "providers": providers, "total": total}


SETTLEMENT_HEADER = ["服务商", "服务次数", "金额（元）", "已申报（元）", "已批准（元）"]


def settlement_rows(report: dict) -> list[list]:
    def yuan(fen):
        return f"{fen / 100:.2f}"

    rows = [
        [p["name"], p["visits"], yuan(p["amount"]), yuan(p["claimed"]), yuan(p["approved"])]
        for p in report["providers"]
    ]
    t = report["total"]
    rows.append(["合计", t["visits"], yuan(t["amount"]), yuan(t["claimed"]), yuan(t["approved"])])
    return rows


# -- anomalies -----------------------------------------------------------------------------

SHORT, LONG, SAME_MINUTE = 0.5, 2.0, 3  # below half or above twice the usual; 3+ at one minute


def anomalies(actor: User, org: Organization, month: date) -> list[dict]:
    """Flags for staff: visits far shorter or longer than the service usually
    takes (its median, from at least 3 visits), one elder visited by two workers
    at once, many visits of a provider ending at the same minute. Each kind is
    one query over the month's visits in the subtree; only flagged visits come back."""
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.staff)
    start, end = month_bounds(month)

    def in_month(v):
        return (
            v.org_id.in_(subtree_ids(org)),
            v.status.in_(("finished", "disputed", "refunded")),
            v.started_at < end,
            v.finished_at >= start,
        )

    flags = []
    # The median of a service: its visits' minutes sorted, the one at index n // 2.
    ranked = (
        select(
            Visit.service_id,
            Visit.minutes,
            func.row_number()
            .over(partition_by=Visit.service_id, order_by=(Visit.minutes, Visit.id))
            .label("rn"),
            func.count().over(partition_by=Visit.service_id).label("n"),
        )
        .where(*in_month(Visit))
        .subquery()
    )
    usual = (
        select(ranked.c.service_id, ranked.c.minutes.label("usual"))
        .where(ranked.c.n >= 3, ranked.c.rn == ranked.c.n // 2 + 1, ranked.c.minutes > 0)
        .subquery()
    )
    odd = db.session.execute(
        select(Visit.id, Visit.provider_id, Visit.service_id, Visit.minutes, usual.c.usual)
        .join(usual, usual.c.service_id == Visit.service_id)
        .where(
            *in_month(Visit),
            (Visit.minutes < usual.c.usual * SHORT) | (Visit.minutes > usual.c.usual * LONG),
        )
        .order_by(Visit.service_id, Visit.id)
    ).all()
    names = _names({r.service_id for r in odd})
    for r in odd:
        name = names[r.service_id]
        if r.minutes < r.usual * SHORT:
            note, kind = f"{name} 仅 {r.minutes} 分钟，通常 {r.usual} 分钟", "too_short"
        else:
            note, kind = f"{name} 用了 {r.minutes} 分钟，通常 {r.usual} 分钟", "too_long"
        flags.append(_flag(kind, [r.id], r.provider_id, note))
    a, b = aliased(Visit), aliased(Visit)
    for r in db.session.execute(
        select(a.id, b.id, a.provider_id)
        .join(b, (b.person_id == a.person_id) & (b.id > a.id))
        .where(
            *in_month(a),
            *in_month(b),
            a.worker_id != b.worker_id,
            a.started_at < b.finished_at,
            b.started_at < a.finished_at,
        )
        .order_by(a.id, b.id)
    ):
        flags.append(_flag("overlap", [r[0], r[1]], r[2], "同一位老人同时有两名服务人员上门"))
    # Minutes are the same in UTC and local time (whole-hour offsets): group by UTC minute.
    if db.session.get_bind().dialect.name == "postgresql":
        minute = func.date_trunc("minute", Visit.finished_at)
    else:
        minute = func.strftime("%Y-%m-%d %H:%M", Visit.finished_at)
    crowded = (
        select(Visit.provider_id, minute.label("minute"))
        .where(*in_month(Visit))
        .group_by(Visit.provider_id, minute)
        .having(func.count() >= SAME_MINUTE)
        .subquery()
    )
    groups: dict[tuple, list] = {}
    for r in db.session.execute(
        select(Visit.id, Visit.provider_id, Visit.finished_at, crowded.c.minute)
        .join(crowded, (crowded.c.provider_id == Visit.provider_id) & (crowded.c.minute == minute))
        .where(*in_month(Visit))
        .order_by(crowded.c.minute, Visit.provider_id, Visit.id)
    ):
        groups.setdefault((r.provider_id, r.minute), []).append(r)
    for (provider_id, _), rows in groups.items():
        at = to_local(rows[0].finished_at)
        note = f"{len(rows)} 次服务在 {at:%m月%d日 %H:%M} 同一分钟结束"
        flags.append(_flag("same_minute", [r.id for r in rows], provider_id, note))
    return flags


def _flag(kind: str, visit_ids: list[int], provider_id: int, note: str) -> dict:
    return {"kind": kind, "visit_ids": visit_ids, "provider_id": provider_id, "note": note}


def _names(service_ids: set[int]) -> dict[int, str]:
    if not service_ids:
        return {}
    return dict(
        db.session.execute(
            select(Service.id, Service.name).where(Service.id.in_(service_ids))
        ).all()
    )


def has_staff(user: User, org: Organization) -> bool:
    return has_role(user, org, Role.staff)


def service_names(visits) -> dict[int, str]:
    """The names of the services these visits were for, by id (one query)."""
    return _names({v.service_id for v in visits})
