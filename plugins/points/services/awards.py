"""Awards: by hand, in batch, for service (the ``service_recorded`` hook),
paid late when the fund was short, reversed when given by mistake."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from core import ledger, settings
from core.access import require_role
from core.api import MAX_ID, BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from plugins.points.models import Award
from plugins.points.services.accounts import (
    WIDE_LEVELS,
    belongs_to,
    funding_org,
    member_by_phone,
    org_account,
    wallet_account,
)
from plugins.points.services.earned import add_earned

MAX_AWARD = 1_000_000  # one award; as the API's bound
SELF_AWARD = "不能给自己发放金豆，请由其他工作人员发放"
ALREADY_REVERSED = "这笔奖励已经冲正过了"


def expiry_months(org: Organization) -> int | None:
    return settings.get(org, "points", "expiry_months")


def _pay(
    org: Organization,
    user: User,
    *,
    amount: int,
    reason: str,
    kind: str,
    source_key: str,
    actor_id: int | None,
    activity_id: int | None = None,
) -> Award:
    """Pay an award from the nearest fund (inside the caller's transaction)."""
    payer = funding_org(org)
    if payer is None:
        raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
    posted = ledger.transfer(
        org_account(payer.id, "fund"),
        wallet_account(user.id),
        amount,
        reason=reason,
        cause=("activity", activity_id) if activity_id else ("org", org.id),
        key=source_key,
        actor_id=actor_id,
        short_message="金豆基金余额不足，暂时无法发放",
        short_code="fund_short",
    )
    if posted.replayed:
        return db.session.scalar(select(Award).where(Award.transfer_id == posted.id))
    months = expiry_months(org)
    now = utcnow()
    award = Award(
        org_id=org.id,
        fund_org_id=payer.id,
        user_id=user.id,
        amount=amount,
        reason=reason,
        kind=kind,
        status="paid",
        source_key=source_key,
        transfer_id=posted.id,
        activity_id=activity_id,
        actor_id=actor_id,
        created_at=now,
        expires_at=add_months(now, months) if months else None,
    )
    db.session.add(award)
    db.session.flush()
    add_earned([(user.id, now, amount)])
    return award


def award(
    actor: User, org: Organization, *, phone: str, amount: int, reason: str, key: str
) -> Award:
    """Staff give beans by hand (e.g. 优秀楼栋长). 409 when the fund is short."""
    require_role(actor, org, Role.staff)
    recipient = member_by_phone(org, phone)
    if recipient.id == actor.id:
        raise Forbidden(SELF_AWARD, code="self_award")

    def work():
        row = _pay(
            org,
            recipient,
            amount=amount,
            reason=reason,
            kind="manual",
            source_key=f"points:award:{actor.id}:{key}",
            actor_id=actor.id,
        )
        audit(
            "points.award",
            actor=actor,
            org=org,
            obj=row,
            user_id=recipient.id,
            amount=amount,
            reason=reason,
        )
        return row

    return ledger.atomic(work)


def award_batch(
    actor: User, org: Organization, *, lines: list[tuple[str, int]], reason: str, key: str
) -> int:
    """Staff award many people at once (e.g. everyone at an event), set-based.

    All or nothing: one transaction, 409 if the fund cannot cover the total.
    Replaying ``key`` pays nobody twice. Returns how many awards were paid now.
    """
    require_role(actor, org, Role.staff)
    phones = [phone for phone, _amount in lines]
    if len(set(phones)) != len(phones):
        raise BadRequest("同一手机号出现了两次", fields={"lines": ["手机号重复"]})
    if actor.phone in phones:
        raise Forbidden(SELF_AWARD, code="self_award")
    people = {u.phone: u for u in db.session.scalars(select(User).where(User.phone.in_(phones)))}
    strangers = [p for p in phones if p not in people or not belongs_to(people[p], org)]
    if strangers:
        raise NotFound(
            f"这些手机号不是本组织的成员：{'、'.join(strangers[:5])}", code="member_not_found"
        )

    def work():
        payer = funding_org(org)
        if payer is None:
            raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
        fund = org_account(payer.id, "fund")
        keyed = [
            (people[phone], amount, f"points:award:{actor.id}:{key}:{people[phone].id}")
            for phone, amount in lines
        ]
        legs = [
            ledger.Leg(
                fund.id,
                wallet_account(user.id).id,
                amount,
                reason,
                key=leg_key,
                cause=("org", org.id),
            )
            for user, amount, leg_key in keyed
        ]
        paid = ledger.post_batch(
            legs,
            actor_id=actor.id,
            short_message="金豆基金余额不足，暂时无法发放",
            short_code="fund_short",
        )
        ids = dict(
            db.session.execute(
                select(ledger.Transfer.idempotency_key, ledger.Transfer.id).where(
                    ledger.Transfer.idempotency_key.in_([k for _u, _a, k in keyed])
                )
            ).all()
        )
        done = set(
            db.session.scalars(select(Award.source_key).where(Award.source_key.in_(list(ids))))
        )
        months, now = expiry_months(org), utcnow()
        new = [(user, amount, leg_key) for user, amount, leg_key in keyed if leg_key not in done]
        db.session.add_all(
            [
                Award(
                    org_id=org.id,
                    fund_org_id=payer.id,
                    user_id=user.id,
                    amount=amount,
                    reason=reason,
                    kind="manual",
                    status="paid",
                    source_key=leg_key,
                    transfer_id=ids[leg_key],
                    actor_id=actor.id,
                    created_at=now,
                    expires_at=add_months(now, months) if months else None,
                )
                for user, amount, leg_key in new
            ]
        )
        add_earned([(user.id, now, amount) for user, amount, _k in new])
        if paid:
            audit(
                "points.award_batch",
                actor=actor,
                org=org,
                people=len(lines),
                total=sum(a for _p, a in lines),
                reason=reason,
            )
        return paid

    return ledger.atomic(work)


def award_for_service(
    org: Organization,
    user: User,
    *,
    activity_id: int | None,
    title: str,
    minutes: int,
    points: int,
    key: str,
) -> int:
    """The ``service_recorded`` hook: pay ``points`` for service; return what was paid.

    Runs in the caller's transaction (in a savepoint) and never raises for a
    short fund: the service must be recorded anyway. Then the award is kept
    as ``unfunded`` (0 paid now) for staff to pay once the fund is topped up.
    A repeated ``key`` pays nothing more.
    """
    if not isinstance(points, int) or isinstance(points, bool) or not 0 < points <= MAX_ID:
        return 0  # nothing to pay, or not even storable: never fail the caller
    source_key = f"points:service:{key}"
    existing = db.session.scalar(select(Award).where(Award.source_key == source_key))
    if existing is not None:
        return existing.amount if existing.status == "paid" else 0
    reason = f"志愿服务：{title[:100]}（{minutes}分钟）"
    try:
        if points > MAX_AWARD:  # more than one award may pay: staff decide
            raise Conflict(f"单次奖励超过 {MAX_AWARD} 金豆", code="over_limit")
        with db.session.begin_nested():
            row = _pay(
                org,
                user,
                amount=points,
                reason=reason,
                kind="service",
                source_key=source_key,
                actor_id=None,
                activity_id=activity_id,
            )
            audit(
                "points.award",
                actor=None,
                org=org,
                obj=row,
                user_id=user.id,
                amount=points,
                reason=reason,
            )
        return row.amount
    except (Conflict, ledger.LedgerError) as err:
        with db.session.begin_nested():
            row = Award(
                org_id=org.id,
                user_id=user.id,
                amount=points,
                reason=reason,
                kind="service",
                status="unfunded",
                source_key=source_key,
                activity_id=activity_id,
            )
            db.session.add(row)
            db.session.flush()
            audit(
                "points.award_unfunded",
                actor=None,
                org=org,
                obj=row,
                user_id=user.id,
                amount=points,
                why=err.code,
            )
        return 0


def pay_unfunded(actor: User, award_id: int) -> Award:
    """Staff pay an award that the fund could not cover when it was earned."""
    row = db.session.get(Award, award_id)
    if row is None:
        raise NotFound("未找到该奖励")
    org = db.session.get(Organization, row.org_id)
    require_role(actor, org, Role.staff)
    if row.user_id == actor.id:
        raise Forbidden(SELF_AWARD, code="self_award")

    def work():
        fresh = db.session.get(Award, award_id)
        if fresh.status == "paid":
            return fresh
        payer = funding_org(org)
        if payer is None:
            raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
        posted = ledger.transfer(
            org_account(payer.id, "fund"),
            wallet_account(fresh.user_id),
            fresh.amount,
            reason=fresh.reason,
            cause=("activity", fresh.activity_id) if fresh.activity_id else ("org", org.id),
            key=fresh.source_key,
            actor_id=actor.id,
            short_message="金豆基金余额不足，暂时无法发放",
            short_code="fund_short",
        )
        months = expiry_months(org)
        now = utcnow()
        paid = db.session.execute(
            update(Award)
            .where(Award.id == award_id, Award.status == "unfunded")
            .values(
                status="paid",
                transfer_id=posted.id,
                fund_org_id=payer.id,
                actor_id=actor.id,
                expires_at=add_months(now, months) if months else None,
            )
        )
        if paid.rowcount:  # counts in the month it was earned, as _earned does
            add_earned([(fresh.user_id, fresh.created_at, fresh.amount)])
        audit("points.award_paid_late", actor=actor, org=org, obj=fresh, amount=fresh.amount)
        db.session.expire(fresh)
        return fresh

    return ledger.atomic(work)


def unfunded_awards(org: Organization) -> list[Award]:
    return db.session.scalars(
        select(Award)
        .join(Organization, Organization.id == Award.org_id)
        .where(Award.status == "unfunded", Organization.path.startswith(org.path, autoescape=True))
        .order_by(Award.id)
    ).all()


def awards_in(org: Organization):
    """A select of the awards made in ``org``'s subtree."""
    return (
        select(Award)
        .join(Organization, Organization.id == Award.org_id)
        .where(Organization.path.startswith(org.path, autoescape=True))
    )


def recent_awards(org: Organization, limit: int = 20) -> list[Award]:
    """The newest paid awards of ``org``'s subtree.

    Above a community awards are everywhere, so walking the newest ids finds
    them at once. A community's are a thousandth of the district's and may
    all be months old: the same walk crossed the whole table at full size
    (3.4 s), so below a sub-district they are found by organization
    (``ix_points_award_org_created``) and the few hundred sorted.
    """
    stmt = awards_in(org).where(Award.status == "paid")
    if org.level in WIDE_LEVELS:
        return list(db.session.scalars(stmt.order_by(Award.id.desc()).limit(limit)))
    newest = (Award.created_at.desc(), Award.id.desc())
    return list(db.session.scalars(stmt.order_by(*newest).limit(limit)))


def reversed_transfer_ids(transfer_ids) -> set[int]:
    """Which of these transfers have been reversed."""
    ids = [t for t in transfer_ids if t]
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(ledger.Transfer.reverses_id).where(ledger.Transfer.reverses_id.in_(ids))
        )
    )


