"""金豆 business rules: plain functions, callable without a request.

Accounts in the ledger (currency ``bean``):
- ``org``/``fund``: an organization's 金豆基金; awards are paid from it.
- ``org``/``donations``: where donated beans come from (may go negative:
  it records how much was ever donated).
- ``org``/``redeemed``: beans spent on the organization's rewards.
- ``user``/``wallet``: a person's 金豆账户, one per person wherever earned.

Functions that change beans run in :func:`core.ledger.atomic` (one write
transaction, committed, retried on lock trouble); the hook for service hours
runs inside the caller's transaction instead, in a savepoint.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import func, select, update

from core import ledger
from core.access import can_see, effective_role, nearest_setting, require_role
from core.api import MAX_ID, MAX_YEAR, MIN_YEAR, BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User, utcnow
from plugins.points.models import Award, Deposit, Redemption, Reward, Setting

CURRENCY = "bean"
ACTIVE_REDEMPTIONS = ("pending", "approved", "fulfilled")
MAX_AWARD = 1_000_000  # one award; as the API's bound
SELF_AWARD = "不能给自己发放金豆，请由其他工作人员发放"

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a desk


# -- accounts ---------------------------------------------------------------------------


def org_account(org_id: int, kind: str, *, create: bool = True) -> ledger.Account | None:
    return ledger.account("org", org_id, namespace="points", currency=CURRENCY, kind=kind,
                          allow_negative=(kind == "donations"), create=create)


def wallet_account(user_id: int, *, create: bool = True) -> ledger.Account | None:
    return ledger.account("user", user_id, namespace="points", currency=CURRENCY, kind="wallet",
                          create=create)


def wallet_summary(user: User) -> dict:
    """``balance`` is what may be spent now; ``held`` waits for approval."""
    acc = wallet_account(user.id, create=False)
    if acc is None:
        return {"balance": 0, "held": 0}
    return {"balance": acc.balance - acc.held, "held": acc.held}


def funding_org(org: Organization) -> Organization | None:
    """The organization whose fund pays for awards made in ``org``: itself or
    its nearest ancestor with a fund."""
    owner_ids = db.session.scalars(select(ledger.Account.owner_id).where(
        ledger.Account.owner_type == "org", ledger.Account.kind == "fund",
        ledger.Account.currency == CURRENCY,
        ledger.Account.owner_id.in_(org.ancestor_ids))).all()
    if not owner_ids:
        return None
    nearest = max(owner_ids, key=org.ancestor_ids.index)
    return db.session.get(Organization, nearest)


def fund_balance(org: Organization) -> int:
    acc = org_account(org.id, "fund", create=False)
    return acc.balance if acc else 0


# -- fund and awards ---------------------------------------------------------------------


def deposit(actor: User, org: Organization, *, amount: int, key: str, donor: str = "",
            note: str = "") -> Deposit:
    """An admin records a donation into the organization's fund. Idempotent by ``key``."""
    require_role(actor, org, Role.admin)

    def work():
        source, fund = org_account(org.id, "donations"), org_account(org.id, "fund")
        posted = ledger.transfer(source, fund, amount, reason=f"捐赠：{donor or '匿名'}",
                                 cause=("org", org.id), key=f"points:deposit:{actor.id}:{key}",
                                 actor_id=actor.id)
        if posted.replayed:
            return db.session.scalar(select(Deposit).where(Deposit.transfer_id == posted.id))
        row = Deposit(org_id=org.id, amount=amount, donor=donor, note=note,
                      transfer_id=posted.id, actor_id=actor.id)
        db.session.add(row)
        db.session.flush()
        audit("points.deposit", actor=actor, org=org, obj=row, amount=amount, donor=donor)
        return row

    return ledger.atomic(work)


def member_by_phone(org: Organization, phone: str) -> User:
    """A person who belongs to ``org``'s subtree (or above it); 404 otherwise."""
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or not belongs_to(user, org):
        raise NotFound("该手机号不是本组织的成员", code="member_not_found")
    return user


