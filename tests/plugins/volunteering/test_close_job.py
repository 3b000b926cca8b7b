"""``close-attendance`` as a set-based job: batches of ids, a line of progress
each, a fixed number of statements per batch, and a rerun after a crash that
finishes the work without announcing anything twice."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.api import Conflict
from core.extensions import db
from core.testing import count_statements, make_user
from plugins.volunteering import services
from plugins.volunteering.models import Attendance
from tests.plugins.volunteering.conftest import make_activity


class Crash(Exception):
    """Not an ApiError: stands for the process dying mid-way."""


def volunteers(n: int, prefix="1330000"):
    return [make_user(f"{prefix}{i:04d}", f"志愿者{i}") for i in range(n)]


def forgotten(org, people_, *, activity=None):
    """Checked in long ago, never checked out: open past end + grace."""
    activity = activity or make_activity(org, starts_in=-600, minutes=60)
    for user in people_:
        db.session.add(
            Attendance(
                activity_id=activity.id,
                user_id=user.id,
                status="open",
                checked_in_at=activity.starts_at,
            )
        )
    db.session.commit()
    return activity


def unanswered(org, people_, points=5):
    """Completed service whose announcement never got its answer."""
    activity = make_activity(org, starts_in=-600, minutes=60, points=points, per_hour=0)
    for user in people_:
        db.session.add(
            Attendance(
                activity_id=activity.id,
                user_id=user.id,
                status="completed",
                checked_in_at=activity.starts_at,
                checked_out_at=activity.ends_at,
                minutes=60,
                points_earned=points,
                points_awarded=None,
            )
        )
    db.session.commit()
    return activity


def statuses():
    db.session.rollback()
    return [s for (s,) in db.session.execute(select(Attendance.status).order_by(Attendance.id))]


def test_closes_in_batches_with_a_line_each(app, on, people):
    forgotten(on.community, volunteers(5))
    running = make_activity(on.community, starts_in=-10, minutes=60)
    forgotten(on.community, [people.resident], activity=running)  # still on: stays open
    lines = []
    assert services.close_attendance(batch=2, progress=lines.append) == {"closed": 5, "retried": 0}
    assert len(lines) == 3 and lines[-1].startswith("closed 1 ") and "5 so far" in lines[-1]
    assert statuses() == ["incomplete"] * 5 + ["open"]
    assert services.close_attendance(batch=2) == {"closed": 0, "retried": 0}


def test_cli_prints_progress_and_the_total(app, on, people):
    forgotten(on.community, volunteers(3))
    result = app.test_cli_runner().invoke(args=["volunteering", "close-attendance"])
    assert result.exit_code == 0, result.output
    assert "closed 3 incomplete (up to attendance" in result.output
    assert result.output.rstrip().endswith("closed 3 incomplete, retried 0 announcements")


def test_a_crash_after_a_batch_is_finished_by_the_rerun(app, on, people):
    forgotten(on.community, volunteers(5))

    def die_after_first(line):
        raise Crash(line)

    with pytest.raises(Crash):
        services.close_attendance(batch=2, progress=die_after_first)
    assert statuses().count("incomplete") == 2  # the first batch is committed
    assert services.close_attendance(batch=2) == {"closed": 3, "retried": 0}
    assert statuses() == ["incomplete"] * 5


def closing_statements(n: int, org, prefix: str) -> list[str]:
    forgotten(org, volunteers(n, prefix))
    with count_statements() as statements:
        assert services.close_attendance()["closed"] == n
    return statements


def test_closing_statements_do_not_grow_with_the_rows(app, on, people):
    """One batch (1,000 ids): a select and an UPDATE, however many rows."""
    closing_statements(1, on.community, "1330000")
    few = closing_statements(2, on.community, "1340000")
    many = closing_statements(40, on.community, "1350000")
    assert len(few) == len(many), many


def test_retries_answer_each_once_and_keep_the_awards(app, on, people, spy):
    unanswered(on.community, volunteers(5), points=5)
    lines = []
    result = services.close_attendance(retry_batch=2, progress=lines.append)
    assert result == {"closed": 0, "retried": 5} and len(lines) == 3
    keys = [c["key"] for c in spy.calls]
    assert len(keys) == len(set(keys)) == 5
    assert {c["points"] for c in spy.calls} == {5}
    db.session.rollback()
    assert set(db.session.scalars(select(Attendance.points_awarded))) == {5}
    assert services.close_attendance() == {"closed": 0, "retried": 0}
    assert len(spy.calls) == 5


def test_a_refused_announcement_stays_for_the_next_run_alone(app, on, people, spy):
    unanswered(on.community, volunteers(3), points=5)
    spy.refuse, spy.refusals = Conflict("金豆基金余额不足", code="fund_short"), 1
    assert services.close_attendance() == {"closed": 0, "retried": 3}
    db.session.rollback()
    awarded = list(db.session.scalars(select(Attendance.points_awarded).order_by(Attendance.id)))
    assert awarded == [None, 5, 5]  # the others in its batch are kept
    assert services.close_attendance() == {"closed": 0, "retried": 1}
    assert len(spy.calls) == 3


def test_a_crash_mid_retry_is_finished_without_double_announcements(app, on, people, spy):
    unanswered(on.community, volunteers(5), points=5)
    ids = list(db.session.scalars(select(Attendance.id).order_by(Attendance.id)))

    def progress(line):
        spy.refuse, spy.refusals = Crash("killed"), 1  # the next announcement dies

    with pytest.raises(Crash):
        services.close_attendance(retry_batch=2, progress=progress)
    db.session.rollback()
    awarded = list(db.session.scalars(select(Attendance.points_awarded).order_by(Attendance.id)))
    assert awarded == [5, 5, None, None, None]  # the second batch rolled back whole
    first_keys = {f"volunteering.attendance.{i}" for i in ids[:2]}
    assert {c["key"] for c in spy.calls} == first_keys
    spy.refuse = None
    assert services.close_attendance(retry_batch=2) == {"closed": 0, "retried": 3}
    db.session.rollback()
    assert set(db.session.scalars(select(Attendance.points_awarded))) == {5}
    keys = [c["key"] for c in spy.calls]
    assert len(keys) == len(set(keys)) == 5  # nobody announced twice


def retry_statements(n: int, org, prefix: str) -> list[str]:
    unanswered(org, volunteers(n, prefix))
    with count_statements() as statements:
        assert services.close_attendance()["retried"] == n
    # Each announcement runs in a savepoint (a failure must not undo the
    # others); the job's own statements are what must not grow.
    return [s for s in statements if "SAVEPOINT" not in s.upper()]


def test_retry_statements_do_not_grow_with_the_rows(app, on, people, spy):
    retry_statements(1, on.community, "1350000")  # warms the per-org plugin switches
    few = retry_statements(2, on.community, "1360000")
    many = retry_statements(40, on.community, "1370000")
    assert len(few) == len(many), many
    assert len(spy.calls) == 43


def test_old_refusals_and_switched_off_orgs_are_left_alone(app, on, people, spy):
    old = unanswered(on.community, volunteers(1, "1380000"))
    db.session.execute(
        Attendance.__table__.update()
        .where(Attendance.activity_id == old.id)
        .values(updated_at=old.starts_at - timedelta(days=8))
    )
    unanswered(on.other_community, volunteers(1, "1390000"))
    from core.testing import enable

    enable(on.other_community, "volunteering", False)
    db.session.commit()
    assert services.close_attendance() == {"closed": 0, "retried": 0}
    assert spy.calls == []
