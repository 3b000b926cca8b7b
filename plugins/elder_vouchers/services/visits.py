"""Providers, their services and workers; home visits (electronic visit
verification): open at the door (the price is held on the person's
vouchers), finish by scanning the same person again (the hold is posted),
or cancel (the hold is voided). Then the person or a relative rates it or
disputes it, and staff resolve disputes (upheld: a reversing transfer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core import ledger
from core.access import has_role, require_role
from core.api import BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import Membership, Organization, Role, User, utcnow
from core.people.services import may_act_for, resolve_person_code
from core.plugins import require_enabled
from plugins.elder_vouchers.models import Programme, Provider, Service, Visit, Worker
from plugins.elder_vouchers.services.accounts import PLUGIN, provider_account, wallet
from plugins.elder_vouchers.services.programmes import lives_in

WORKER_ROLE = "elder_vouchers.worker"


# -- providers and workers ---------------------------------------------------------------


def create_provider(actor: User, org: Organization, *, name: str, services: list[dict]) -> Provider:
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.admin)
    row = Provider(org_id=org.id, name=name)
    db.session.add(row)
    db.session.flush()
    for item in services:
        db.session.add(Service(provider_id=row.id, name=item["name"], price=item["price"]))
    db.session.flush()
    audit("elder_vouchers.provider_create", actor=actor, org=org, obj=row)
    return row


def get_provider(provider_id: int) -> Provider:
    row = db.session.get(Provider, provider_id)
    if row is None:
        raise NotFound("没有这个服务商")
    return row


def services_of(provider: Provider) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service).where(Service.provider_id == provider.id).order_by(Service.id)
        )
    )


def provider_dict(provider: Provider) -> dict:
    return {
        "id": provider.id,
        "name": provider.name,
        "org_id": provider.org_id,
        "services": [{"id": s.id, "name": s.name, "price": s.price} for s in services_of(provider)],
    }


def add_worker(actor: User, provider: Provider, phone: str) -> tuple[User, bool]:
    """Link a registered user as the provider's worker (admin over the provider);
    they also get the ``elder_vouchers.worker`` role at its organization."""
    org = db.session.get(Organization, provider.org_id)
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.admin)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise NotFound("该手机号尚未注册，请服务人员先注册", code="user_not_found")
    if is_worker(user, provider):
        return user, False
    db.session.add(Worker(provider_id=provider.id, user_id=user.id))
    if (
        db.session.scalar(
            select(Membership.id).where(
                Membership.user_id == user.id,
                Membership.org_id == org.id,
                Membership.role == WORKER_ROLE,
            )
        )
        is None
    ):
        db.session.add(Membership(user_id=user.id, org_id=org.id, role=WORKER_ROLE))
    db.session.flush()
    audit("elder_vouchers.worker_add", actor=actor, org=org, obj=provider, user_id=user.id)
    return user, True


def is_worker(user: User | None, provider: Provider) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        db.session.scalar(
            select(Worker.id).where(Worker.provider_id == provider.id, Worker.user_id == user.id)
        )
        is not None
    )


def providers_of_worker(user: User) -> list[Provider]:
    return list(
        db.session.scalars(
            select(Provider)
            .join(Worker, Worker.provider_id == Provider.id)
            .where(Worker.user_id == user.id)
            .order_by(Provider.id)
        )
    )


def workers_of(provider: Provider) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Worker, Worker.user_id == User.id)
            .where(Worker.provider_id == provider.id)
            .order_by(Worker.id)
        )
    )


# -- visits --------------------------------------------------------------------------------


def get_visit(visit_id: int) -> Visit:
    row = db.session.get(Visit, visit_id)
    if row is None:
        raise NotFound("没有这次服务记录")
    return row


def open_visit_of(worker: User) -> Visit | None:
    return db.session.scalar(
        select(Visit).where(Visit.worker_id == worker.id, Visit.status == "open")
    )


def start_visit(
    worker: User,
    provider: Provider,
    *,
    person_code: str,
    service_id: int,
    programme_id: int,
    now: datetime | None = None,
) -> Visit:
    """A worker of the provider at the elder's door: the price is held on the
    person's vouchers. 409 ``visit_open`` / ``insufficient_vouchers``; 403 when
    the person lives outside the provider's organization."""
    org = db.session.get(Organization, provider.org_id)
    require_enabled(org, PLUGIN)
    if not is_worker(worker, provider):
        raise Forbidden("你不是该服务商的服务人员")
    service = db.session.get(Service, service_id)
    if service is None or service.provider_id != provider.id:
        raise BadRequest("服务项目无效", fields={"service_id": ["不是该服务商的服务项目"]})
    programme = db.session.get(Programme, programme_id)
    if programme is None or not _overlaps(programme, org):
        raise BadRequest("服务券项目无效", fields={"programme_id": ["该服务商不在此项目范围内"]})
    person = resolve_person_code(person_code, within_org=org)
    if not lives_in(person, org):
        raise Forbidden("此人不住在该服务商的服务范围内", code="outside_area")

    def work():
        if open_visit_of(worker) is not None:
            raise Conflict("你还有一次服务没有结束，请先结束或取消", code="visit_open")
        visit = Visit(
            org_id=org.id,
            provider_id=provider.id,
            programme_id=programme.id,
            service_id=service.id,
            worker_id=worker.id,
            person_id=person.id,
            place_org_id=home_org_id(person, org),
            amount=service.price,
            status="open",
            started_at=now or utcnow(),
        )
        db.session.add(visit)
        db.session.flush()
        acc = wallet(programme.id, person.id, create=False)
        if acc is None:
            raise Conflict("服务券余额不足", code="insufficient_vouchers")
        hold = ledger.transfer(
            acc.id,
            provider_account(programme.id, provider.id),
            service.price,
            reason=f"{provider.name}：{service.name}",
            cause=("elder_vouchers_visit", visit.id),
            key=f"ev:visit:{visit.id}:hold",
            actor_id=worker.id,
            pending=True,
            short_message="服务券余额不足",
            short_code="insufficient_vouchers",
        )
        visit.hold_id = hold.id
        audit(
            "elder_vouchers.visit_start",
            actor=worker,
            org=org,
            obj=visit,
            person_id=person.id,
            amount=service.price,
        )
        return visit

    return ledger.atomic(work)


