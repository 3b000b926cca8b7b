"""群众诉求: the escalation job at chosen times, concurrent accepts, statistics, hooks."""

from __future__ import annotations

from datetime import timedelta

from core import settings
from core.extensions import db
from core.models import AuditLog, utcnow
from core.testing import bearer, enable, race
from core.times import month_bounds, this_month
from plugins.casework import services
from plugins.casework.models import Case, Event


def run(app, now) -> str:
    result = app.test_cli_runner().invoke(args=["casework", "escalate", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()  # progress lines go to stderr


def handler_of(case_id):
    db.session.rollback()
    return db.session.get(Case, case_id).handler_org_id


def test_overdue_cases_climb_once_per_period_up_to_the_district(app, on, people, raise_one):
    case = raise_one()  # at the building: 24 h
    due = db.session.get(Case, case["id"]).due_at
    assert run(app, due - timedelta(minutes=1)) == "0 cases escalated"
    t1 = due + timedelta(minutes=1)
    assert run(app, t1) == "1 cases escalated"
    assert handler_of(case["id"]) == on.group.id
    assert run(app, t1) == "0 cases escalated"  # the same time again: no second climb
    assert run(app, t1 + timedelta(hours=23)) == "0 cases escalated"  # group: 24 h
    t2 = t1 + timedelta(hours=24)
    assert run(app, t2) == "1 cases escalated"
    assert handler_of(case["id"]) == on.community.id
    t3 = t2 + timedelta(hours=48)
    assert run(app, t3) == "1 cases escalated"
    assert handler_of(case["id"]) == on.subdistrict.id
    t4 = t3 + timedelta(hours=72)
    assert run(app, t4) == "1 cases escalated"
    assert handler_of(case["id"]) == on.district.id
    assert run(app, t4 + timedelta(days=30)) == "0 cases escalated"  # the district is the top
    c = db.session.get(Case, case["id"])
    assert c.overdue_climbs == 4 and c.status == "open"
    events = db.session.scalars(
        db.select(Event).where(Event.case_id == c.id).order_by(Event.id)
    ).all()
    assert [e.action for e in events] == ["raised"] + ["escalated"] * 4
    assert [e.org_id for e in events[1:]] == [
        on.group.id,
        on.community.id,
        on.subdistrict.id,
        on.district.id,
    ]
    assert db.session.query(AuditLog).filter_by(action="casework.escalated").count() == 4


def test_the_new_due_time_is_the_limit_at_the_new_handler(app, on, people, raise_one):
    settings.put(people.community_admin, on.community, "casework", {"hours_group": 2})
    db.session.commit()
    case = raise_one()
    t1 = db.session.get(Case, case["id"]).due_at + timedelta(minutes=1)
    run(app, t1)
    db.session.expire_all()
    assert db.session.get(Case, case["id"]).due_at == t1 + timedelta(hours=2)


def test_accepted_cases_climb_too_resolved_ones_do_not(app, client, on, people, raise_one):
    accepted, resolved = raise_one(), raise_one()
    client.post(f"/api/v1/cases/{accepted['id']}/accept", headers=bearer(people.staff))
    client.post(
        f"/api/v1/cases/{resolved['id']}/resolve",
        json={"note": "好了"},
        headers=bearer(people.staff),
    )
    run(app, utcnow() + timedelta(hours=25))
    assert handler_of(accepted["id"]) == on.group.id
    assert db.session.get(Case, accepted["id"]).status == "open"  # the new handler accepts anew
    assert handler_of(resolved["id"]) == on.building.id


def test_the_job_leaves_cases_where_casework_is_off(app, on, people, raise_one):
    case = raise_one()
    enable(on.community, "casework", False)
    db.session.commit()
    assert run(app, utcnow() + timedelta(days=2)) == "0 cases escalated"
    assert handler_of(case["id"]) == on.building.id


def test_the_job_refuses_a_bad_time(app):
    result = app.test_cli_runner().invoke(args=["casework", "escalate", "--now", "tomorrow"])
    assert result.exit_code != 0


def test_concurrent_accepts_write_one_timeline_entry(app, on, people, raise_one):
    case_id = raise_one()["id"]
    staff_id = people.staff.id

    def work(_):
        from core.models import User

        services.accept(db.session.get(User, staff_id), case_id)
        db.session.commit()
        return "accepted"

    results = race(app, 4, work)
    assert results == [("ok", "accepted")] * 4
    db.session.rollback()  # a fresh snapshot: the threads committed after ours began
    assert db.session.query(Event).filter_by(case_id=case_id, action="accepted").count() == 1


def test_statistics_match_what_happened(client, on, people, raise_one):
    h = bearer(people.staff)
    a = raise_one()  # resolved on time, satisfied
    b = raise_one(category="environment")  # resolved, not satisfied (reopened at the group)
    c = raise_one(org=on.community, category="safety")  # accepted only
    raise_one(category="dispute")  # untouched
    client.post(
        f"/api/v1/orgs/{on.other_community.id}/cases",  # elsewhere: not counted
        json={"category": "other", "text": "x"},
        headers=bearer(people.other_staff),
    )
    for case in (a, b):
        client.post(f"/api/v1/cases/{case['id']}/accept", headers=h)
        client.post(f"/api/v1/cases/{case['id']}/resolve", json={"note": "好"}, headers=h)
    client.post(f"/api/v1/cases/{c['id']}/accept", headers=h)
    client.post(
        f"/api/v1/cases/{a['id']}/rate", json={"satisfied": True}, headers=bearer(people.resident)
    )
    client.post(
        f"/api/v1/cases/{b['id']}/rate", json={"satisfied": False}, headers=bearer(people.resident)
    )
    answer = client.get(f"/api/v1/orgs/{on.community.id}/casework/stats", headers=h)
    assert answer.status_code == 200, answer.get_json()
    s = answer.get_json()
    assert (s["received"], s["accepted"], s["resolved"], s["rated"], s["satisfied"]) == (
        4,
        3,
        2,
        2,
        1,
    )
    assert s["satisfaction_rate"] == 0.5 and s["on_time_rate"] == 1.0
    assert s["by_category"] == {
        "environment": 1,
        "facilities": 1,
        "safety": 1,
        "dispute": 1,
        "elderly": 0,
        "other": 0,
    }
    assert s["by_level"] == {
        "district": 0,
        "subdistrict": 0,
        "community": 1,
        "group": 1,
        "building": 2,
    }
    # The building's subtree, and a range with nothing in it.
    small = client.get(
        f"/api/v1/orgs/{on.building.id}/casework/stats", headers=bearer(people.community_admin)
    ).get_json()
    assert small["received"] == 3
    empty = client.get(
        f"/api/v1/orgs/{on.community.id}/casework/stats?from=2020-01-01&to=2020-01-31", headers=h
    ).get_json()
    assert empty["received"] == 0 and empty["satisfaction_rate"] is None


def test_statistics_bad_ranges_and_access(client, on, people):
    url = f"/api/v1/orgs/{on.community.id}/casework/stats"
    for query in ("?from=2026-13-01", "?from=2026-12-02&to=2026-12-01", "?to=yesterday"):
        assert client.get(url + query, headers=bearer(people.staff)).status_code == 400
    assert client.get(url, headers=bearer(people.resident)).status_code == 403
    assert client.get(url, headers=bearer(people.outsider)).status_code == 404


def test_a_late_resolution_is_not_on_time(client, on, people, raise_one):
    case = raise_one()
    services.resolve(people.staff, case["id"], note="晚了", now=utcnow() + timedelta(hours=30))
    db.session.commit()
    s = client.get(
        f"/api/v1/orgs/{on.community.id}/casework/stats", headers=bearer(people.staff)
    ).get_json()
    assert s["resolved"] == 1 and s["on_time_rate"] == 0.0


def test_hook_org_report_contributes_a_section(app, on, people, raise_one):
    raise_one()
    section = services.report_rows(on.community, *month_bounds(this_month()))
    assert ("收到诉求", 1) in section
    from core.plugins import manager

    answers = manager().for_org(on.community, "org_report")(org=on.community, month=this_month())
    titles = [a.title for a in answers if a is not None]
    assert "群众诉求" in titles


def test_hook_dashboard_cards_tell_the_new_handler(app, on, people, raise_one):
    from flask import g

    from core.plugins import manager

    case = raise_one()
    run(app, utcnow() + timedelta(hours=25))
    with app.test_request_context():
        g._login_user = people.staff
        cards = [
            c
            for batch in manager().for_org(on.group, "dashboard_cards")(
                user=people.staff, org=on.group
            )
            for c in (batch or [])
        ]
        assert any(c.title == "待受理诉求" and c.value == "1" for c in cards)
        items = [
            i
            for batch in manager().for_org(on.group, "nav_items")(user=people.staff, org=on.group)
            for i in (batch or [])
        ]
        assert any(i.label == "诉求办理（1）" for i in items)
    assert handler_of(case["id"]) == on.group.id


def test_hook_nav_items_for_a_resident(app, on, people):
    from core.plugins import manager

    with app.test_request_context():
        items = [
            i
            for batch in manager().for_org(on.building, "nav_items")(
                user=people.resident, org=on.building
            )
            for i in (batch or [])
        ]
    labels = [i.label for i in items]
    assert "我的诉求" in labels and not any(label.startswith("诉求办理") for label in labels)


def test_hook_seed_demo_builds_cases_at_every_stage(app):
    from core.demo import seed

    seed()
    statuses = {c.status for c in db.session.scalars(db.select(Case))}
    assert statuses >= {"open", "accepted", "resolved", "closed"}
    assert db.session.query(Case).filter(Case.satisfied.is_(True)).count() >= 2
    assert db.session.query(Case).filter(Case.overdue_climbs > 0).count() >= 1
