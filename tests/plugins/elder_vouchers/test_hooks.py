"""elder_vouchers' hook implementations, one test each."""

from __future__ import annotations

from core.extensions import db
from core.plugins import manager


def test_hook_describe(app):
    meta = manager().meta["elder_vouchers"]
    assert meta.title == "居家养老服务券"
    assert set(meta.owners) == {"programme_id", "provider_id", "visit_id", "claim_id"}
    assert [r.name for r in meta.roles] == ["worker"]


def test_hook_blueprints(app):
    assert "elder_vouchers" in app.blueprints
    assert app.blueprints["elder_vouchers"].cli_group == "vouchers"


def test_hook_nav_items(app, world, people):
    from plugins.elder_vouchers import nav_items

    with app.test_request_context():
        staff = [i.label for i in nav_items(user=people.staff, org=world.tree.community)]
        worker = [i.label for i in nav_items(user=world.worker, org=world.tree.community)]
    assert "服务券管理" in staff and "上门服务" not in staff
    assert "上门服务" in worker


def test_hook_dashboard_cards(app, world):
    from plugins.elder_vouchers import dashboard_cards

    with app.test_request_context():
        cards = dashboard_cards(user=world.elder, org=world.tree.building)
        assert [(c.title, c.value) for c in cards] == [("服务券余额", "¥200.00")]
        assert dashboard_cards(user=world.worker, org=world.tree.building) == []


def test_hook_seed_demo(app, tree, people):
    from core.testing import enable
    from plugins.elder_vouchers import seed_demo
    from plugins.elder_vouchers.models import Issuance, Programme, Worker

    enable(tree.district, "elder_vouchers")
    people.resident.birth_date = __import__("datetime").date(1940, 1, 1)
    db.session.commit()
    seed_demo(
        orgs={"district": tree.district, "community1": tree.community, "building1": tree.building},
        users={
            "admin": people.district_admin,
            "staff": people.staff,
            "volunteer2": people.outsider,
        },
    )
    db.session.commit()
    assert db.session.query(Programme).count() == 2
    assert db.session.query(Issuance).count() == 1
    assert db.session.query(Worker).one().user_id == people.outsider.id
