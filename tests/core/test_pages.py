"""The pages: Chinese by default, CSRF on every form, and usable flows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Membership, Organization, OrgPlugin
from core.testing import PASSWORD


def login(client, user, password=PASSWORD):
    return client.post("/login", data={"phone": user.phone, "password": password})


def test_pages_need_login_and_come_back(client, tree):
    r = client.get(f"/orgs/{tree.community.id}")
    assert r.status_code == 302
    assert "/login?next=" in r.headers["Location"]


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in page and "登录" not in page


def test_language_choice_sticks(client):
    client.get("/lang/en?next=/login")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"


def test_login_flow_and_wrong_password(client, people):
    r = login(client, people.resident, "wrong-password")
    assert r.status_code == 400
    assert "手机号或密码错误" in r.get_data(as_text=True)
    r = client.post(
        "/login",
        data={
            "phone": people.resident.phone,
            "password": PASSWORD,
            "next": f"/orgs/{people.resident.id}",
        },
    )
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "居民" in page and "1栋" in page


def test_login_refuses_open_redirects(client, people):
    r = client.post(
        "/login",
        data={"phone": people.resident.phone, "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert r.headers["Location"] == "/"


def test_register_page(client):
    r = client.post(
        "/register", data={"phone": "13912345678", "name": "新志愿者", "password": "short"}
    )
    assert r.status_code == 400
    assert "密码至少 8 位" in r.get_data(as_text=True)
    r = client.post(
        "/register", data={"phone": "13912345678", "name": "新志愿者", "password": "long-enough"}
    )
    assert r.status_code == 302
    assert "新志愿者" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    r = client.post(
        "/register", data={"phone": "13912345678", "name": "重复", "password": "long-enough"}
    )
    assert r.status_code == 400 and "该手机号已注册" in r.get_data(as_text=True)


def test_forms_need_a_csrf_token(make_app, people):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        r = client.post("/login", data={"phone": people.resident.phone, "password": PASSWORD})
        assert r.status_code == 400
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = client.post(
            "/login",
            data={"phone": people.resident.phone, "password": PASSWORD, "csrf_token": token},
        )
        assert r.status_code == 302
        # a cookie-authenticated API write needs the token too; a bearer one does not
        r = client.put("/api/v1/orgs/1/plugins/sample", json={"enabled": True})
        assert r.status_code == 400 and r.json["error"]["code"] == "csrf"


def test_admin_builds_tree_and_members_from_the_org_page(client, tree, people):
    login(client, people.community_admin)
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    assert "添加居民小组" in page and "添加成员" in page
    r = client.post(f"/orgs/{tree.community.id}/children", data={"name": "金星二组"})
    assert r.status_code == 302
    assert (
        db.session.scalar(select(Organization.level).where(Organization.name == "金星二组"))
        == "group"
    )
    client.post(
        f"/orgs/{tree.community.id}/members", data={"phone": people.outsider.phone, "role": "staff"}
    )
    assert (
        db.session.scalar(select(Membership.role).where(Membership.user_id == people.outsider.id))
        == "staff"
    )
    r = client.post(
        f"/orgs/{tree.community.id}/members",
        data={"phone": "139", "role": "staff"},
        follow_redirects=True,
    )
    assert "手机号" in r.get_data(as_text=True)


def test_resident_sees_no_admin_forms_and_cannot_post_them(client, tree, people):
    login(client, people.resident)
    page = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert "添加成员" not in page
    r = client.post(
        f"/orgs/{tree.building.id}/members",
        data={"phone": people.outsider.phone, "role": "admin"},
        follow_redirects=True,
    )
    assert "没有权限" in r.get_data(as_text=True)
    assert (
        db.session.scalar(select(Membership).where(Membership.user_id == people.outsider.id))
        is None
    )
    assert client.get(f"/orgs/{tree.other_community.id}").status_code == 404
    assert client.get(f"/orgs/{tree.building.id}/plugins").status_code == 403


def test_plugin_matrix_shows_sources_and_switches(client, tree, people):
    login(client, people.district_admin)
    client.post(f"/orgs/{tree.district.id}/plugins/sample", data={"state": "on"})
    client.post(
        f"/orgs/{tree.community.id}/plugins/sample", data={"state": "off", "confirm": "yes"}
    )
    # one level at a time: the building shows on its group's page
    page = client.get(f"/orgs/{tree.group.id}/plugins").get_data(as_text=True)
    cell = re.search(
        rf'data-org="{tree.building.id}" data-plugin="sample">(.*?)</td>', page, re.S
    ).group(1)
    assert "关" in cell and "来自 金星社区" in cell
    page = client.get(f"/orgs/{tree.other_subdistrict.id}/plugins").get_data(as_text=True)
    cell = re.search(
        rf'data-org="{tree.other_community.id}" data-plugin="sample">(.*?)</td>', page, re.S
    ).group(1)
    assert "开" in cell and "来自 盘龙区" in cell
    client.post(f"/orgs/{tree.community.id}/plugins/sample", data={"state": "inherit"})
    assert db.session.get(OrgPlugin, (tree.community.id, "sample")) is None
    assert (
        client.post(
            f"/orgs/{tree.community.id}/plugins/sample", data={"state": "maybe"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    "path", ["/", "/orgs/{community}", "/orgs/{district}/plugins", "/orgs/{community}/report"]
)
def test_pages_render_for_a_phone(client, tree, people, path):
    login(client, people.district_admin)
    r = client.get(path.format(community=tree.community.id, district=tree.district.id))
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert "http://" not in page.replace("http://jindou.test", "") and "https://" not in page


def test_unknown_page_is_a_friendly_404(client, people):
    login(client, people.resident)
    r = client.get("/orgs/999999")
    assert r.status_code == 404 and "未找到" in r.get_data(as_text=True)


def test_platform_admin_adds_a_district_from_home(client, tree, people):
    login(client, people.root)
    page = client.get("/").get_data(as_text=True)
    assert "添加区" in page and "盘龙区" in page
    r = client.post("/orgs/districts", data={"name": "官渡区"})
    assert r.status_code == 302
    assert (
        db.session.scalar(select(Organization.level).where(Organization.name == "官渡区"))
        == "district"
    )
    client.post("/logout")
    login(client, people.district_admin)
    assert "添加区" not in client.get("/").get_data(as_text=True)
    assert client.post("/orgs/districts", data={"name": "西山区"}).status_code == 403


def test_resident_sees_only_their_branch_above_them(client, tree, people):
    login(client, people.resident)
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    assert "联盟街道" in page and "拓东街道" not in page
    client.post("/logout")
    login(client, people.district_admin)
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    assert "联盟街道" in page and "拓东街道" in page
