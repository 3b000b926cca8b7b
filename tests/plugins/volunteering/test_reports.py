"""The month report, the export and a person's totals: figures summed in SQL
over the subtree, the same as counting the rows by hand, in a fixed number of
statements however many rows there are."""

from datetime import date, datetime, timedelta

import pytest

import plugins.volunteering as volunteering
from core.extensions import db
from core.testing import bearer, make_user
from core.times import local_zone, month_bounds
from plugins.volunteering import services
from plugins.volunteering.models import Activity, Attendance
from tests.core.test_query_budget import count_statements

MARCH = date(2026, 3, 1)


def queries(statements: list[str]) -> list[str]:
    """What reached the tables (not BEGIN, not the reload of an expired org)."""
    return [s for s in statements if "volunteering_" in s]


def activity(org, day: int, month: int = 3, title="楼道清洁") -> Activity:
    starts = datetime(2026, month, day, 9, tzinfo=local_zone())
    act = Activity(
        org_id=org.id,
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=50,
        points=0,
        points_per_hour=0,
    )
    db.session.add(act)
    db.session.flush()
    return act


def attend(act, user, status="completed", minutes=60, *, verified=True, by=None):
    db.session.add(
        Attendance(
            activity_id=act.id,
            user_id=user.id,
            status=status,
            minutes=minutes,
            verified=verified,
            checked_in_at=act.starts_at,
            points_awarded=0,
            recorded_by_id=by.id if by else None,
        )
    )


@pytest.fixture
def month(on, people):
    """March 2026 in the community's subtree, with what must not count around it."""
    ann, bob = make_user("13100000001", "安阿姨"), make_user("13100000002", "包大爷")
    clean = activity(on.community, 2)
    talk = activity(on.building, 31, title="政策宣传")  # the last day counts
    activity(on.group, 20, title="无人参加")  # counted as an activity, no service
    attend(clean, ann, minutes=90)
    attend(clean, bob, minutes=30)
    attend(clean, people.resident, "incomplete", 0)
    attend(clean, people.outsider, "open", 0)
    attend(talk, ann, minutes=45)  # ann twice: one volunteer
    attend(talk, bob, "backfilled", 120, verified=False, by=people.staff)
    attend(activity(on.community, 1, month=4), ann, minutes=600)  # April
    attend(activity(on.community, 28, month=2), ann, minutes=600)  # February
    attend(activity(on.other_community, 10), ann, minutes=600)  # elsewhere
    db.session.commit()
    return ann, bob


def test_month_summary_sums_the_subtree_in_sql(on, people, month):
    start, end = month_bounds(MARCH)
    assert services.month_summary(on.community, start, end) == {
        "activities": 3,
        "volunteers": 2,
        "verified_minutes": 90 + 30 + 45,
        "honour_minutes": 120,
    }
    building = services.month_summary(on.building, start, end)
    assert building == {
        "activities": 1,
        "volunteers": 2,
        "verified_minutes": 45,
        "honour_minutes": 120,
    }
    district = services.month_summary(on.district, start, end)
    assert (district["activities"], district["verified_minutes"]) == (4, 165 + 600)
    empty = services.month_summary(on.community, *month_bounds(date(2026, 5, 1)))
    assert empty == {"activities": 0, "volunteers": 0, "verified_minutes": 0, "honour_minutes": 0}


def test_month_summary_is_one_statement_however_many_rows(on, people, month):
    start, end = month_bounds(MARCH)
    with count_statements() as few:
        services.month_summary(on.community, start, end)
    big = activity(on.building, 15)
    for i in range(30):
        attend(big, make_user(f"1320000{i:04d}", f"志愿者{i}"), minutes=10)
    db.session.commit()
    with count_statements() as many:
        summary = services.month_summary(on.community, start, end)
    assert summary["volunteers"] == 32 and summary["verified_minutes"] == 165 + 300
    assert len(queries(few)) == len(queries(many)) == 1, many


def test_report_api_has_the_section_and_refuses_a_bad_month(client, on, people, month):
    staff = bearer(people.staff)
    r = client.get(f"/api/v1/orgs/{on.community.id}/report?month=2026-03", headers=staff)
    assert r.status_code == 200
    [section] = [s for s in r.json["sections"] if s["title"] == "志愿服务"]
    assert dict(section["rows"]) == {
        "活动数": 3,
        "参与志愿者": 2,
        "信用时数": "2 小时 45 分",
        "荣誉时数": "2 小时",
    }
    for bad in ("2026-13", "March", "1999-12", "2026-03-01"):
        r = client.get(f"/api/v1/orgs/{on.community.id}/report?month={bad}", headers=staff)
        assert r.status_code == 400, bad
    r = client.get(
        f"/api/v1/orgs/{on.community.id}/report?month=2026-03", headers=bearer(people.resident)
    )
    assert r.status_code == 403


def test_hook_section_reads_the_same_figures(on, people, month):
    rows = dict(volunteering.org_report(org=on.building, month=MARCH).rows)
    assert rows == {"活动数": 1, "参与志愿者": 2, "信用时数": "45 分", "荣誉时数": "2 小时"}


def test_export_rows_in_one_statement_with_the_recorder_joined(on, people, month):
    start, end = month_bounds(MARCH)
    with count_statements() as statements:
        rows = services.export_rows(on.community, start, end)
    assert len(queries(statements)) == 1, statements
    # By activity start, then name (the name order is the database's collation).
    assert [r[3] for r in rows] == ["楼道清洁", "楼道清洁", "政策宣传", "政策宣传"]
    assert sorted((r[0], r[3], r[5], r[6], r[7]) for r in rows) == sorted(
        [
            ("安阿姨", "楼道清洁", 1.5, "信用时数", "扫码"),
            ("包大爷", "楼道清洁", 0.5, "信用时数", "扫码"),
            ("安阿姨", "政策宣传", 0.75, "信用时数", "扫码"),
            ("包大爷", "政策宣传", 2.0, "荣誉时数", "社工"),
        ]
    )
    assert {r[1] for r in rows} == {"131****0001", "131****0002"}
    assert [r[4] for r in rows] == ["2026-03-02"] * 2 + ["2026-03-31"] * 2


def test_service_totals_match_the_record(on, people, month):
    ann, bob = month
    assert services.service_totals(bob) == {
        "verified_minutes": 30,
        "honour_minutes": 120,
        "stars": 0,
        "activities": 2,
    }
    record = services.service_record(ann)
    assert record["verified_minutes"] == 90 + 45 + 3 * 600 and len(record["rows"]) == 5
    assert services.service_totals(people.outsider)["activities"] == 0  # open: not service
