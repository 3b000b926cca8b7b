"""The pages: week view with one-tap booking (also for family), staff menus,
the counter, the 关爱 list, settlement with chart/CSV/XLSX, policy and fund."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from core.extensions import db
from core.people.services import add_relative
from core.testing import make_user
from core.times import local_today
from plugins.meals import services
from plugins.meals.models import Booking, Menu, Serving


def logged_in(client, log_in, user, page: str) -> tuple[str, str]:
    """Log in, open ``page``; answer its HTML and CSRF token."""
    log_in(user)
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return html, token.group(1) if token else ""


def one_h1(html: str) -> bool:
    return html.count("<h1") == 1 and "<script>" not in html


def test_week_page_books_and_cancels_for_me_and_my_family(client, log_in, meals, people):
    menu = meals.menu(1)
    son = make_user("13922220000", "儿子")
    add_relative(people.staff, meals.grandpa, son.phone)
    db.session.commit()
    url = f"/meals/canteens/{meals.canteen.id}/"
    html, csrf = logged_in(client, log_in, son, url)
    assert one_h1(html) and "为家人订餐：李德福" in html and "¥8.00" in html  # 12 - 1 - 3
    resp = client.post(
        f"/meals/menus/{menu.id}/book", data={"csrf_token": csrf, "user_id": str(meals.grandpa.id)}
    )
    assert resp.status_code == 302
    booking = db.session.scalar(select(Booking).where(Booking.user_id == meals.grandpa.id))
    assert booking.status == "booked"
    html = client.get(url).get_data(as_text=True)
    assert "已订（李德福） · 点此取消" in html
    client.post(f"/meals/bookings/{booking.id}/cancel", data={"csrf_token": csrf})
    db.session.refresh(booking)
    assert booking.status == "cancelled"
    resp = client.post(
        f"/meals/menus/{menu.id}/book", data={"csrf_token": csrf, "user_id": str(meals.young.id)}
    )
    assert resp.status_code == 403  # not family: core's error page


def test_staff_add_menus_and_copy_last_week(client, log_in, meals, people):
    url = f"/meals/canteens/{meals.canteen.id}/"
    html, csrf = logged_in(client, log_in, people.staff, url)
    assert "复制上周菜单" in html and "新增菜单" in html
    day = local_today() + timedelta(days=1)
    client.post(
        f"/meals/canteens/{meals.canteen.id}/menus",
        data={
            "csrf_token": csrf,
            "date": day.isoformat(),
            "slot": "lunch",
            "dishes": "米线，卤蛋",
            "price": "12.5",
            "capacity": "30",
        },
    )
    menu = db.session.scalar(select(Menu))
    assert menu.price == 1250 and menu.dishes == ["米线", "卤蛋"] and menu.capacity == 30
    resp = client.post(
        f"/meals/canteens/{meals.canteen.id}/menus",
        data={
            "csrf_token": csrf,
            "date": day.isoformat(),
            "slot": "dinner",
            "dishes": "饭",
            "price": "-1",
            "capacity": "30",
        },
        follow_redirects=True,
    )
    assert "应为元" in resp.get_data(as_text=True)
    client.post(
        f"/meals/canteens/{meals.canteen.id}/copy-week",
        data={"csrf_token": csrf, "from": (day + timedelta(days=7)).isoformat()},
    )
    copied = db.session.scalars(select(Menu).where(Menu.day == day + timedelta(days=7))).all()
    assert [(m.dishes, m.price, m.slot) for m in copied] == [(["米线", "卤蛋"], 1250, "lunch")]


def test_counter_page_serves_by_typed_code_and_warns_on_a_second_meal(
    client, log_in, meals, people
):
    menu = meals.menu(0)
    url = f"/meals/canteens/{meals.canteen.id}/counter"
    html, csrf = logged_in(client, log_in, people.staff, url)
    assert one_h1(html) and 'src="/static/meals/counter.js"' in html
    html = client.post(
        url, data={"csrf_token": csrf, "menu_id": str(menu.id), "code": meals.card}
    ).get_data(as_text=True)
    assert "王桂兰 85岁 应付 ¥9.00" in html
    html = client.post(
        url, data={"csrf_token": csrf, "menu_id": str(menu.id), "code": meals.card}
    ).get_data(as_text=True)
    assert "第二份餐" in html
    html = client.post(
        url, data={"csrf_token": csrf, "menu_id": str(menu.id), "code": "12"}
    ).get_data(as_text=True)
    assert "line fail" in html
    assert db.session.scalar(select(func.count()).select_from(Serving)) == 1
    log_in(people.resident)
    assert client.get(url).status_code == 403


def test_care_page_has_tap_to_call_links(client, log_in, meals, people):
    son = make_user("13922220000", "儿子")
    add_relative(people.staff, meals.grandma, son.phone)
    menu = meals.menu(0)
    services.book(people.staff, menu, meals.grandma)
    db.session.commit()
    html, _ = logged_in(client, log_in, people.staff, f"/meals/menus/{menu.id}/care")
    assert 'href="tel:13911110001"' in html and 'href="tel:13922220000"' in html
    assert "139****0001" in html and one_h1(html)


def test_settlement_page_chart_csv_and_xlsx(client, log_in, meals, people):
    services.serve(people.staff, meals.canteen, person_code=meals.card, menu_id=meals.menu(0).id)
    db.session.commit()
    url = f"/meals/orgs/{meals.tree.district.id}/settlement"
    html, _ = logged_in(client, log_in, people.district_admin, url)
    assert 'class="bar"' in html and "¥3.00" in html and one_h1(html)
    csv = client.get(url + "?format=csv").get_data(as_text=True)
    assert "金星社区爱心食堂,1,1,300,0,900" in csv
    xlsx = client.get(url + "?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[2]] == ["金星社区爱心食堂", 1, 1, 300, 0, 900]
    log_in(people.resident)
    assert client.get(url).status_code in (403, 404)


def test_policy_and_fund_pages_for_admins(client, log_in, meals, people):
    org = meals.tree.community
    html, csrf = logged_in(client, log_in, people.community_admin, f"/meals/orgs/{org.id}/policy")
    assert "盘龙区" in html
    client.post(
        f"/meals/orgs/{org.id}/policy",
        data={
            "csrf_token": csrf,
            "age0": "65",
            "subsidy0": "2",
            "age1": "80",
            "subsidy1": "4.5",
            "hardship_extra": "3",
        },
    )
    assert services.effective_policy(org) == {
        "tiers": [{"min_age": 65, "subsidy": 200}, {"min_age": 80, "subsidy": 450}],
        "hardship_extra": 300,
        "source_org_id": org.id,
    }
    html, csrf = logged_in(client, log_in, people.community_admin, f"/meals/orgs/{org.id}/fund")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    for _ in range(2):  # a double tap posts once
        client.post(
            f"/meals/orgs/{org.id}/fund",
            data={"csrf_token": csrf, "amount": "50", "note": "社区募捐", "idempotency_key": key},
        )
    assert services.fund_balance(org) == 5000
    resp = client.post(
        f"/meals/orgs/{org.id}/fund",
        data={"csrf_token": csrf, "amount": "1e30", "note": "x", "idempotency_key": "k"},
        follow_redirects=True,
    )
    assert "应为元" in resp.get_data(as_text=True)
    log_in(people.staff)
    assert client.get(f"/meals/orgs/{org.id}/fund").status_code == 403


def test_index_page_lists_canteens(client, log_in, meals, people):
    html, _ = logged_in(client, log_in, people.resident, f"/meals/orgs/{meals.tree.community.id}/")
    assert "金星社区爱心食堂" in html and "新增食堂" not in html and one_h1(html)