def _overlaps(programme: Programme, org: Organization) -> bool:
    """The programme's area and the provider's contain one another."""
    prog_org = db.session.get(Organization, programme.org_id)
    return programme.org_id in org.ancestor_ids or org.id in prog_org.ancestor_ids


def home_org_id(person: User, within: Organization) -> int | None:
    """Where the visit happens: the person's deepest organization inside ``within``."""
    rows = db.session.execute(
        select(Organization.id, Organization.path)
        .join(Membership, Membership.org_id == Organization.id)
        .where(
            Membership.user_id == person.id,
            Organization.path.startswith(within.path, autoescape=True),
        )
    ).all()
    return max(rows, key=lambda r: len(r.path)).id if rows else None


def minutes_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


def finish_visit(
    worker: User, visit: Visit, *, person_code: str, now: datetime | None = None
) -> Visit:
    """The same worker scans the same person at the end: the hold is spent.
    Another person's code: 409 ``wrong_person``. Finishing twice answers the first."""
    org = db.session.get(Organization, visit.org_id)
    require_enabled(org, PLUGIN)
    if visit.worker_id != worker.id:
        raise Forbidden("只有开始这次服务的服务人员可以结束")
    if visit.status != "open":
        if visit.status == "cancelled":
            raise Conflict("这次服务已取消", code="not_open")
        return visit
    person = resolve_person_code(person_code, within_org=org)
    if person.id != visit.person_id:
        raise Conflict("扫到的不是这次服务的老人，请扫描本人的码", code="wrong_person")

    def work():
        row = db.session.get(Visit, visit.id, with_for_update=True, populate_existing=True)
        if row.status != "open":
            return row
        spent = ledger.post_pending(row.hold_id, actor_id=worker.id)
        row.spend_id = spent.id
        row.status = "finished"
        row.finished_at = now or utcnow()
        row.minutes = minutes_between(row.started_at, row.finished_at)
        audit(
            "elder_vouchers.visit_finish",
            actor=worker,
            org=org,
            obj=row,
            minutes=row.minutes,
            amount=row.amount,
        )
        return row

    return ledger.atomic(work)


