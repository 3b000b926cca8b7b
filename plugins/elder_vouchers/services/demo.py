"""Demo data (``jindou demo``): a district programme (¥200 a month, 80 and over)
and one for elders in hardship (¥100), both funded; the two demo elders
enrolled and issued this month; a provider at the first community with two
services and a demo volunteer as its worker. Everything through the services
(so through the ledger)."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import Membership, User
from core.times import this_month
from plugins.elder_vouchers.services.issuance import issue
from plugins.elder_vouchers.services.programmes import (
    create_programme,
    deposit,
    enrol,
    ineligibility,
)
from plugins.elder_vouchers.services.visits import add_worker, create_provider


def seed_demo(orgs: dict, users: dict) -> None:
    district = orgs["district"]
    community = orgs.get("community1", district)
    admin, staff = users["admin"], users.get("staff", users["admin"])
    programmes = [
        create_programme(admin, district, name="居家养老服务券", monthly_amount=20000, min_age=80),
        create_programme(
            admin,
            district,
            name="困难老人服务券",
            monthly_amount=10000,
            min_age=60,
            hardship_only=True,
        ),
    ]
    for programme in programmes:
        deposit(
            admin,
            programme,
            amount=10_000_000,
            key=f"demo-budget-{programme.id}",
            note="区财政拨款（演示）",
        )
    elders = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == orgs["building1"].id, User.birth_date.is_not(None))
    ).all()
    for programme in programmes:
        for person in elders:
            if ineligibility(programme, person) is None:
                enrol(staff, programme, person.id)
        issue(admin, programme, this_month())
    provider = create_provider(
        admin,
        community,
        name="康乐居家养老服务中心",
        services=[{"name": "助浴", "price": 5000}, {"name": "上门保洁", "price": 3000}],
    )
    worker = users.get("volunteer2") or users["staff"]
    add_worker(admin, provider, worker.phone)
    db.session.flush()