def belongs_to(user: User, org: Organization) -> bool:
    if effective_role(user, org) is not None:
        return True
    return db.session.scalar(
        select(func.count()).select_from(Membership)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id,
               Organization.path.startswith(org.path, autoescape=True))) > 0


def expiry_months(org: Organization) -> int | None:
    return nearest_setting(org, Setting.org_id, Setting.expiry_months)


def _pay(org: Organization, user: User, *, amount: int, reason: str, kind: str, source_key: str,
         actor_id: int | None, activity_id: int | None = None) -> Award:
    """Pay an award from the nearest fund (inside the caller's transaction)."""
    payer = funding_org(org)
    if payer is None:
        raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
    posted = ledger.transfer(
        org_account(payer.id, "fund"), wallet_account(user.id), amount, reason=reason,
        cause=("activity", activity_id) if activity_id else ("org", org.id), key=source_key,
        actor_id=actor_id, short_message="金豆基金余额不足，暂时无法发放", short_code="fund_short")
    if posted.replayed:
        return db.session.scalar(select(Award).where(Award.transfer_id == posted.id))
    months = expiry_months(org)
    now = utcnow()
    award = Award(org_id=org.id, fund_org_id=payer.id, user_id=user.id, amount=amount,
                  reason=reason, kind=kind, status="paid", source_key=source_key,
                  transfer_id=posted.id, activity_id=activity_id, actor_id=actor_id,
                  created_at=now, expires_at=add_months(now, months) if months else None)
    db.session.add(award)
    db.session.flush()
    return award


def award(actor: User, org: Organization, *, phone: str, amount: int, reason: str,
          key: str) -> Award:
    """Staff give beans by hand (e.g. 优秀楼栋长). 409 when the fund is short."""
    require_role(actor, org, Role.staff)
    recipient = member_by_phone(org, phone)
    if recipient.id == actor.id:
        raise Forbidden(SELF_AWARD, code="self_award")

    def work():
        row = _pay(org, recipient, amount=amount, reason=reason, kind="manual",
                   source_key=f"points:award:{actor.id}:{key}", actor_id=actor.id)
        audit("points.award", actor=actor, org=org, obj=row, user_id=recipient.id,
              amount=amount, reason=reason)
        return row

    return ledger.atomic(work)


def award_batch(actor: User, org: Organization, *, lines: list[tuple[str, int]], reason: str,
                key: str) -> int:
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
        raise NotFound(f"这些手机号不是本组织的成员：{'、'.join(strangers[:5])}",
                       code="member_not_found")

    def work():
        payer = funding_org(org)
        if payer is None:
            raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
        fund = org_account(payer.id, "fund")
        keyed = [(people[phone], amount, f"points:award:{actor.id}:{key}:{people[phone].id}")
                 for phone, amount in lines]
        legs = [ledger.Leg(fund.id, wallet_account(user.id).id, amount, reason, key=leg_key,
                           cause=("org", org.id)) for user, amount, leg_key in keyed]
        paid = ledger.post_batch(legs, actor_id=actor.id,
                                 short_message="金豆基金余额不足，暂时无法发放",
                                 short_code="fund_short")
        ids = dict(db.session.execute(select(ledger.Transfer.idempotency_key, ledger.Transfer.id)
                                      .where(ledger.Transfer.idempotency_key.in_(
                                          [k for _u, _a, k in keyed]))).all())
        done = set(db.session.scalars(select(Award.source_key).where(
            Award.source_key.in_(list(ids)))))
        months, now = expiry_months(org), utcnow()
        db.session.add_all([
            Award(org_id=org.id, fund_org_id=payer.id, user_id=user.id, amount=amount,
                  reason=reason, kind="manual", status="paid", source_key=leg_key,
                  transfer_id=ids[leg_key], actor_id=actor.id, created_at=now,
                  expires_at=add_months(now, months) if months else None)
            for user, amount, leg_key in keyed if leg_key not in done])
        if paid:
            audit("points.award_batch", actor=actor, org=org, people=len(lines),
                  total=sum(a for _p, a in lines), reason=reason)
        return paid

    return ledger.atomic(work)


