"""The pages of members, joining and confirmations: what staff and residents tap."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.extensions import db
from core.models import JoinRequest, Membership, OrgPlugin
from core.testing import PASSWORD, add_member, enable, make_user


def login(client, user):
    return client.post("/login", data={"phone": user.phone, "password": PASSWORD})


def roles_of(user, org) -> set[str]:
    return set(
        db.session.scalars(
            select(Membership.role).where(
                Membership.user_id == user.id, Membership.org_id == org.id
            )
        )
    )


def test_staff_add_a_resident_with_only_the_roles_they_may_grant(client, tree, people):
    login(client, people.staff)
    page = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert "添加居民" in page
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options == ["resident"]
    r = client.post(
        f"/orgs/{tree.building.id}/members",
        data={"phone": people.outsider.phone, "role": "resident"},
        follow_redirects=True,
    )
    assert "已添加成员" in r.get_data(as_text=True)
    assert roles_of(people.outsider, tree.building) == {"resident"}
    r = client.post(
        f"/orgs/{tree.building.id}/members",
        data={"phone": people.district_admin.phone, "role": "staff"},
        follow_redirects=True,
    )
    assert "工作人员只能添加或移除居民" in r.get_data(as_text=True)
    assert roles_of(people.district_admin, tree.building) == set()


def test_a_refused_member_form_names_the_field_in_chinese_and_keeps_the_input(client, tree, people):
    login(client, people.community_admin)
    r = client.post(
        f"/orgs/{tree.community.id}/members",
        data={"phone": "139", "role": "staff"},
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert "手机号：请输入 11 位手机号" in page and "phone:" not in page
    assert 'value="139"' in page and re.search(r'<option value="staff" selected>', page)
    r = client.post(
        f"/orgs/{tree.community.id}/members",
        data={"phone": "13999999999", "role": "resident"},
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "该手机号尚未注册" in page and 'value="13999999999"' in page
    r = client.post(f"/orgs/{tree.community.id}/children", data={"name": ""}, follow_redirects=True)
    assert "名称：" in r.get_data(as_text=True)


def test_member_list_is_searchable_and_paged(client, tree, people):
    for i in range(25):
        add_member(make_user(f"139000001{i:02d}", f"住户{i:02d}"), tree.building, "resident")
    db.session.commit()
    login(client, people.staff)
    page = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert page.count('class="member-row"') == 20
    after = re.search(r'href="[^"]*after=(\d+)"', page).group(1)
    page = client.get(f"/orgs/{tree.building.id}?after={after}").get_data(as_text=True)
    assert page.count('class="member-row"') == 6 and "下一页" not in page
    page = client.get(f"/orgs/{tree.building.id}?q=住户07").get_data(as_text=True)
    assert page.count('class="member-row"') == 1 and "住户07" in page


def test_removing_a_member_asks_first_and_keeps_the_last_admin(client, tree, people):
    login(client, people.district_admin)
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    assert "<details" in page and "确定把区管理员（管理员）从盘龙区移除吗？" in page
    assert 'name="confirm" value="yes"' in page
    r = client.post(
        f"/orgs/{tree.district.id}/members/{people.district_admin.id}/remove",
        data={"role": "admin", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "不能移除最后一位管理员" in r.get_data(as_text=True)
    assert roles_of(people.district_admin, tree.district) == {"admin"}
    client.post("/logout")
    login(client, people.staff)
    r = client.post(
        f"/orgs/{tree.building.id}/members/{people.resident.id}/remove",
        data={"role": "resident"},
        follow_redirects=True,
    )
    assert "请再点一次" in r.get_data(as_text=True)
    assert roles_of(people.resident, tree.building) == {"resident"}
    r = client.post(
        f"/orgs/{tree.building.id}/members/{people.resident.id}/remove",
        data={"role": "resident", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "已移除成员" in r.get_data(as_text=True)
    assert roles_of(people.resident, tree.building) == set()


def test_switching_a_plugin_off_shows_how_many_below_follow(client, tree, people):
    login(client, people.district_admin)
    enable(tree.district, "sample")
    enable(tree.community, "sample", False)
    db.session.commit()
    r = client.post(f"/orgs/{tree.district.id}/plugins/sample", data={"state": "off"})
    assert r.status_code == 302 and "/plugins/sample/off" in r.headers["Location"]
    assert db.session.get(OrgPlugin, (tree.district.id, "sample")).enabled is True
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "下级共有 3 个组织跟随这个开关" in page and "确定关闭" in page
    client.post(f"/orgs/{tree.district.id}/plugins/sample", data={"state": "off", "confirm": "yes"})
    db.session.expire_all()
    assert db.session.get(OrgPlugin, (tree.district.id, "sample")).enabled is False
    client.post("/logout")
    login(client, people.staff)
    assert client.get(f"/orgs/{tree.community.id}/plugins/sample/off").status_code == 403


def test_a_new_resident_picks_their_building_and_staff_approve(client, tree, people):
    client.post(
        "/register", data={"phone": "13912345678", "name": "新居民", "password": "long-enough"}
    )
    home = client.get("/").get_data(as_text=True)
    assert "加入我的楼栋" in home and "联系社区工作人员" not in home
    r = client.get("/join")
    assert r.headers["Location"].endswith(f"/join/{tree.district.id}")  # the only district
    page = client.get(f"/join/{tree.district.id}").get_data(as_text=True)
    assert "请选择您的街道" in page and "联盟街道" in page and "申请加入盘龙区" not in page
    for org, level in (
        (tree.subdistrict, "社区"),
        (tree.community, "居民小组"),
        (tree.group, "楼栋"),
    ):
        page = client.get(f"/join/{org.id}").get_data(as_text=True)
        assert f"请选择您的{level}" in page
    page = client.get(f"/join/{tree.building.id}").get_data(as_text=True)
    assert "申请加入1栋" in page and "<h1>" in page and page.count("<main") == 1
    r = client.post(f"/join/{tree.building.id}", follow_redirects=True)
    assert "申请已提交" in r.get_data(as_text=True) and "等待工作人员确认" in r.get_data(
        as_text=True
    )
    client.post(f"/join/{tree.building.id}")  # a second tap: still one request
    assert len(db.session.scalars(select(JoinRequest)).all()) == 1
    client.post("/logout")

    login(client, people.staff)
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    assert "待确认的加入申请：1 条" in page
    page = client.get(f"/orgs/{tree.community.id}/join-requests").get_data(as_text=True)
    assert "新居民" in page and "申请加入1栋" in page and "确定拒绝新居民加入1栋的申请吗？" in page
    req = db.session.scalar(select(JoinRequest))
    r = client.post(
        f"/join-requests/{req.id}/approve",
        data={"back": f"/orgs/{tree.community.id}/join-requests"},
        follow_redirects=True,
    )
    assert "已同意" in r.get_data(as_text=True)
    newcomer = db.session.scalar(
        select(Membership).where(
            Membership.org_id == tree.building.id,
            Membership.role == "resident",
            Membership.user_id != people.resident.id,
        )
    )
    assert newcomer is not None
    client.post("/logout")
    login(client, people.other_staff)
    assert client.get(f"/orgs/{tree.community.id}/join-requests").status_code == 404
    assert client.post(f"/join-requests/{req.id}/reject").status_code == 404


def test_staff_print_a_join_code_and_issue_a_reset_code(client, tree, people):
    login(client, people.staff)
    page = client.get(f"/orgs/{tree.building.id}/join-code").get_data(as_text=True)
    assert "扫码加入1栋" in page and "<svg" in page
    page = client.get(f"/orgs/{tree.building.id}").get_data(as_text=True)
    assert "发密码重置码" in page
    r = client.post(
        f"/users/{people.resident.id}/password-reset", data={"back": f"/orgs/{tree.building.id}"}
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    code = re.search(r'id="reset-code"[^>]*>(\d{6})<', page).group(1)
    assert "前有效，只能用一次" in page
    client.post("/logout")
    r = client.post(
        "/password-reset",
        data={"phone": people.resident.phone, "code": code, "password": "a-new-password"},
    )
    assert r.status_code == 302
    client.post("/login", data={"phone": people.resident.phone, "password": "a-new-password"})
    assert client.get(f"/orgs/{tree.building.id}/join-code").status_code == 403
    assert client.post(f"/users/{people.staff.id}/password-reset").status_code in (403, 404)
