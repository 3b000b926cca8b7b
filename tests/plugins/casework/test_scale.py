"""群众诉求 at scale: the escalation job in batches (a bounded number of
statements, restartable after a crash, progress), statistics one level of
the tree at a time, and the staff queue a page at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog
from core.testing import count_statements
from plugins.casework import services
from plugins.casework.models import Case, Event
from plugins.casework.services import escalation

from .conftest import T0


def raise_many(people, org, n, now=T0):
    ids = [
        services.raise_case(
            people.resident, org, category="facilities", text=f"第{i}件", now=now
        ).id
        for i in range(n)
    ]
    db.session.commit()
    return ids


def climbs(case_ids):
    db.session.expire_all()
    return {
        c: db.session.scalar(
            select(func.count(Event.id)).where(Event.case_id == c, Event.action == "escalated")
        )
        for c in case_ids
    }


def test_statements_do_not_grow_with_the_cases(app, on, people, monkeypatch):
    monkeypatch.setattr(escalation, "BATCH", 1000)
    late = T0 + timedelta(hours=25)
    raise_many(people, on.building, 2)
    with count_statements() as few:
        assert services.escalate_overdue(late) == 2
    raise_many(people, on.building, 20)
    with count_statements() as many:
        assert services.escalate_overdue(late) == 20
    assert len(many) == len(few) <= 12, many


def test_a_crash_mid_run_and_a_rerun_climb_each_case_once(app, on, people, monkeypatch):
    ids = raise_many(people, on.building, 5) + raise_many(people, on.group, 2)
    monkeypatch.setattr(escalation, "BATCH", 2)
    real, calls = escalation._climb_batch, []

    def crash_on_the_third_batch(now, after_id, dues):
        calls.append(after_id)
        result = real(now, after_id, dues)
        if len(calls) == 3:
            raise RuntimeError("power cut")  # inside the transaction: this batch is undone
        return result

    monkeypatch.setattr(escalation, "_climb_batch", crash_on_the_third_batch)
    late = T0 + timedelta(hours=25)
    with pytest.raises(RuntimeError):
        services.escalate_overdue(late)
    db.session.rollback()
    assert sum(climbs(ids).values()) == 4  # two batches committed
    monkeypatch.setattr(escalation, "_climb_batch", real)
    seen = []
    assert services.escalate_overdue(late, lambda n, last: seen.append((n, last))) == 3
    assert climbs(ids) == dict.fromkeys(ids, 1)
    assert [n for n, _ in seen] == [2, 3] and seen[-1][1] == max(ids)
    assert services.escalate_overdue(late) == 0  # and again: nothing
    assert db.session.query(AuditLog).filter_by(action="casework.escalated").count() == 7
    handlers = {db.session.get(Case, c).handler_org_id for c in ids}
    assert handlers == {on.group.id, on.community.id}


def test_the_cli_reports_progress_on_stderr(app, on, people, monkeypatch):
    raise_many(people, on.building, 3)
    monkeypatch.setattr(escalation, "BATCH", 2)
    late = (T0 + timedelta(hours=25)).isoformat()
    result = app.test_cli_runner().invoke(args=["casework", "escalate", "--now", late])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "3 cases escalated"
    assert result.stderr.count("escalated so far") == 2


def test_a_case_moved_by_staff_meanwhile_is_left_alone(app, on, people, monkeypatch):
    (case_id,) = raise_many(people, on.building, 1)
    real = escalation._overdue_batch

    def staff_act_between_read_and_write(now, after_id):
        rows = real(now, after_id)
        db.session.execute(db.update(Case).where(Case.id == case_id).values(status="resolved"))
        return rows

    monkeypatch.setattr(escalation, "_overdue_batch", staff_act_between_read_and_write)
    assert services.escalate_overdue(T0 + timedelta(hours=25)) == 0
    assert climbs([case_id]) == {case_id: 0}


def test_statistics_one_level_at_a_time(app, on, people):
    end = T0 + timedelta(days=1)
    raise_many(people, on.building, 3)
    raise_many(people, on.group, 1)
    raise_many(people, on.community, 2)
    services.resolve(people.staff, raise_many(people, on.building, 1)[0], note="好", now=T0)
    db.session.commit()
    rows = services.stats_by_child(on.subdistrict, T0 - timedelta(days=1), end)
    assert [(r["id"], r["received"], r["resolved"]) for r in rows] == [(on.community.id, 7, 1)]
    rows = services.stats_by_child(on.community, T0 - timedelta(days=1), end)
    assert [
        (r["id"], r["name"], r["received"], r["resolved"], r["on_time_rate"]) for r in rows
    ] == [
        (None, "金星社区（本级）", 2, 0, None),
        (on.group.id, "金星一组", 5, 1, 1.0),
    ]
    assert services.stats_by_child(on.district, end, end + timedelta(days=1)) == []


def test_the_stats_page_links_each_child(client, on, people, log_in):
    raise_many(people, on.building, 2)
    log_in(people.district_admin)
    page = client.get(f"/casework/orgs/{on.district.id}/stats?from=2026-11-30&to=2026-12-01")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "按下级组织" in html and f"/casework/orgs/{on.subdistrict.id}/stats" in html
    assert f"/casework/orgs/{on.community.id}/stats" not in html  # one level only


def test_the_queue_comes_a_page_at_a_time(client, on, people, log_in, monkeypatch):
    from plugins.casework import pages

    monkeypatch.setattr(pages, "QUEUE_PAGE", 2)
    ids = [
        services.raise_case(
            people.resident, on.building, category="other", text="x", now=T0 + timedelta(minutes=i)
        ).id
        for i in range(5)
    ]
    db.session.commit()
    log_in(people.staff)
    seen, url = [], f"/casework/orgs/{on.community.id}/queue"
    for _ in range(3):
        html = client.get(url).get_data(as_text=True)
        seen += [i for i in ids if f'/casework/cases/{i}"' in html]
        if "下一页" not in html:
            break
        url = html.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    assert seen == ids
    assert client.get(f"/casework/orgs/{on.community.id}/queue?cursor=bm9wZQ").status_code == 400