def award_for_service(org: Organization, user: User, *, activity_id: int | None, title: str,
                      minutes: int, points: int, key: str) -> int:
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
            row = _pay(org, user, amount=points, reason=reason, kind="service",
                       source_key=source_key, actor_id=None, activity_id=activity_id)
            audit("points.award", actor=None, org=org, obj=row, user_id=user.id, amount=points,
                  reason=reason)
        return row.amount
    except (Conflict, ledger.LedgerError) as err:
        with db.session.begin_nested():
            row = Award(org_id=org.id, user_id=user.id, amount=points, reason=reason,
                        kind="service", status="unfunded", source_key=source_key,
                        activity_id=activity_id)
            db.session.add(row)
            db.session.flush()
            audit("points.award_unfunded", actor=None, org=org, obj=row, user_id=user.id,
                  amount=points, why=err.code)
        return 0


def pay_unfunded(actor: User, award_id: int) -> Award:
    """Staff pay an award that the fund could not cover when it was earned."""
    row = db.session.get(Award, award_id)
    if row is None:
        raise NotFound("未找到该奖励")
    org = db.session.get(Organization, row.org_id)
    require_role(actor, org, Role.staff)

    def work():
        fresh = db.session.get(Award, award_id)
        if fresh.status == "paid":
            return fresh
        payer = funding_org(org)
        if payer is None:
            raise Conflict("本组织及上级都还没有金豆基金，请先存入", code="no_fund")
        posted = ledger.transfer(
            org_account(payer.id, "fund"), wallet_account(fresh.user_id), fresh.amount,
            reason=fresh.reason, cause=("activity", fresh.activity_id) if fresh.activity_id
            else ("org", org.id), key=fresh.source_key, actor_id=actor.id,
            short_message="金豆基金余额不足，暂时无法发放", short_code="fund_short")
        months = expiry_months(org)
        now = utcnow()
        db.session.execute(update(Award).where(Award.id == award_id, Award.status == "unfunded")
                           .values(status="paid", transfer_id=posted.id, fund_org_id=payer.id,
                                   actor_id=actor.id,
                                   expires_at=add_months(now, months) if months else None))
        audit("points.award_paid_late", actor=actor, org=org, obj=fresh, amount=fresh.amount)
        db.session.expire(fresh)
        return fresh

    return ledger.atomic(work)


def unfunded_awards(org: Organization) -> list[Award]:
    return db.session.scalars(
        select(Award).join(Organization, Organization.id == Award.org_id)
        .where(Award.status == "unfunded",
               Organization.path.startswith(org.path, autoescape=True))
        .order_by(Award.id)).all()


def awards_in(org: Organization):
    """A select of the awards made in ``org``'s subtree."""
    return select(Award).join(Organization, Organization.id == Award.org_id).where(
        Organization.path.startswith(org.path, autoescape=True))


def reversed_transfer_ids(transfer_ids) -> set[int]:
    """Which of these transfers have been reversed."""
    ids = [t for t in transfer_ids if t]
    if not ids:
        return set()
    return set(db.session.scalars(select(ledger.Transfer.reverses_id).where(
        ledger.Transfer.reverses_id.in_(ids))))


def reverse_award(actor: User, award_id: int, *, reason: str):
    """Undo a mistaken award with a reversing transfer (409 if already spent)."""
    row = db.session.get(Award, award_id)
    if row is None or row.transfer_id is None:
        raise NotFound("未找到该奖励")
    org = db.session.get(Organization, row.org_id)
    require_role(actor, org, Role.staff)

    def work():
        posted = ledger.reverse(row.transfer_id, reason=f"冲正：{reason}", actor_id=actor.id,
                                short_message="金豆已被使用，无法冲正")
        # The award no longer counts (光荣榜, report, expiry); the ledger keeps both lines.
        db.session.execute(update(Award).where(Award.id == award_id, Award.reversed_at.is_(None))
                           .values(reversed_at=utcnow()))
        if not posted.replayed:
            audit("points.award_reversed", actor=actor, org=org, obj=row, reason=reason)
        return posted

    return ledger.atomic(work)


