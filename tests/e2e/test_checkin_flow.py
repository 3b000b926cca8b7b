"""End to end in a real browser: sign up, scan in and out from the staff
screen's QR code, see the 金豆 in the wallet.

Debian's chromium is driven by Playwright (never a downloaded browser) at a
phone's 375×667 viewport, against the app served by a real server thread on
the test database.
"""

from __future__ import annotations

import io
import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from core.extensions import db
from core.models import utcnow
from core.testing import PASSWORD, add_member, bearer, enable, make_org, make_user, plugin_wanted

if not plugin_wanted("volunteering"):
    # Importing its models would add its tables to the metadata other tests in
    # this worker compare with the migrations (test_models_and_migrations_agree).
    pytest.skip("volunteering is not among JINDOU_PLUGINS", allow_module_level=True)

from plugins.volunteering.models import Activity  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing (apt-get install chromium); "
        "Playwright must not download a browser",
    ),
]


@pytest.fixture
def live_app(make_app):
    """The installed plugins on the test database, CSRF as in production."""
    app = make_app(SERVER_NAME=None)
    if "volunteering" not in app.extensions["jindou_plugins"].names:
        pytest.skip("volunteering is not among JINDOU_PLUGINS")
    with app.app_context():
        district = make_org("盘龙区", "district")
        community = make_org("金星社区", "community", make_org("联盟街道", "subdistrict", district))
        building = make_org("1栋", "building", make_org("一组", "group", community))
        for plugin in app.extensions["jindou_plugins"].names:
            enable(district, plugin)
        staff, volunteer = make_user("13800000002", "社工 王芳"), make_user("13900000001", "张秀英")
        add_member(staff, community, "staff")
        add_member(volunteer, building, "resident")
        starts = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=5)
        activity = Activity(
            org_id=community.id,
            title="楼道清洁",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=5,
            points=12,
            points_per_hour=6,
        )
        db.session.add(activity)
        db.session.commit()
        app.config["E2E_ACTIVITY_ID"] = activity.id
        if has_route(app, "/api/v1/orgs/<int:org_id>/points/fund/deposits"):
            fill_fund(app, district)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def has_route(app, rule: str) -> bool:
    return any(r.rule == rule for r in app.url_map.iter_rules())


def fill_fund(app, district) -> None:
    """Awards are paid from a fund (API.md, Points): give the district one."""
    admin = make_user("13800000001", "区管理员")
    add_member(admin, district, "admin")
    r = app.test_client().post(
        f"/api/v1/orgs/{district.id}/points/fund/deposits",
        json={"amount": 1000, "note": "e2e", "idempotency_key": "e2e-fund"},
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.json


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def log_in(browser, base: str, phone: str):
    context = browser.new_context(viewport={"width": 375, "height": 667}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#phone", phone)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit] >> nth=-1")
    page.wait_for_url(f"{base}/")
    return page


def qr_url_on_screen(page, base: str, activity_id: int, kind: str) -> str:
    """Open the staff screen and read its QR code the way a phone would: from pixels."""
    import zxingcpp
    from PIL import Image

    page.goto(f"{base}/volunteering/activities/{activity_id}/screen?kind={kind}")
    page.wait_for_selector("#qr svg")
    shot = page.locator("#qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert found, "no QR code found on the staff screen"
    return found[0].text


def test_volunteer_signs_up_scans_in_and_out_and_sees_the_beans(live_app, browser, request):
    app, base = live_app
    activity_id = app.config["E2E_ACTIVITY_ID"]
    staff = log_in(browser, base, "13800000002")
    volunteer = log_in(browser, base, "13900000001")
    pages = {"staff": staff, "volunteer": volunteer}
    try:
        volunteer.goto(f"{base}/volunteering/")
        volunteer.click("text=楼道清洁")
        volunteer.click("#signup-button")
        assert "已报名" in volunteer.inner_text("#my-signup")

        checkin_url = qr_url_on_screen(staff, base, activity_id, "in")
        assert checkin_url.startswith(f"{base}/c/checkin.")
        volunteer.goto(checkin_url)
        assert "签到成功" in volunteer.inner_text("#scan-result")
        # the staff screen polls: its live count shows the volunteer in
        # (a locator, not wait_for_function: the CSP forbids evaluating strings in the page)
        from playwright.sync_api import expect

        expect(staff.locator("#present")).to_have_text("1", timeout=10_000)
        # A check-out seconds after the check-in is 0 minutes and earns nothing: say
        # the volunteer arrived when the activity started (5 minutes ago).
        with app.app_context():
            from plugins.volunteering.models import Attendance

            db.session.execute(
                db.update(Attendance).values(
                    checked_in_at=db.session.get(Activity, activity_id).starts_at
                )
            )
            db.session.commit()
            db.session.remove()

        checkout_url = qr_url_on_screen(staff, base, activity_id, "out")
        volunteer.goto(checkout_url)
        result = volunteer.inner_text("#scan-result")
        assert "签退成功" in result and "服务" in result

        if not has_route(app, "/points/wallet"):
            pytest.skip(
                "the points plugin (with /points/wallet) is not loaded on this branch; "
                "check-in and check-out passed, the wallet step did not run"
            )
        volunteer.goto(f"{base}/points/wallet")
        balance = re.sub(r"\D", "", volunteer.inner_text("#balance"))
        assert int(balance) >= 12, balance  # 12 base + 6/h pro rata for the minutes served
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        for who, page in pages.items():
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{who}.png"), full_page=True)
        raise
