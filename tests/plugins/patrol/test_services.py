"""Patrol rules called directly: the scan window, who may scan what, replays
and races, closing (twice), the job (twice), and the 金豆 of a completed patrol."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.api import ApiError
from core.extensions import db
from core.models import utcnow
from core.testing import enable, race
from plugins.patrol import services
from plugins.patrol.models import Member, Scan, Shift
from tests.plugins.patrol.helpers import make_route, make_shift


def refused(work) -> str:
    with pytest.raises(ApiError) as caught:
        work()
    db.session.rollback()
    return caught.value.code


def first_checkpoint(route):
    return services.checkpoints_of(route.id)[0]


def test_the_window_opens_15_minutes_early_and_closes_after_grace(on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team, starts_in=60, grace=10)
    point = first_checkpoint(route)
    member = team[0]
    too_early = shift.starts_at - timedelta(minutes=15, seconds=1)
    assert (
        refused(lambda: services.scan_checkpoint(member, point.id, now=too_early))
        == "no_active_shift"
    )
    too_late = shift.ends_at + timedelta(minutes=10, seconds=1)
    assert (
        refused(lambda: services.scan_checkpoint(member, point.id, now=too_late))
        == "no_active_shift"
    )
    opening = shift.starts_at - timedelta(minutes=15)
    assert services.scan_checkpoint(member, point.id, now=opening).shift_id == shift.id
    last = services.checkpoints_of(route.id)[-1]
    closing = shift.ends_at + timedelta(minutes=10)
    assert services.scan_checkpoint(member, last.id, now=closing).scanned == 2


def test_only_the_team_and_only_its_route(on, people, team):
    route = make_route(people.staff, on.community)
    other_route = make_route(people.staff, on.community, names=("西门",))
    make_shift(people.staff, on.community, route, team[:1])
    assert (
        refused(lambda: services.scan_checkpoint(team[1], first_checkpoint(route).id))
        == "no_active_shift"
    )
    assert (
        refused(lambda: services.scan_checkpoint(people.staff, first_checkpoint(route).id))
        == "no_active_shift"
    )
    assert (
        refused(lambda: services.scan_checkpoint(team[0], first_checkpoint(other_route).id))
        == "no_active_shift"
    )
    assert refused(lambda: services.scan_checkpoint(team[0], 99999)) == "not_found"
    assert refused(lambda: services.scan_checkpoint(team[0], "1")) == "not_found"
    assert db.session.query(Scan).count() == 0


def test_a_replay_answers_the_first_scan(on, people, team):
    route = make_route(people.staff, on.community)
    make_shift(people.staff, on.community, route, team)
    point = first_checkpoint(route)
    first = services.scan_checkpoint(team[0], point.id)
    later = services.scan_checkpoint(team[1], point.id, now=utcnow() + timedelta(minutes=5))
    assert later.at == first.at and later.scanned == 1 and later.total == 4
    assert later.left == ["3号院", "自行车棚", "北门岗亭"]
    assert db.session.query(Scan).one().user_id == team[0].id


def test_ten_simultaneous_scans_of_one_checkpoint_make_one_row(app, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    point_id, user_ids = first_checkpoint(route).id, [u.id for u in team]

    def work(i):
        from core.models import User

        return services.scan_checkpoint(db.session.get(User, user_ids[i % 2]), point_id).at

    results = race(app, 10, work)
    assert all(kind == "ok" for kind, _ in results), results
    assert len({at for _, at in results}) == 1
    db.session.rollback()  # a fresh snapshot: the threads wrote after this session read
    assert db.session.query(Scan).filter_by(shift_id=shift.id).count() == 1


def test_completed_shift_records_service_for_members_who_scanned(on, people, team, spy):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team, points=30)
    for point in services.checkpoints_of(route.id):
        services.scan_checkpoint(team[0], point.id)
    closing = services.close_shift(people.staff, shift.id)
    assert (closing.status, closing.missed, closing.minutes) == ("completed", [], 120)
    assert spy.calls == [
        {
            "org_id": on.community.id,
            "user_id": team[0].id,
            "activity_id": None,
            "title": "治安巡逻：夜间巡逻",
            "minutes": 120,
            "verified": True,
            "points": 30,
            "key": f"patrol:shift:{shift.id}:{team[0].id}",
        }
    ]
    assert services.awarded_to(team[0], shift.id) == 30
    assert services.awarded_to(team[1], shift.id) is None  # never scanned: nothing recorded
    again = services.close_shift(people.staff, shift.id)
    assert again == closing and len(spy.calls) == 1


def test_closing_before_the_window_is_refused(on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team, starts_in=120)
    assert refused(lambda: services.close_shift(people.staff, shift.id)) == "shift_not_started"
    assert refused(lambda: services.close_shift(team[0], shift.id)) == "forbidden"


def test_a_patrol_leader_may_close(on, people, team):
    from core.testing import add_member

    add_member(team[1], on.community, "patrol.leader")
    db.session.commit()
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team[:1])
    assert services.close_shift(team[1], shift.id).status == "incomplete"


def test_the_job_closes_after_grace_twice_the_same(app, on, people, team, spy):
    route = make_route(people.staff, on.community)
    done = make_shift(people.staff, on.community, route, team, starts_in=-200, minutes=60)
    half = make_shift(people.staff, on.community, route, team, starts_in=-200, minutes=60)
    in_grace = make_shift(people.staff, on.community, route, team, starts_in=-65, minutes=60)
    for point in services.checkpoints_of(route.id):
        db.session.add(
            Scan(
                shift_id=done.id,
                checkpoint_id=point.id,
                user_id=team[1].id,
                scanned_at=done.starts_at,
            )
        )
    db.session.add(
        Scan(
            shift_id=half.id,
            checkpoint_id=first_checkpoint(route).id,
            user_id=team[0].id,
            scanned_at=half.starts_at,
        )
    )
    db.session.commit()
    first = app.test_cli_runner().invoke(args=["patrol", "close-shifts"])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "closed 2 shifts, announced 1"
    statuses = {s.id: s.status for s in db.session.query(Shift).populate_existing()}
    assert statuses == {done.id: "completed", half.id: "incomplete", in_grace.id: "scheduled"}
    assert [c["user_id"] for c in spy.calls] == [team[1].id]
    second = app.test_cli_runner().invoke(args=["patrol", "close-shifts"])
    assert second.stdout.strip() == "closed 0 shifts, announced 0"
    assert len(spy.calls) == 1
    assert (
        services.closing_of(db.session.get(Shift, half.id)).missed
        == [c.id for c in services.checkpoints_of(route.id)][1:]
    )


def test_the_job_leaves_shifts_where_patrol_is_off(on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team, starts_in=-200, minutes=60)
    enable(on.community, "patrol", False)
    db.session.commit()
    assert services.close_shifts()["closed"] == 0
    assert db.session.get(Shift, shift.id, populate_existing=True).status == "scheduled"


def test_a_failed_announcement_is_retried_by_the_job(on, people, team, spy):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    for point in services.checkpoints_of(route.id):
        services.scan_checkpoint(team[0], point.id)
    spy.refuse = ApiError(409, "fund_short", "基金不足")
    assert services.close_shift(people.staff, shift.id).status == "completed"
    assert services.awarded_to(team[0], shift.id) is None
    spy.refuse = None
    assert services.close_shifts()["announced"] == 1
    assert services.awarded_to(team[0], shift.id) == 20
    assert db.session.query(Member).filter(Member.points_awarded.is_not(None)).count() == 1


@pytest.mark.plugin("points")
def test_real_points_pays_jindou_for_a_completed_patrol(make_app, tree, people, team):
    import plugins.patrol as patrol
    import plugins.points as points
    from plugins.points import services as points_services

    app = make_app(plugins=[patrol, points])
    with app.app_context():
        enable(tree.district, "patrol")
        enable(tree.district, "points")
        db.session.commit()
        points_services.deposit(
            people.district_admin, tree.district, amount=1000, key="fund", donor="爱心企业"
        )
        db.session.commit()
        route = make_route(people.staff, tree.community)
        shift = make_shift(people.staff, tree.community, route, team, points=25)
        for point in services.checkpoints_of(route.id):
            services.scan_checkpoint(team[0], point.id)
        assert services.close_shift(people.staff, shift.id).status == "completed"
        assert points_services.wallet_summary(team[0])["balance"] == 25
        assert services.close_shifts()["announced"] == 0
        assert points_services.wallet_summary(team[0])["balance"] == 25
        db.session.remove()