# -- expiry -----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                           31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return moment.replace(year=year, month=month, day=day)


def set_expiry(actor: User, org: Organization, months: int | None) -> None:
    require_role(actor, org, Role.admin)
    row = db.session.get(Setting, org.id)
    if row is None:
        db.session.add(Setting(org_id=org.id, expiry_months=months))
    else:
        row.expiry_months = months
    audit("points.expiry_set", actor=actor, org=org, months=months)


def expire_wallet(user_id: int, now: datetime, enabled=None) -> int:
    """Expire what is left of this person's awards past their date; return the amount.

    Spending uses the oldest beans first, so what remains of an award is its
    amount minus the part of all outflows (spent, held, expired before) that
    older awards did not absorb. A reversed award and its reversal cancel
    out: neither takes part. Expired beans go back to the fund that paid
    them. Rerunning finds nothing left, so the command is idempotent.
    ``enabled(org_id)`` says whether awards made in that organization may
    expire (points on there); their beans still count in the oldest-first order.
    """
    acc = wallet_account(user_id, create=False)
    if acc is None:
        return 0
    ledger.lock([acc.id])
    out = db.session.scalar(select(func.coalesce(func.sum(ledger.Transfer.amount), 0)).where(
        ledger.Transfer.debit_account_id == acc.id, ledger.Transfer.reverses_id.is_(None),
        ledger.in_effect()))
    remaining_out = int(out)
    # (organization that awarded, organization whose fund paid) -> beans to expire
    to_expire: dict[tuple[int, int], int] = {}
    awards = db.session.execute(
        select(Award.amount, Award.expires_at, Award.org_id, Award.fund_org_id)
        .where(Award.user_id == user_id, Award.status == "paid", Award.reversed_at.is_(None))
        .order_by(Award.created_at, Award.id)).all()
    for amount, expires_at, org_id, fund_org_id in awards:
        absorbed = min(remaining_out, amount)
        remaining_out -= absorbed
        left = amount - absorbed
        if left and expires_at is not None and expires_at <= now and (
                enabled is None or enabled(org_id)):
            to_expire[(org_id, fund_org_id)] = to_expire.get((org_id, fund_org_id), 0) + left
    for (org_id, fund_org_id), amount in sorted(to_expire.items()):
        ledger.transfer(acc.id, org_account(fund_org_id, "fund"), amount, reason="金豆过期",
                        cause=("points_expiry", org_id),
                        key=f"points:expire:{acc.id}:{out}:{org_id}:{fund_org_id}")
    return sum(to_expire.values())


def expire_all(now: datetime | None = None) -> tuple[int, int]:
    """Expire beans everywhere points is on; return (people affected, beans expired)."""
    now = now or utcnow()
    enabled = points_on()
    rows = db.session.execute(select(Award.user_id, Award.org_id).distinct().where(
        Award.status == "paid", Award.reversed_at.is_(None), Award.expires_at <= now)).all()
    user_ids = sorted({user_id for user_id, org_id in rows if enabled(org_id)})
    people = beans = 0
    for user_id in user_ids:
        amount = ledger.atomic(
            lambda user_id=user_id: _expire_and_audit(user_id, now, enabled))
        if amount:
            people += 1
            beans += amount
    return people, beans


def points_on():
    """``enabled(org_id)``: is points switched on there (cached per organization)?"""
    manager = current_app.extensions["jindou_plugins"]
    seen: dict[int, bool] = {}

    def enabled(org_id: int) -> bool:
        if org_id not in seen:
            org = db.session.get(Organization, org_id)
            seen[org_id] = org is not None and manager.is_enabled(org, "points")
        return seen[org_id]

    return enabled


def _expire_and_audit(user_id: int, now: datetime, enabled=None) -> int:
    amount = expire_wallet(user_id, now, enabled)
    if amount:
        audit("points.expired", actor=None, user_id=user_id, amount=amount)
    return amount


