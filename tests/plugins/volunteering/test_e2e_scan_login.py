"""In a real browser at 375 px: a volunteer scans the check-in code from WeChat
(no session), logs in slowly while the code rotates, and the check-in completes.

Debian's chromium through Playwright, as in tests/e2e/test_checkin_flow.py.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from core import qr
from core.extensions import db
from core.models import utcnow
from core.testing import PASSWORD, add_member, enable, make_org, make_user
from plugins.volunteering.models import Activity, Attendance, Signup

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture
def live(make_app, monkeypatch):
    """The app served by a thread of this process, so core.qr's clock can be moved."""
    import plugins.volunteering as volunteering

    clock = SimpleNamespace(now=time.time())
    monkeypatch.setattr(qr, "time", SimpleNamespace(time=lambda: clock.now))
    app = make_app(plugins=[volunteering], SERVER_NAME=None)
    with app.app_context():
        district = make_org("盘龙区", "district")
        community = make_org("金星社区", "community", district)
        enable(district, "volunteering")
        volunteer = make_user("13900000001", "张秀英")
        add_member(volunteer, community, "resident")
        starts = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=5)
        activity = Activity(
            org_id=community.id,
            title="楼道清洁",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=5,
        )
        db.session.add(activity)
        db.session.flush()
        db.session.add(Signup(activity_id=activity.id, user_id=volunteer.id, status="confirmed"))
        db.session.commit()
        token, _expires = qr.rotating_token("checkin", {"a": activity.id})
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(
        app=app, base=f"http://127.0.0.1:{server.server_port}", token=token, clock=clock
    )
    server.shutdown()
    thread.join(timeout=5)


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


def test_scan_from_wechat_then_a_slow_login_still_checks_in(live, browser, request):
    page = browser.new_context(viewport={"width": 375, "height": 667}, locale="zh-CN").new_page()
    try:
        page.goto(f"{live.base}/c/{live.token}")
        assert "/login" in page.url
        live.clock.now += 4 * 60  # four minutes finding the password: the code rotated
        page.fill("#phone", "13900000001")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_selector("#scan-result")
        result = page.inner_text("#scan-result")
        assert "签到成功" in result and "楼道清洁" in result
        assert "token" not in page.inner_text("body")
        with live.app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(Attendance)) == 1
            db.session.remove()
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        raise
