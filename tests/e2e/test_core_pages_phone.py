"""The core pages in a real browser at a phone's width (375×667).

Debian's chromium, driven by Playwright; nothing is downloaded at test time.
A failing test leaves a screenshot in artifacts/.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from core.testing import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.plugin("points"),  # it switches points on in the plugin matrix
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
    ),
]


@pytest.fixture
def live_server(make_app):
    app = make_app(SERVER_NAME=None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def phone(request):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 375, "height": 667}, locale="zh-CN")
        yield page
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 375


def test_admin_uses_the_core_pages_on_a_phone(live_server, phone, tree, people):
    app, base = live_server
    page = phone
    page.goto(f"{base}/orgs/{tree.community.id}")
    assert "/login" in page.url  # sent to log in, and back afterwards
    assert fits_the_screen(page)
    page.fill("#phone", people.community_admin.phone)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/orgs/{tree.community.id}")
    assert "金星社区" in page.content()
    assert fits_the_screen(page)
    page.fill("#child-name", "金星三组")
    page.click("form[action$='/children'] button")
    page.wait_for_load_state()
    assert "已创建组织" in page.content() and "金星三组" in page.content()
    page.goto(f"{base}/orgs/{tree.community.id}/plugins")
    assert "功能开关" in page.content()
    assert fits_the_screen(page)  # the wide matrix scrolls inside its own box
    page.locator(f'td[data-org="{tree.group.id}"][data-plugin="points"] button[value=on]').click()
    page.wait_for_load_state()
    # one level at a time: the group's own matrix shows its building
    page.locator(f'a[data-expand="{tree.group.id}"]').click()
    page.wait_for_load_state()
    cell = page.locator(f'td[data-org="{tree.building.id}"][data-plugin="points"]').inner_text()
    assert "开" in cell and "来自 金星一组" in cell
    page.goto(f"{base}/")
    assert "我的组织" in page.content() and fits_the_screen(page)


def test_volunteer_registers_on_a_phone(live_server, phone, tree):
    _app, base = live_server
    page = phone
    page.goto(f"{base}/register")
    assert fits_the_screen(page)
    page.fill("#phone", "13912340000")
    page.fill("#name", "新志愿者")
    page.fill("#password", "long-enough")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "欢迎，新志愿者" in page.content()