# -- rewards ----------------------------------------------------------------------------


def create_reward(actor: User, org: Organization, *, name: str, cost: int, stock: int,
                  description: str = "", per_person_limit: int | None = None,
                  starts_at: datetime | None = None, ends_at: datetime | None = None) -> Reward:
    require_role(actor, org, Role.staff)
    reward = Reward(org_id=org.id, name=name.strip(), description=description.strip(),
                    cost=cost, stock=stock, per_person_limit=per_person_limit,
                    starts_at=starts_at, ends_at=ends_at, created_by=actor.id)
    db.session.add(reward)
    db.session.flush()
    audit("points.reward_create", actor=actor, org=org, obj=reward, name=reward.name, cost=cost,
          stock=stock)
    return reward


def update_reward(actor: User, reward: Reward, *, add_stock: int = 0,
                  active: bool | None = None) -> Reward:
    require_role(actor, reward.org, Role.staff)
    if add_stock:
        db.session.execute(update(Reward).where(Reward.id == reward.id)
                           .values(stock=Reward.stock + add_stock))
    if active is not None:
        reward.active = active
    audit("points.reward_update", actor=actor, org=reward.org, obj=reward, add_stock=add_stock,
          active=active)
    db.session.flush()
    db.session.refresh(reward)
    return reward


def visible_reward(user: User, reward_id: int) -> Reward:
    reward = db.session.get(Reward, reward_id)
    if reward is None or not can_see(user, reward.org):
        raise NotFound("未找到该兑换商品", code="reward_not_found")
    return reward


def rewards_for(org: Organization, *, include_inactive: bool = False):
    """A select of the rewards offered at ``org`` and above it (members below see them)."""
    stmt = select(Reward).where(Reward.org_id.in_(org.ancestor_ids))
    if not include_inactive:
        stmt = stmt.where(Reward.active.is_(True))
    return stmt


def is_open(reward: Reward, now: datetime) -> bool:
    return reward.active and (reward.starts_at is None or reward.starts_at <= now) and (
        reward.ends_at is None or now < reward.ends_at)


# -- redemptions ---------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def request_redemption(user: User, reward_id: int, *, quantity: int, key: str) -> Redemption:
    """Hold ``quantity × cost`` beans and reserve the stock until staff decide.

    Locks the reward row (stock update) first, then the two accounts: the
    same order everywhere, so concurrent requests queue instead of deadlocking.
    """
    reward = visible_reward(user, reward_id)
    request_key = f"points:redeem:{user.id}:{key}"

    def work():
        existing = db.session.scalar(select(Redemption).where(Redemption.request_key == request_key))
        if existing is not None:
            if (existing.reward_id, existing.quantity) != (reward.id, quantity):
                raise Conflict("幂等键已用于另一笔不同的兑换", code="idempotency_conflict")
            return existing
        db.session.refresh(reward)
        if not is_open(reward, utcnow()):
            raise Conflict("该商品现在不能兑换", code="reward_closed")
        taken = db.session.execute(update(Reward).where(Reward.id == reward.id,
                                                        Reward.stock >= quantity)
                                   .values(stock=Reward.stock - quantity))
        if taken.rowcount != 1:
            raise Conflict("库存不足，换一件试试吧", code="out_of_stock")
        if reward.per_person_limit is not None:
            mine = db.session.scalar(select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.reward_id == reward.id, Redemption.user_id == user.id,
                Redemption.status.in_(ACTIVE_REDEMPTIONS)))
            if mine + quantity > reward.per_person_limit:
                raise Conflict(f"每人最多兑换 {reward.per_person_limit} 件", code="limit_reached")
        total = reward.cost * quantity
        held = ledger.transfer(wallet_account(user.id), org_account(reward.org_id, "redeemed"),
                               total, reason=f"兑换：{reward.name} ×{quantity}",
                               cause=("points_reward", reward.id), key=request_key,
                               actor_id=user.id, pending=True,
                               short_message=f"金豆不够：兑换需要 {total} 金豆")
        row = Redemption(reward_id=reward.id, org_id=reward.org_id, user_id=user.id,
                         quantity=quantity, total=total, status="pending", code=_new_code(),
                         request_key=request_key, transfer_id=held.id)
        db.session.add(row)
        db.session.flush()
        audit("points.redeem_request", actor=user, org=reward.org, obj=row, reward_id=reward.id,
              quantity=quantity, total=total)
        return row

    return ledger.atomic(work)