def reverse_award(actor: User, award_id: int, *, reason: str):
    """Undo a mistaken award with a reversing transfer: 409 ``already_reversed``
    the second time (even an identical repeat: API.md), 409 if already spent."""
    row = db.session.get(Award, award_id)
    if row is None or row.transfer_id is None:
        raise NotFound("未找到该奖励")
    org = db.session.get(Organization, row.org_id)
    require_role(actor, org, Role.staff)

    def work():
        db.session.refresh(row)
        if row.reversed_at is not None:
            raise Conflict(ALREADY_REVERSED, code="already_reversed")
        try:
            posted = ledger.reverse(
                row.transfer_id,
                reason=f"冲正：{reason}",
                actor_id=actor.id,
                short_message="金豆已被使用，无法冲正",
            )
        except ledger.AlreadyReversed as err:
            raise Conflict(ALREADY_REVERSED, code="already_reversed") from err
        if posted.replayed:  # a racing identical request won: this one is the second
            raise Conflict(ALREADY_REVERSED, code="already_reversed")
        # The award no longer counts (光荣榜, report, expiry); the ledger keeps both lines.
        undone = db.session.execute(
            update(Award)
            .where(Award.id == award_id, Award.reversed_at.is_(None))
            .values(reversed_at=utcnow())
        )
        if undone.rowcount and row.status == "paid":
            add_earned([(row.user_id, row.created_at, -row.amount)])
        audit("points.award_reversed", actor=actor, org=org, obj=row, reason=reason)
        return posted

    return ledger.atomic(work)


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(
        moment.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return moment.replace(year=year, month=month, day=day)
