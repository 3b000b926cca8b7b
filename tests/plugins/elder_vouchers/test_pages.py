"""The pages: a worker's visit end to end on the phone page, the elder's page,
staff pages (enrolment refusal, issuance, disputes, claims, settlement files)."""

from __future__ import annotations

import io
import re

from core.extensions import db
from plugins.elder_vouchers.models import Visit
from tests.plugins.elder_vouchers.conftest import code


def csrf_free(app):
    app.config["WTF_CSRF_ENABLED"] = False


def one_h1(html: str) -> bool:
    return html.count("<h1") == 1 and "<script>" not in html


def test_worker_visit_end_to_end(app, client, world, log_in):
    csrf_free(app)
    log_in(world.worker)
    page = client.get("/vouchers/worker")
    assert page.status_code == 200 and "开始服务" in page.text and one_h1(page.text)
    assert 'for="code-' in page.text
    started = client.post(
        "/vouchers/worker/visits",
        data={
            "provider_id": world.provider.id,
            "service_id": world.bath.id,
            "programme_id": world.programme.id,
            "person_code": code(world.elder),
        },
        follow_redirects=True,
    )
    assert "正在服务" in started.text and 'id="visit-clock"' in started.text
    assert "clock.js" in started.text
    visit = db.session.query(Visit).one()
    wrong = client.post(
        f"/vouchers/visits/{visit.id}/finish",
        data={"person_code": "12345678"},
        follow_redirects=True,
    )
    assert "正在服务" in wrong.text  # refused and flashed, still open
    done = client.post(
        f"/vouchers/visits/{visit.id}/finish",
        data={"person_code": code(world.elder)},
        follow_redirects=True,
    )
    assert "服务已完成" in done.text
    db.session.refresh(visit)
    assert visit.status == "finished"
    assert client.get("/static/elder_vouchers/clock.js").status_code == 200


def test_elder_page_rates_and_disputes(app, client, world, log_in):
    from plugins.elder_vouchers import services

    csrf_free(app)
    for _ in range(2):
        v = services.start_visit(
            world.worker,
            world.provider,
            person_code=code(world.elder),
            service_id=world.clean.id,
            programme_id=world.programme.id,
        )
        services.finish_visit(world.worker, v, person_code=code(world.elder))
    log_in(world.elder)
    page = client.get("/vouchers/me")
    assert page.status_code == 200 and one_h1(page.text)
    assert "140.00 元" in page.text and "满意" in page.text
    first, second = db.session.query(Visit).order_by(Visit.id).all()
    client.post(f"/vouchers/visits/{first.id}/confirm", data={"rating": "5"})
    client.post(f"/vouchers/visits/{second.id}/dispute", data={"reason": "没打扫厨房"})
    db.session.expire_all()
    assert first.rating == 5 and second.status == "disputed"


def test_staff_pages(app, client, world, people, log_in):
    from plugins.elder_vouchers import services
    from tests.plugins.elder_vouchers.conftest import make_elder

    csrf_free(app)
    young = make_elder(
        "13900000090", world.tree.building, birth=__import__("datetime").date(1990, 1, 1)
    )
    db.session.commit()
    log_in(people.district_admin)
    page = client.get(f"/vouchers/orgs/{world.tree.district.id}/")
    assert page.status_code == 200 and one_h1(page.text) and "发放本月服务券" in page.text
    refused = client.post(
        f"/vouchers/orgs/{world.tree.district.id}/programmes/{world.programme.id}/enrolments",
        data={"phone": young.phone},
        follow_redirects=True,
    )
    assert "年龄不足" in refused.text
    issued = client.post(
        f"/vouchers/orgs/{world.tree.district.id}/programmes/{world.programme.id}/issuances",
        data={"month": "2026-12"},
        follow_redirects=True,
    )
    assert "已发放" in issued.text
    assert services.wallet_items(world.elder)[0]["balance"] == 40000
    v = services.start_visit(
        world.worker,
        world.provider,
        person_code=code(world.elder),
        service_id=world.bath.id,
        programme_id=world.programme.id,
    )
    services.finish_visit(world.worker, v, person_code=code(world.elder))
    month = v.finished_at.strftime("%Y-%m")
    services.submit_claim(
        world.worker,
        world.provider,
        __import__("core.times", fromlist=["parse_month"]).parse_month(month),
    )
    log_in(people.staff)
    mine = client.get(f"/vouchers/orgs/{world.tree.community.id}/")
    assert "签批" in mine.text
    report = client.get(f"/vouchers/orgs/{world.tree.community.id}/settlement?month={month}")
    assert "康乐家政" in report.text and "50.00" in report.text
    csv = client.get(
        f"/vouchers/orgs/{world.tree.community.id}/settlement?month={month}&format=csv"
    )
    assert csv.status_code == 200 and "康乐家政" in csv.data.decode("utf-8-sig")
    xlsx = client.get(
        f"/vouchers/orgs/{world.tree.community.id}/settlement?month={month}&format=xlsx"
    )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.cell(2, 1).value == "康乐家政" and sheet.cell(2, 3).value == "50.00"
    flags = client.get(f"/vouchers/orgs/{world.tree.community.id}/anomalies?month={month}")
    assert flags.status_code == 200 and "本月没有异常" in flags.text
    log_in(people.resident)
    assert client.get(f"/vouchers/orgs/{world.tree.community.id}/").status_code in (403, 404)
    assert re.search(r"<h1", report.text)