def staff_redemption(actor: User, redemption_id: int) -> Redemption:
    row = db.session.get(Redemption, redemption_id)
    if row is None:
        raise NotFound("未找到该兑换")
    require_role(actor, db.session.get(Organization, row.org_id), Role.staff)
    return row


def _move(redemption_id: int, from_status: str, to_status: str, **values) -> bool:
    """Change status only from ``from_status`` (a race loses cleanly)."""
    changed = db.session.execute(update(Redemption).where(
        Redemption.id == redemption_id, Redemption.status == from_status)
        .values(status=to_status, **values))
    return changed.rowcount == 1


def _decided(row: Redemption, wanted: str) -> Redemption:
    """After a lost race: the same outcome is a replay, any other is a 409."""
    db.session.refresh(row)
    if row.status == wanted:
        return row
    raise Conflict(f"该兑换已{row.status_title}，不能再操作", code="redemption_settled")


def approve(actor: User, redemption_id: int) -> Redemption:
    row = staff_redemption(actor, redemption_id)

    def work():
        if not _move(row.id, "pending", "approved", decided_at=utcnow(), decided_by=actor.id):
            return _decided(row, "approved"), False
        ledger.post_pending(row.transfer_id, actor_id=actor.id)
        audit("points.redeem_approve", actor=actor, org=row.reward.org, obj=row)
        db.session.refresh(row)
        return row, True

    row, newly = ledger.atomic(work)
    if newly:
        current_app.extensions["jindou_plugins"].emit(
            row.reward.org, "redemption_approved", user=row.user, redemption_id=row.id,
            reward_name=row.reward.name, quantity=row.quantity, total=row.total)
        db.session.commit()
    return row


def _give_back(row: Redemption) -> None:
    """Return the held beans and the reserved stock."""
    db.session.execute(update(Reward).where(Reward.id == row.reward_id)
                       .values(stock=Reward.stock + row.quantity))
    ledger.void_pending(row.transfer_id)


def reject(actor: User, redemption_id: int, *, reason: str = "") -> Redemption:
    row = staff_redemption(actor, redemption_id)

    def work():
        if not _move(row.id, "pending", "rejected", decided_at=utcnow(), decided_by=actor.id,
                     reject_reason=reason):
            return _decided(row, "rejected")
        _give_back(row)
        audit("points.redeem_reject", actor=actor, org=row.reward.org, obj=row, reason=reason)
        db.session.refresh(row)
        return row

    return ledger.atomic(work)


def cancel(user: User, redemption_id: int) -> Redemption:
    """The volunteer withdraws a request that is still waiting."""
    row = db.session.get(Redemption, redemption_id)
    if row is None or row.user_id != user.id:
        raise NotFound("未找到该兑换")

    def work():
        if not _move(row.id, "pending", "cancelled", decided_at=utcnow()):
            return _decided(row, "cancelled")
        _give_back(row)
        audit("points.redeem_cancel", actor=user, org=row.reward.org, obj=row)
        db.session.refresh(row)
        return row

    return ledger.atomic(work)


def fulfil(actor: User, redemption_id: int) -> Redemption:
    """Staff hand the reward over (after scanning or typing the pickup code)."""
    row = staff_redemption(actor, redemption_id)

    def work():
        if not _move(row.id, "approved", "fulfilled", fulfilled_at=utcnow(),
                     fulfilled_by=actor.id):
            db.session.refresh(row)
            if row.status == "pending":
                raise Conflict("该兑换还没有审核通过", code="not_approved")
            return _decided(row, "fulfilled")
        audit("points.redeem_fulfil", actor=actor, org=row.reward.org, obj=row)
        db.session.refresh(row)
        return row

    return ledger.atomic(work)