def cancel_visit(actor: User, visit: Visit) -> Visit:
    """The worker or staff over the provider: the hold is released."""
    org = db.session.get(Organization, visit.org_id)
    require_enabled(org, PLUGIN)
    if visit.worker_id != actor.id:
        require_role(actor, org, Role.staff)
    if visit.status == "cancelled":
        return visit
    if visit.status != "open":
        raise Conflict("这次服务已结束，不能取消", code="not_open")

    def work():
        row = db.session.get(Visit, visit.id, with_for_update=True, populate_existing=True)
        if row.status == "cancelled":
            return row
        if row.status != "open":
            raise Conflict("这次服务已结束，不能取消", code="not_open")
        ledger.void_pending(row.hold_id, actor_id=actor.id)
        row.status = "cancelled"
        row.finished_at = utcnow()
        audit("elder_vouchers.visit_cancel", actor=actor, org=org, obj=row)
        return row

    return ledger.atomic(work)


def _for_person(actor: User, visit: Visit) -> None:
    person = db.session.get(User, visit.person_id)
    if not may_act_for(actor, person):
        raise Forbidden("只有老人本人或家属可以评价这次服务")


def confirm_visit(actor: User, visit: Visit, *, rating: int, comment: str = "") -> Visit:
    """The elder or a relative rates a finished visit (满意 is 5)."""
    require_enabled(db.session.get(Organization, visit.org_id), PLUGIN)
    _for_person(actor, visit)
    if visit.status != "finished":
        raise Conflict("只能评价已完成的服务", code="not_finished")
    visit.rating = rating
    visit.comment = comment
    audit("elder_vouchers.visit_confirm", actor=actor, obj=visit, rating=rating)
    return visit


def dispute_visit(actor: User, visit: Visit, *, reason: str) -> Visit:
    """The elder or a relative disputes a finished visit: left out of claims."""
    require_enabled(db.session.get(Organization, visit.org_id), PLUGIN)
    _for_person(actor, visit)
    if visit.status == "disputed":
        return visit
    if visit.status != "finished":
        raise Conflict("只能对已完成的服务提出异议", code="not_finished")
    if visit.claim_id is not None:
        raise Conflict("这次服务已申报结算，请联系社区工作人员", code="already_claimed")
    visit.status = "disputed"
    visit.dispute_reason = reason
    audit("elder_vouchers.visit_dispute", actor=actor, obj=visit, reason=reason)
    return visit


def resolve_dispute(actor: User, visit: Visit, *, upheld: bool) -> Visit:
    """Staff over the provider: upheld gives the vouchers back (a reversing
    transfer, status ``refunded``); otherwise the visit is claimable again."""
    org = db.session.get(Organization, visit.org_id)
    require_enabled(org, PLUGIN)
    require_role(actor, org, Role.staff)
    if visit.status != "disputed":
        raise Conflict("这次服务没有待处理的异议", code="not_disputed")

    def work():
        row = db.session.get(Visit, visit.id, with_for_update=True, populate_existing=True)
        if row.status != "disputed":
            raise Conflict("这次服务没有待处理的异议", code="not_disputed")
        if upheld:
            ledger.reverse(row.spend_id, reason="服务异议成立，退回服务券", actor_id=actor.id)
            row.status = "refunded"
        else:
            row.status = "finished"
        audit("elder_vouchers.dispute_resolve", actor=actor, org=org, obj=row, upheld=upheld)
        return row

    return ledger.atomic(work)


def visits_of_person(person: User, limit: int = 50) -> list[Visit]:
    return list(
        db.session.scalars(
            select(Visit).where(Visit.person_id == person.id).order_by(Visit.id.desc()).limit(limit)
        )
    )


def has_staff_over_provider(user: User, provider: Provider) -> bool:
    return has_role(user, db.session.get(Organization, provider.org_id), Role.staff)
