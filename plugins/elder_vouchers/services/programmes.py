"""Programmes, their budgets, enrolment and wallets."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from core import ledger
from core.access import require_role
from core.api import Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User
from core.people.services import age_on, is_staff_over, may_act_for
from core.plugins import require_enabled
from core.times import local_today
from plugins.elder_vouchers.models import Enrolment, Programme
from plugins.elder_vouchers.services.accounts import (
    PLUGIN,
    budget_balance,
    programme_account,
    wallet,
)


def create_programme(
    actor: User,
    org: Organization,
    *,
    name: str,
    monthly_amount: int,
    min_age: int = 0,
    hardship_only: bool = False,
    expiry: str = "month_end",
) -> Programme:
    """An admin of ``org`` sets up a programme covering ``org``'s subtree."""
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.admin)
    row = Programme(
        org_id=org.id,
        name=name,
        monthly_amount=monthly_amount,
        min_age=min_age,
        hardship_only=hardship_only,
        expiry=expiry,
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    programme_account(row.id, "budget")
    audit(
        "elder_vouchers.programme_create",
        actor=actor,
        org=org,
        obj=row,
        monthly_amount=monthly_amount,
    )
    return row


def get_programme(programme_id: int) -> Programme:
    row = db.session.get(Programme, programme_id)
    if row is None:
        raise NotFound("没有这个服务券项目")
    return row


def programme_org(programme: Programme) -> Organization:
    return db.session.get(Organization, programme.org_id)


def enrolled_count(programme: Programme) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Enrolment)
        .where(Enrolment.programme_id == programme.id, Enrolment.active.is_(True))
    )


def programme_dict(programme: Programme) -> dict:
    return {
        "id": programme.id,
        "name": programme.name,
        "org_id": programme.org_id,
        "monthly_amount": programme.monthly_amount,
        "min_age": programme.min_age,
        "hardship_only": programme.hardship_only,
        "expiry": programme.expiry,
        "budget": budget_balance(programme.id),
        "enrolled": enrolled_count(programme),
    }


def programmes_of(org: Organization) -> list[Programme]:
    """Programmes that cover ``org``: its own and its ancestors'."""
    return list(
        db.session.scalars(
            select(Programme).where(Programme.org_id.in_(org.ancestor_ids)).order_by(Programme.id)
        )
    )


def deposit(actor: User, programme: Programme, *, amount: int, key: str, note: str = "") -> int:
    """An admin over the programme funds its budget (idempotent by ``key``); the new budget."""
    org = programme_org(programme)
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.admin)

    def work():
        posted = ledger.transfer(
            programme_account(programme.id, "funding"),
            programme_account(programme.id, "budget"),
            amount,
            reason=f"预算拨付：{note}" if note else "预算拨付",
            cause=("elder_vouchers_programme", programme.id),
            key=f"ev:deposit:{programme.id}:{actor.id}:{key}",
            actor_id=actor.id,
        )
        if not posted.replayed:
            audit("elder_vouchers.deposit", actor=actor, org=org, obj=programme, amount=amount)
        return budget_balance(programme.id)

    return ledger.atomic(work)


def lives_in(person: User, org: Organization) -> bool:
    """Whether ``person`` is a member of ``org``'s subtree (where they live)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Organization, Organization.id == Membership.org_id)
            .where(
                Membership.user_id == person.id,
                Organization.path.startswith(org.path, autoescape=True),
            )
        )
        > 0
    )


def ineligibility(programme: Programme, person: User, today: date | None = None) -> str | None:
    """Why ``person`` may not join (Chinese), or None."""
    if programme.min_age:
        if person.birth_date is None:
            return "没有登记出生日期，无法核对年龄"
        age = age_on(person.birth_date, today or local_today())
        if age < programme.min_age:
            return f"年龄不足：{age} 岁，本项目要求 {programme.min_age} 岁以上"
    if programme.hardship_only and not person.hardship:
        return "本项目仅限困难老人（低保、特困、分散供养），此人未登记为困难"
    return None


def enrol(actor: User, programme: Programme, person_id: int) -> tuple[Enrolment, bool]:
    """Staff over the person, inside the programme's subtree, enrol them;
    answers (enrolment, created). 409 ``not_eligible`` with the reason."""
    org = programme_org(programme)
    require_enabled(org, PLUGIN)
    person = db.session.get(User, person_id)
    if person is None or not is_staff_over(actor, person):
        if person is not None and may_act_for(actor, person):
            raise Forbidden("没有权限：需要工作人员权限")
        raise NotFound("未找到该用户", code="user_not_found")
    if not lives_in(person, org):
        raise Forbidden("此人不在本项目覆盖的范围内", code="outside_programme")
    reason = ineligibility(programme, person)
    if reason:
        raise Conflict(reason, code="not_eligible", fields={"user_id": [reason]})
    row = db.session.scalar(
        select(Enrolment).where(
            Enrolment.programme_id == programme.id, Enrolment.user_id == person.id
        )
    )
    if row is not None and row.active:
        return row, False
    if row is None:
        row = Enrolment(programme_id=programme.id, user_id=person.id, created_by_id=actor.id)
        db.session.add(row)
    row.active = True
    db.session.flush()
    audit("elder_vouchers.enrol", actor=actor, org=org, obj=programme, user_id=person.id)
    return row, True


def unenrol(actor: User, programme: Programme, person_id: int) -> None:
    """Staff over the person (or over the programme): no further issuance;
    what was issued stays until it lapses."""
    org = programme_org(programme)
    require_enabled(org, PLUGIN)
    person = db.session.get(User, person_id)
    if person is None or not is_staff_over(actor, person):  # the rule enrolment has
        require_role(actor, org, Role.staff)
    row = db.session.scalar(
        select(Enrolment).where(
            Enrolment.programme_id == programme.id,
            Enrolment.user_id == person_id,
            Enrolment.active.is_(True),
        )
    )
    if row is None:
        raise NotFound("此人没有参加本项目", code="not_enrolled")
    row.active = False
    audit("elder_vouchers.unenrol", actor=actor, org=org, obj=programme, user_id=person_id)


def wallet_items(person: User) -> list[dict]:
    """Per programme the person holds vouchers of: ``balance`` spendable now, ``held``."""
    enrolled = select(Enrolment.programme_id).where(Enrolment.user_id == person.id)
    items = []
    for programme in db.session.scalars(
        select(Programme).where(Programme.id.in_(enrolled)).order_by(Programme.id)
    ):
        acc = wallet(programme.id, person.id, create=False)
        items.append(
            {
                "programme_id": programme.id,
                "name": programme.name,
                "balance": acc.balance - acc.held if acc else 0,
                "held": acc.held if acc else 0,
            }
        )
    return items


def wallet_of(actor: User, person_id: int | None) -> list[dict]:
    """The wallet of myself, or of a person I act for (relative) or am staff over."""
    if person_id is None or person_id == actor.id:
        return wallet_items(actor)
    person = db.session.get(User, person_id)
    if person is None or not may_act_for(actor, person, staff_ok=True):
        raise NotFound("未找到该用户")
    return wallet_items(person)