def by_code(code: str) -> Redemption | None:
    code = "".join(code.split()).upper()
    return db.session.scalar(select(Redemption).where(Redemption.code == code))


def queue(org: Organization, status: str | None):
    """A select of the redemptions of rewards in ``org``'s subtree."""
    stmt = select(Redemption).join(Organization, Organization.id == Redemption.org_id).where(
        Organization.path.startswith(org.path, autoescape=True))
    if status:
        stmt = stmt.where(Redemption.status == status)
    return stmt


# -- history, leaderboard and report -----------------------------------------------------


def history(user: User, *, before_id: int | None = None, limit: int = 50) -> list[dict]:
    """The wallet's lines, newest first: signed amount, reason, where from/to."""
    acc = wallet_account(user.id, create=False)
    if acc is None:
        return []
    stmt = ledger.transfers_of(acc.id)
    if before_id:
        stmt = stmt.where(ledger.Transfer.id < before_id)
    rows = db.session.scalars(stmt.order_by(ledger.Transfer.id.desc()).limit(limit)).all()
    others = {r.credit_account_id if r.debit_account_id == acc.id else r.debit_account_id
              for r in rows}
    names = counterpart_names(others)
    return [{"id": r.id, "amount": -r.amount if r.debit_account_id == acc.id else r.amount,
             "reason": r.reason, "at": r.created_at, "status": r.status,
             "counterpart": names.get(r.credit_account_id if r.debit_account_id == acc.id
                                      else r.debit_account_id, "")}
            for r in rows]


KIND_TITLES = {"fund": "金豆基金", "redeemed": "兑换", "donations": "捐赠", "wallet": "金豆账户"}


def counterpart_names(account_ids) -> dict[int, str]:
    if not account_ids:
        return {}
    accounts = db.session.execute(select(ledger.Account.id, ledger.Account.owner_type,
                                         ledger.Account.owner_id, ledger.Account.kind)
                                  .where(ledger.Account.id.in_(account_ids))).all()
    org_names = dict(db.session.execute(select(Organization.id, Organization.name).where(
        Organization.id.in_([a.owner_id for a in accounts if a.owner_type == "org"]))).all())
    user_names = dict(db.session.execute(select(User.id, User.name).where(
        User.id.in_([a.owner_id for a in accounts if a.owner_type == "user"]))).all())
    return {a.id: (f"{org_names.get(a.owner_id, '')} {KIND_TITLES.get(a.kind, a.kind)}"
                   if a.owner_type == "org" else user_names.get(a.owner_id, ""))
            for a in accounts}


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month in local time (Asia/Shanghai by default), as aware datetimes."""
    name = current_app.config.get("JINDOU_TIMEZONE", "Asia/Shanghai") if has_app_context() \
        else "Asia/Shanghai"
    zone = ZoneInfo(name)
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise BadRequest("月份应为 YYYY-MM", fields={"month": [f"须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"]})
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, end


def _subtree_ids(org: Organization):
    return select(Organization.id).where(Organization.path.startswith(org.path, autoescape=True))


def leaderboard(org: Organization, month: date, limit: int = 20) -> list[tuple[User, int]]:
    """光荣榜: who earned most in ``org``'s subtree during ``month``."""
    start, end = month_bounds(month)
    total = func.sum(Award.amount).label("total")
    rows = db.session.execute(
        select(Award.user_id, total).where(Award.status == "paid", Award.reversed_at.is_(None),
                                           Award.org_id.in_(_subtree_ids(org)),
                                           Award.created_at >= start, Award.created_at < end)
        .group_by(Award.user_id).order_by(total.desc(), Award.user_id).limit(limit)).all()
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_([r.user_id for r in rows])))}
    return [(users[r.user_id], int(r.total)) for r in rows]


