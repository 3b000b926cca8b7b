"""居家养老服务券 fixtures: the plugin on at the district, a funded programme
there (¥200/month, 80+), an elder in 1栋, a provider at 金星社区 with two
services and a worker.

``needs_plugin`` leaves these tests out of a run that does not load elder_vouchers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from core import qr
from core.extensions import db
from core.testing import add_member, enable, make_user, needs_plugin

collect_ignore_glob = needs_plugin("elder_vouchers")

MONTH = date(2026, 11, 1)


@pytest.fixture
def on(tree):
    """elder_vouchers on for the whole district."""
    enable(tree.district, "elder_vouchers")
    db.session.commit()
    return tree


@pytest.fixture
def log_in(client):
    """``log_in(user)``: the test client browses as ``user`` (a session cookie)."""

    def log_in(user) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    return log_in


def code(user) -> str:
    """The person's rotating code, as their phone shows it."""
    return qr.person_code(user.id).token


def make_elder(phone, org, name="老人", birth=date(1940, 5, 1), hardship=False):
    user = make_user(phone, name)
    user.birth_date = birth
    user.hardship = hardship
    add_member(user, org, "resident")
    return user


@dataclass
class World:
    tree: object
    people: object
    programme: object
    provider: object
    bath: object  # 助浴 ¥50
    clean: object  # 保洁 ¥30
    worker: object
    elder: object


@pytest.fixture
def world(on, people) -> World:
    """A funded district programme, the resident as an 86-year-old elder enrolled
    and issued November, a provider at 金星社区 with a worker."""
    from plugins.elder_vouchers import services

    elder = people.resident
    elder.birth_date = date(1940, 5, 1)
    programme = services.create_programme(
        people.district_admin, on.district, name="居家养老服务券", monthly_amount=20000, min_age=80
    )
    db.session.commit()
    services.deposit(people.district_admin, programme, amount=1_000_000, key="seed")
    services.enrol(people.staff, programme, elder.id)
    db.session.commit()
    services.issue(people.district_admin, programme, MONTH)
    provider = services.create_provider(
        people.community_admin,
        on.community,
        name="康乐家政",
        services=[{"name": "助浴", "price": 5000}, {"name": "保洁", "price": 3000}],
    )
    worker = make_user("13900000001", "服务员小李")
    db.session.commit()
    services.add_worker(people.community_admin, provider, worker.phone)
    db.session.commit()
    bath, clean = services.services_of(provider)
    return World(on, people, programme, provider, bath, clean, worker, elder)
