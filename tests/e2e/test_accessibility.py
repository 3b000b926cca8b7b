"""axe-core over every page of the demo (issue 9, item 9), logged in as each
role, in Debian's chromium at a phone's 375 px; any violation fails.

axe comes from the npm registry: ``npm install --prefix .ci axe-core@4`` (what
``.ci/run`` does; set ``JINDOU_REQUIRE_AXE=1`` to make its absence fatal, as
CI does). The crawl follows every same-site link reachable from the pages a
role sees, plus pages that are reached by scanning or typing an id.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from core.demo import DEMO_PASSWORD, seed
from core.extensions import db

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(
    os.environ.get("JINDOU_AXE_JS", ROOT / ".ci" / "node_modules" / "axe-core" / "axe.min.js")
)
REQUIRED = os.environ.get("JINDOU_REQUIRE_AXE") == "1"
MAX_PAGES = 120  # per role; the demo has fewer, this only stops a runaway crawl
# Links that change state or leave the HTML pages.
SKIP = ("/lang/", "/text-size/", "/logout", "/api/", ".csv", "/static/", "export", "download")

ROLES = [
    ("district admin", "13800000001"),
    ("community staff", "13800000002"),
    ("volunteer and relative", "13900000001"),
]


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not AXE.exists():
        return f"{AXE} is missing (npm install --prefix .ci axe-core@4)"
    return None


pytestmark = [pytest.mark.e2e]
if _missing() and REQUIRED:
    raise RuntimeError(f"JINDOU_REQUIRE_AXE=1 but {_missing()}")
if _missing():
    pytestmark.append(pytest.mark.skip(reason=_missing()))


@pytest.fixture
def demo(make_app):
    app = make_app(SERVER_NAME=None)
    with app.app_context():
        seed()
        extra = known_pages(app)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", extra
    server.shutdown()
    thread.join(timeout=5)


def known_pages(app) -> list[str]:
    """Pages no link leads to (a scanned or typed code) or that the crawl would
    reach only after actions: with ids from the demo."""
    from core.models import Organization

    names = app.extensions["jindou_plugins"].names
    orgs = {o.name: o.id for o in db.session.scalars(select(Organization))}
    community = orgs["金星社区"]
    pages = [f"/orgs/{community}"]
    if "points" in names:
        from core.models import User
        from plugins.points import services
        from plugins.points.models import Reward

        volunteer = db.session.scalar(select(User).where(User.phone == "13900000001"))
        item = db.session.scalar(select(Reward).order_by(Reward.cost))
        row = services.request_redemption(volunteer, item.id, quantity=1, key="axe")
        db.session.commit()
        pages += [
            f"/points/redemptions/{row.id}",
            f"/points/p/{row.code}",
            f"/points/orgs/{community}/redemptions?status=pending",
            f"/points/orgs/{community}/report",
        ]
    if "volunteering" in names:
        from plugins.volunteering.models import Activity

        for act in db.session.scalars(select(Activity).limit(3)):
            pages += [
                f"/volunteering/activities/{act.id}",
                f"/volunteering/activities/{act.id}/screen?kind=in",
                f"/volunteering/activities/{act.id}/attendance",
            ]
    return pages


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


def crawl(page, base: str, start: list[str]) -> dict[str, list]:
    """Visit every same-site page reachable from ``start``; axe each one."""
    axe = AXE.read_text()
    queue, seen, found = deque(start), set(start), {}
    while queue and len(seen) <= MAX_PAGES:
        path = queue.popleft()
        try:
            response = page.goto(base + path)
        except Exception as err:  # a file download (an export) is no page
            if "Download is starting" in str(err):
                continue
            raise
        if (
            response is None
            or response.status >= 400
            or not response.headers.get("content-type", "").startswith("text/html")
        ):
            continue
        page.add_script_tag(content=axe)
        result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
        violations = json.loads(result)
        if violations:
            found[path] = [
                (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5])
                for v in violations
            ]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urldefrag(href)[0]
            parts = urlsplit(url)
            if not url.startswith(base) or any(s in url for s in SKIP):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return found


def test_every_demo_page_has_no_axe_violations(demo, browser):
    base, extra = demo
    report = {}
    for role, phone in ROLES:
        # bypass_csp: the page's CSP (rightly) refuses the injected axe script.
        context = browser.new_context(
            viewport={"width": 375, "height": 667}, locale="zh-CN", bypass_csp=True
        )
        page = context.new_page()
        page.goto(f"{base}/login")
        report[f"{role}: /login"] = crawl(page, base, ["/login"]).get("/login", [])
        page.fill("#phone", phone)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit] >> nth=-1")
        page.wait_for_url(f"{base}/")
        for path, violations in crawl(page, base, ["/", *extra]).items():
            report[f"{role}: {path}"] = violations
        context.close()
    report = {k: v for k, v in report.items() if v}
    assert report == {}, "axe violations:\n" + "\n".join(
        f"{where}\n    " + "\n    ".join(map(str, v)) for where, v in report.items()
    )