def report(org: Organization, month: date) -> dict[str, int]:
    """Issued, redeemed, expired in ``month``; outstanding and fund balance now."""
    start, end = month_bounds(month)
    in_tree = _subtree_ids(org)
    issued = db.session.scalar(select(func.coalesce(func.sum(Award.amount), 0)).where(
        Award.status == "paid", Award.reversed_at.is_(None), Award.org_id.in_(in_tree), Award.created_at >= start,
        Award.created_at < end))
    unfunded = db.session.scalar(select(func.coalesce(func.sum(Award.amount), 0)).where(
        Award.status == "unfunded", Award.org_id.in_(in_tree), Award.created_at >= start,
        Award.created_at < end))
    redeemed = db.session.scalar(select(func.coalesce(func.sum(Redemption.total), 0)).where(
        Redemption.status.in_(("approved", "fulfilled")), Redemption.org_id.in_(in_tree),
        Redemption.decided_at >= start, Redemption.decided_at < end))
    expired = db.session.scalar(select(func.coalesce(func.sum(ledger.Transfer.amount), 0)).where(
        ledger.Transfer.cause_type == "points_expiry", ledger.Transfer.cause_id.in_(in_tree),
        ledger.Transfer.created_at >= start, ledger.Transfer.created_at < end))
    members = select(Membership.user_id).where(Membership.org_id.in_(in_tree))
    outstanding = db.session.scalar(select(func.coalesce(func.sum(ledger.Account.balance), 0))
                                    .where(ledger.Account.owner_type == "user",
                                           ledger.Account.kind == "wallet",
                                           ledger.Account.owner_id.in_(members)))
    funds = db.session.scalar(select(func.coalesce(func.sum(ledger.Account.balance), 0)).where(
        ledger.Account.owner_type == "org", ledger.Account.kind == "fund",
        ledger.Account.owner_id.in_(in_tree)))
    return {"issued": int(issued), "redeemed": int(redeemed), "expired": int(expired),
            "outstanding": int(outstanding), "fund_balance": int(funds),
            "unfunded": int(unfunded)}


REPORT_TITLES = {"issued": "本月发放", "redeemed": "本月兑换", "expired": "本月过期",
                 "outstanding": "成员持有（未使用）", "fund_balance": "金豆基金余额",
                 "unfunded": "本月待补发"}


def pending_count(org: Organization) -> int:
    return db.session.scalar(select(func.count()).select_from(
        queue(org, "pending").subquery()))


def parse_month(value: str | None) -> date:
    """``2026-12`` → date(2026, 12, 1); default: this month (local time)."""
    if value:
        try:
            year, month = (int(part) for part in value.split("-"))
            if 2000 <= year <= 2100:
                return date(year, month, 1)
        except ValueError:
            pass
    today = (utcnow() + timedelta(hours=8)).date()
    return today.replace(day=1)


# -- demo --------------------------------------------------------------------------------


def seed_demo(orgs: dict, users: dict) -> None:
    """A district fund, a few rewards, some beans for the demo volunteers (via the ledger)."""
    district, community = orgs["district"], orgs.get("community1", orgs["district"])
    admin = users["admin"]
    staff = users.get("staff", admin)
    deposit(admin, district, amount=100_000, key="demo-fund", donor="盘龙区爱心企业",
            note="演示数据")
    for name, cost, stock, description in [
        ("洗衣液一瓶", 50, 30, "社区服务站领取"), ("理发券", 80, 20, "爱心商家提供"),
        ("大米5公斤", 200, 10, "每人限兑1件")]:
        create_reward(staff, community, name=name, cost=cost, stock=stock,
                      description=description,
                      per_person_limit=1 if cost >= 200 else None)
    for i, key in enumerate(("volunteer1", "volunteer2", "volunteer3"), start=1):
        if key in users:
            person = users[key]
            home = db.session.scalar(select(Organization).join(
                Membership, Membership.org_id == Organization.id)
                .where(Membership.user_id == person.id))
            award(staff if home.is_within(community) else admin, home, phone=person.phone,
                  amount=100 * i, reason="志愿服务积极分子", key=f"demo-{key}")
