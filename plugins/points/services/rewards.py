"""The reward catalog and redemption: a hold on the wallet, then staff
approve (the hold is posted), reject or the volunteer cancels (voided), and
the reward is handed over against its pickup code."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select, update

from core import ledger
from core.access import can_see, require_role
from core.api import Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Organization, Role, User, utcnow
from core.plugins import manager
from plugins.points.models import Redemption, Reward
from plugins.points.services.accounts import org_account, wallet_account

ACTIVE_REDEMPTIONS = ("pending", "approved", "fulfilled")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a desk
SELF_APPROVAL = "不能处理自己的兑换，请由其他工作人员办理（自己的申请可以取消）"


def create_reward(
    actor: User,
    org: Organization,
    *,
    name: str,
    cost: int,
    stock: int,
    description: str = "",
    per_person_limit: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Reward:
    require_role(actor, org, Role.staff)
    reward = Reward(
        org_id=org.id,
        name=name.strip(),
        description=description.strip(),
        cost=cost,
        stock=stock,
        per_person_limit=per_person_limit,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor.id,
    )
    db.session.add(reward)
    db.session.flush()
    audit(
        "points.reward_create",
        actor=actor,
        org=org,
        obj=reward,
        name=reward.name,
        cost=cost,
        stock=stock,
    )
    return reward


def update_reward(
    actor: User, reward: Reward, *, add_stock: int = 0, active: bool | None = None
) -> Reward:
    require_role(actor, reward.org, Role.staff)
    if add_stock:
        db.session.execute(
            update(Reward).where(Reward.id == reward.id).values(stock=Reward.stock + add_stock)
        )
    if active is not None:
        reward.active = active
    audit(
        "points.reward_update",
        actor=actor,
        org=reward.org,
        obj=reward,
        add_stock=add_stock,
        active=active,
    )
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
    return (
        reward.active
        and (reward.starts_at is None or reward.starts_at <= now)
        and (reward.ends_at is None or now < reward.ends_at)
    )


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
        existing = db.session.scalar(
            select(Redemption).where(Redemption.request_key == request_key)
        )
        if existing is not None:
            if (existing.reward_id, existing.quantity) != (reward.id, quantity):
                raise Conflict("幂等键已用于另一笔不同的兑换", code="idempotency_conflict")
            return existing
        db.session.refresh(reward)
        if not is_open(reward, utcnow()):
            raise Conflict("该商品现在不能兑换", code="reward_closed")
        taken = db.session.execute(
            update(Reward)
            .where(Reward.id == reward.id, Reward.stock >= quantity)
            .values(stock=Reward.stock - quantity)
        )
        if taken.rowcount != 1:
            raise Conflict("库存不足，换一件试试吧", code="out_of_stock")
        if reward.per_person_limit is not None:
            mine = db.session.scalar(
                select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                    Redemption.reward_id == reward.id,
                    Redemption.user_id == user.id,
                    Redemption.status.in_(ACTIVE_REDEMPTIONS),
                )
            )
            if mine + quantity > reward.per_person_limit:
                raise Conflict(f"每人最多兑换 {reward.per_person_limit} 件", code="limit_reached")
        total = reward.cost * quantity
        held = ledger.transfer(
            wallet_account(user.id),
            org_account(reward.org_id, "redeemed"),
            total,
            reason=f"兑换：{reward.name} ×{quantity}",
            cause=("points_reward", reward.id),
            key=request_key,
            actor_id=user.id,
            pending=True,
            short_message=f"金豆不够：兑换需要 {total} 金豆",
        )
        row = Redemption(
            reward_id=reward.id,
            org_id=reward.org_id,
            user_id=user.id,
            quantity=quantity,
            total=total,
            status="pending",
            code=_new_code(),
            request_key=request_key,
            transfer_id=held.id,
        )
        db.session.add(row)
        db.session.flush()
        audit(
            "points.redeem_request",
            actor=user,
            org=reward.org,
            obj=row,
            reward_id=reward.id,
            quantity=quantity,
            total=total,
        )
        return row

    return ledger.atomic(work)


def staff_redemption(actor: User, redemption_id: int) -> Redemption:
    row = db.session.get(Redemption, redemption_id)
    if row is None:
        raise NotFound("未找到该兑换")
    require_role(actor, db.session.get(Organization, row.org_id), Role.staff)
    return row


def deciding_redemption(actor: User, redemption_id: int) -> Redemption:
    """A redemption ``actor`` may approve, reject or hand over: staff over it,
    and not their own (403 ``self_approval``; the owner may cancel instead)."""
    row = staff_redemption(actor, redemption_id)
    if row.user_id == actor.id:
        raise Forbidden(SELF_APPROVAL, code="self_approval")
    return row


def _move(redemption_id: int, from_status: str, to_status: str, **values) -> bool:
    """Change status only from ``from_status`` (a race loses cleanly)."""
    changed = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption_id, Redemption.status == from_status)
        .values(status=to_status, **values)
    )
    return changed.rowcount == 1


def _decided(row: Redemption, wanted: str) -> Redemption:
    """After a lost race: the same outcome is a replay, any other is a 409."""
    db.session.refresh(row)
    if row.status == wanted:
        return row
    raise Conflict(f"该兑换已{row.status_title}，不能再操作", code="redemption_settled")


def approve(actor: User, redemption_id: int) -> Redemption:
    row = deciding_redemption(actor, redemption_id)

    def work():
        if not _move(row.id, "pending", "approved", decided_at=utcnow(), decided_by=actor.id):
            return _decided(row, "approved"), False
        ledger.post_pending(row.transfer_id, actor_id=actor.id)
        audit("points.redeem_approve", actor=actor, org=row.reward.org, obj=row)
        db.session.refresh(row)
        return row, True

    row, newly = ledger.atomic(work)
    if newly:
        manager().emit(
            row.reward.org,
            "redemption_approved",
            user=row.user,
            redemption_id=row.id,
            reward_name=row.reward.name,
            quantity=row.quantity,
            total=row.total,
        )
        db.session.commit()
    return row


def _give_back(row: Redemption) -> None:
    """Return the held beans and the reserved stock."""
    db.session.execute(
        update(Reward).where(Reward.id == row.reward_id).values(stock=Reward.stock + row.quantity)
    )
    ledger.void_pending(row.transfer_id)


def reject(actor: User, redemption_id: int, *, reason: str = "") -> Redemption:
    row = deciding_redemption(actor, redemption_id)

    def work():
        if not _move(
            row.id,
            "pending",
            "rejected",
            decided_at=utcnow(),
            decided_by=actor.id,
            reject_reason=reason,
        ):
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
    row = deciding_redemption(actor, redemption_id)

    def work():
        if not _move(row.id, "approved", "fulfilled", fulfilled_at=utcnow(), fulfilled_by=actor.id):
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
    stmt = (
        select(Redemption)
        .join(Organization, Organization.id == Redemption.org_id)
        .where(Organization.path.startswith(org.path, autoescape=True))
    )
    if status:
        stmt = stmt.where(Redemption.status == status)
    return stmt


def pending_count(org: Organization) -> int:
    return db.session.scalar(select(func.count()).select_from(queue(org, "pending").subquery()))
