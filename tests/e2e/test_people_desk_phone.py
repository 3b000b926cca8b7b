"""The desk at a phone's width: staff register an elder without a phone and
print her card; the printed QR code decodes to a code core's resolver accepts."""

from __future__ import annotations

import io

import pytest

from core.extensions import db
from core.testing import PASSWORD
from tests.e2e.test_core_pages_phone import fits_the_screen, live_server, phone  # noqa: F401

pytestmark = pytest.mark.e2e


def test_staff_register_an_elder_and_print_her_card(live_server, phone, tree, people):  # noqa: F811
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    app, base = live_server
    page = phone
    page.goto(f"{base}/orgs/{tree.building.id}/residents")
    page.fill("#phone", people.staff.phone)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/orgs/{tree.building.id}/residents")
    assert fits_the_screen(page)
    page.fill("#resident-name", "王桂兰")
    page.fill("#resident-birth", "1941-01-01")
    page.select_option("#resident-reason", "特困")
    page.click("form[action$='/residents'] button[type=submit]")
    page.wait_for_url("**/people/*")
    assert "居民已登记" in page.content() and "王桂兰" in page.content()
    assert "无手机" in page.content() and "特困" in page.content()
    assert fits_the_screen(page)
    page.click("#issue-card")
    page.wait_for_url("**/people/*/card")
    assert fits_the_screen(page)
    card = page.locator(".print-card").first
    assert "王桂兰" in card.inner_text()
    shot = page.locator(".print-card .qr-box").first.screenshot()
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)).convert("L"))
    with app.app_context():
        from core.people.services import active_card, resolve_person_code

        person = resolve_person_code(found.text)
        assert person.name == "王桂兰" and person.phone is None and person.password_hash is None
        short = active_card(person).short_code
        assert f"{short[:4]} {short[4:]}" in card.inner_text()
        assert resolve_person_code(short, within_org=tree.building).id == person.id
        db.session.remove()
