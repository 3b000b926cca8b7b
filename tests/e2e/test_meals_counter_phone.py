"""The canteen counter at a phone's width: staff photograph an elder's printed
card (decoded on the server), then type another elder's 8 digits; the screen
answers in one big line, and warns on a second meal."""

from __future__ import annotations

import pytest

from core import qr
from core.testing import PASSWORD
from tests.e2e.test_core_pages_phone import fits_the_screen, live_server, phone  # noqa: F401
from tests.plugins.meals.conftest import meals, on  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.plugin("meals")]


def test_counter_serves_a_photographed_card_and_a_typed_code(
    live_server,  # noqa: F811
    phone,  # noqa: F811
    meals,  # noqa: F811
    people,
    tmp_path,
):
    pytest.importorskip("zxingcpp")
    from core.people.services import issue_card

    _app, base = live_server
    page = phone
    menu = meals.menu(0)
    grandpa_card = issue_card(people.staff, meals.grandpa).short_code
    from core.extensions import db

    db.session.commit()
    card_png = tmp_path / "card.png"
    card_png.write_bytes(qr.png(qr.scan_url(meals.card_token)))
    counter = f"{base}/meals/canteens/{meals.canteen.id}/counter"
    page.goto(counter)
    page.fill("#phone", people.staff.phone)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/counter")
    assert fits_the_screen(page)
    page.set_input_files("#photo", str(card_png))
    page.click("#serve-form button[type=submit]")
    page.wait_for_load_state()
    line = page.locator(".line").inner_text()
    assert "王桂兰 85岁 应付 ¥9.00" in line
    assert fits_the_screen(page)
    box = page.locator("#serve-form button[type=submit]").bounding_box()
    assert box["height"] >= 44
    page.fill("#code", grandpa_card)
    page.click("#serve-form button[type=submit]")
    page.wait_for_load_state()
    assert "李德福 68岁 应付 ¥8.00" in page.locator(".line").inner_text()
    page.set_input_files("#photo", str(card_png))
    page.click("#serve-form button[type=submit]")
    page.wait_for_load_state()
    assert "第二份餐" in page.locator(".line.fail").inner_text()
    assert menu.id
