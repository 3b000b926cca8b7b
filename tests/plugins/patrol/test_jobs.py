"""The close-shifts job at scale: keyset batches whose statements do not grow
with the shifts, a crash mid-run and a rerun closing and announcing each
once, progress on stderr."""

from __future__ import annotations

import pytest

from core.extensions import db
from core.testing import count_statements
from plugins.patrol import services
from plugins.patrol.models import Member, Scan, Shift
from plugins.patrol.services import shifts as shifts_module

from .helpers import make_route, make_shift


def past_shifts(people, org, route, team, n, *, walked=False):
    made = [
        make_shift(people.staff, org, route, team, starts_in=-200, minutes=60) for _ in range(n)
    ]
    if walked:
        for shift in made:
            for point in services.checkpoints_of(route.id):
                db.session.add(
                    Scan(
                        shift_id=shift.id,
                        checkpoint_id=point.id,
                        user_id=team[0].id,
                        scanned_at=shift.starts_at,
                    )
                )
        db.session.commit()
    return [s.id for s in made]


def test_closing_statements_do_not_grow_with_the_shifts(on, people, team):
    route = make_route(people.staff, on.community)
    past_shifts(people, on.community, route, team, 2)
    with count_statements() as few:
        assert services.close_shifts() == {"closed": 2, "announced": 0}
    past_shifts(people, on.community, route, team, 12)
    with count_statements() as many:
        assert services.close_shifts() == {"closed": 12, "announced": 0}
    assert len(many) == len(few) <= 10, many


def test_a_crash_mid_run_and_a_rerun_close_and_announce_once(on, people, team, spy, monkeypatch):
    route = make_route(people.staff, on.community)
    ids = past_shifts(people, on.community, route, team, 5, walked=True)
    monkeypatch.setattr(shifts_module, "BATCH", 2)
    real, calls = shifts_module._close_batch, []

    def crash_on_the_second_batch(now, after_id):
        calls.append(after_id)
        result = real(now, after_id)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return result

    monkeypatch.setattr(shifts_module, "_close_batch", crash_on_the_second_batch)
    with pytest.raises(RuntimeError):
        services.close_shifts()
    db.session.rollback()
    statuses = [db.session.get(Shift, i, populate_existing=True).status for i in ids]
    assert statuses == ["completed"] * 2 + ["scheduled"] * 3
    monkeypatch.setattr(shifts_module, "_close_batch", real)
    monkeypatch.setattr(shifts_module, "ANNOUNCE_BATCH", 2)
    steps = []
    result = services.close_shifts(progress=lambda step, n, last: steps.append((step, n)))
    assert result == {"closed": 3, "announced": 5}
    assert steps == [
        ("closed", 2),
        ("closed", 3),
        ("announced", 2),
        ("announced", 4),
        ("announced", 5),
    ]
    assert sorted(c["key"] for c in spy.calls) == sorted(
        f"patrol:shift:{i}:{team[0].id}" for i in ids
    )
    assert services.close_shifts() == {"closed": 0, "announced": 0}
    assert len(spy.calls) == 5
    awarded = db.session.scalars(
        db.select(Member.points_awarded).where(Member.user_id == team[0].id)
    ).all()
    assert awarded == [20] * 5


def test_one_failed_announcement_keeps_the_rest_of_its_batch(on, people, team, spy):
    route = make_route(people.staff, on.community)
    ids = past_shifts(people, on.community, route, team, 3, walked=True)
    spy.refuse_keys.add(f"patrol:shift:{ids[1]}:{team[0].id}")
    assert services.close_shifts() == {"closed": 3, "announced": 2}
    assert services.awarded_to(team[0], ids[1]) is None
    assert services.awarded_to(team[0], ids[2]) == 20


def test_the_cli_reports_progress_on_stderr(app, on, people, team, monkeypatch):
    route = make_route(people.staff, on.community)
    past_shifts(people, on.community, route, team, 3)
    monkeypatch.setattr(shifts_module, "BATCH", 2)
    result = app.test_cli_runner().invoke(args=["patrol", "close-shifts"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "closed 3 shifts, announced 0"
    assert result.stderr.count("closed") == 2


def test_pages_read_many_shifts_progress_and_teams_in_fixed_queries(on, people, team):
    route = make_route(people.staff, on.community)
    ids = past_shifts(people, on.community, route, team, 2, walked=True)
    ids += past_shifts(people, on.community, route, team, 1)
    shifts = [db.session.get(Shift, i) for i in ids]
    with count_statements() as seen:
        walks = services.progress_many(shifts)
        teams = services.teams_of(ids)
    assert len(seen) == 3
    assert walks == {s.id: services.progress(s) for s in shifts}
    assert teams == {i: services.team_of(i) for i in ids}
    assert services.progress_many([]) == {} and services.teams_of([]) == {}
