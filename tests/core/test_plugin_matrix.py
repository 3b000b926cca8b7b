"""The plugin matrix and the organization page show one level of the tree at a
time: the organization, its direct children with counts of what lies below,
and links one level down. Their statements do not grow with the subtree."""

from __future__ import annotations

import re

import pytest

from core.extensions import db
from core.models import OrgPlugin
from core.orgs import tree as org_tree
from core.testing import add_member, enable, make_org
from tests.core.test_pages import login as first_login
from tests.core.test_query_budget import count_statements


def login(client, user):
    client.post("/logout")
    return first_login(client, user)


def cell(page: str, org, plugin="sample") -> str:
    found = re.search(rf'data-org="{org.id}" data-plugin="{plugin}">(.*?)</td>', page, re.S)
    assert found, f"no cell for {org.name}"
    return found.group(1)


def row_head(page: str, org) -> str:
    """The row header (name, counts, expand link) of ``org``'s row."""
    found = re.search(rf'<th scope="row">\s*<a href="/orgs/{org.id}">(.*?)</th>', page, re.S)
    assert found, f"no row for {org.name}"
    return found.group(1)


@pytest.fixture
def switched(tree):
    """sample: on at the district, off at the community, on again at the building."""
    enable(tree.district, "sample")
    enable(tree.community, "sample", False)
    enable(tree.building, "sample")
    db.session.commit()
    return tree


def test_district_level_shows_children_with_counts_and_overrides_below(client, switched, people):
    tree = switched
    login(client, people.district_admin)
    page = client.get(f"/orgs/{tree.district.id}/plugins").get_data(as_text=True)
    # the district's own row, and its two 街道; nothing deeper
    assert "下面共 6 个组织" in row_head(page, tree.district)
    assert "下面共 3 个组织" in row_head(page, tree.subdistrict)
    assert "下面共 1 个组织" in row_head(page, tree.other_subdistrict)
    for deeper in (tree.community, tree.group, tree.building, tree.other_community):
        assert f'data-org="{deeper.id}"' not in page
    # states: set at the district, inherited by the 街道
    assert "开" in cell(page, tree.district) and "本级设置" in cell(page, tree.district)
    here = cell(page, tree.subdistrict)
    assert "开" in here and "来自 盘龙区" in here
    # below 联盟街道 one switch says otherwise (the community's off; the
    # building's on agrees with the 街道); nothing differs below 拓东街道
    assert 'data-differ="1"' in here and "下面有 1 处设置不同" in here
    assert "data-differ" not in cell(page, tree.other_subdistrict)
    assert 'data-differ="1"' in cell(page, tree.district)
    # expand links open the child's own level
    assert f'href="/orgs/{tree.subdistrict.id}/plugins"' in row_head(page, tree.subdistrict)
    assert "data-expand" not in row_head(page, tree.district)
    # each row has one form (its CSRF token); the cells' buttons post through it
    # to their plugin's switch
    form = re.search(rf'<form id="switches-{tree.subdistrict.id}"[^>]*>(.*?)</form>', page, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert (
        f'form="switches-{tree.subdistrict.id}" '
        f'formaction="/orgs/{tree.subdistrict.id}/plugins/sample" name="state" value="off"'
    ) in here


def test_each_level_down_shows_its_children_and_a_way_back(client, switched, people):
    tree = switched
    login(client, people.district_admin)
    page = client.get(f"/orgs/{tree.community.id}/plugins").get_data(as_text=True)
    # the community sets it off itself; below it the building turns it on again
    mine = cell(page, tree.community)
    assert "关" in mine and "本级设置" in mine and 'data-differ="1"' in mine
    group = cell(page, tree.group)
    assert "关" in group and "来自 金星社区" in group and 'data-differ="1"' in group
    assert "下面共 1 个组织" in row_head(page, tree.group)
    # breadcrumbs back up: the district admin may open every matrix above
    crumbs = page.split('class="breadcrumbs"')[1].split("</nav>")[0]
    assert f'href="/orgs/{tree.district.id}/plugins"' in crumbs
    assert f'href="/orgs/{tree.subdistrict.id}/plugins"' in crumbs
    # the last level: the building's own switch, nothing below, no expand link
    page = client.get(f"/orgs/{tree.group.id}/plugins").get_data(as_text=True)
    building = cell(page, tree.building)
    assert "开" in building and "本级设置" in building and "data-differ" not in building
    assert "下面没有组织" in row_head(page, tree.building)
    assert "data-expand" not in page


def test_breadcrumbs_link_matrices_only_where_the_admin_reaches(client, tree, people):
    login(client, people.community_admin)
    page = client.get(f"/orgs/{tree.group.id}/plugins").get_data(as_text=True)
    crumbs = page.split('class="breadcrumbs"')[1].split("</nav>")[0]
    assert f'href="/orgs/{tree.community.id}/plugins"' in crumbs
    # above their community: the organization pages, not matrices that would refuse
    assert f'href="/orgs/{tree.district.id}"' in crumbs
    assert f'href="/orgs/{tree.district.id}/plugins"' not in crumbs


def test_switching_from_a_level_page_comes_back_to_it(client, tree, people):
    login(client, people.district_admin)
    back = f"/orgs/{tree.subdistrict.id}/plugins"
    r = client.post(f"/orgs/{tree.community.id}/plugins/sample", data={"state": "on", "back": back})
    assert r.status_code == 302 and r.headers["Location"].endswith(back)
    assert db.session.get(OrgPlugin, (tree.community.id, "sample")).enabled is True
    page = client.get(back).get_data(as_text=True)
    assert "本级设置" in cell(page, tree.community)
    assert 'data-differ="1"' in cell(page, tree.subdistrict)  # off here, on below
    # turning off still asks first, and says how many follow
    r = client.post(
        f"/orgs/{tree.community.id}/plugins/sample", data={"state": "off", "back": back}
    )
    assert r.status_code == 302 and "/plugins/sample/off" in r.headers["Location"]
    assert db.session.get(OrgPlugin, (tree.community.id, "sample")).enabled is True


def test_matrix_refuses_non_admins_and_unknown_orgs(client, tree, people):
    login(client, people.staff)
    assert client.get(f"/orgs/{tree.community.id}/plugins").status_code == 403
    login(client, people.community_admin)
    assert client.get(f"/orgs/{tree.community.id}/plugins").status_code == 200
    assert client.get(f"/orgs/{tree.subdistrict.id}/plugins").status_code == 403
    assert client.get(f"/orgs/{tree.other_community.id}/plugins").status_code == 404
    assert client.get("/orgs/999999/plugins").status_code == 404
    login(client, people.resident)
    assert client.get(f"/orgs/{tree.building.id}/plugins").status_code == 403


def _grow(parent, level, count):
    return [make_org(f"{parent.name}-{i}", level, parent) for i in range(count)]


def test_statements_do_not_grow_with_the_subtree(client, tree, people):
    login(client, people.district_admin)
    urls = [f"/orgs/{tree.district.id}/plugins", f"/orgs/{tree.district.id}"]

    def measure():
        counts = []
        for url in urls:
            client.get(url)  # warm: the plugin states cache, sessions
            with count_statements() as statements:
                assert client.get(url).status_code == 200
            counts.append(len(statements))
        return counts

    small = measure()
    # a much bigger tree under the same two 街道, with switches here and there
    for community in _grow(tree.subdistrict, "community", 4):
        for group in _grow(community, "group", 3):
            buildings = _grow(group, "building", 5)
            enable(buildings[0], "sample")
        enable(community, "sample", False)
    db.session.commit()
    big = measure()
    assert big == small, (small, big)
    assert max(big) <= 10, big
    page = client.get(urls[0]).get_data(as_text=True)
    assert "下面共 79 个组织" in row_head(page, tree.subdistrict)
    # off here (set nowhere): the 12 buildings switched on differ, the 4 communities' off not
    assert 'data-differ="12"' in cell(page, tree.subdistrict)


def test_children_page_by_page(client, tree, people, monkeypatch):
    _grow(tree.other_subdistrict, "community", 4)
    db.session.commit()
    monkeypatch.setattr(org_tree, "CHILDREN_PAGE", 2)
    login(client, people.district_admin)
    seen, url = [], f"/orgs/{tree.other_subdistrict.id}/plugins"
    while url:
        page = client.get(url).get_data(as_text=True)
        ids = re.findall(
            r'<tr class="matrix-child">\s*<th scope="row">\s*<a href="/orgs/(\d+)"', page
        )
        assert len(ids) <= 2
        seen += ids
        assert f'data-org="{tree.other_subdistrict.id}"' in page  # its own row on every page
        more = re.search(r'href="([^"]+after=\d+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == len(set(seen)) == 5
    # the organization page pages its children too
    seen, url = [], f"/orgs/{tree.other_subdistrict.id}"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r'<li data-child="(\d+)">', page)
        more = re.search(r'href="([^"]+children_after=\d+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == len(set(seen)) == 5


def test_org_page_lists_children_with_counts(client, tree, people):
    login(client, people.district_admin)
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    item = re.search(rf'<li data-child="{tree.subdistrict.id}">(.*?)</li>', page, re.S).group(1)
    assert "联盟街道" in item and "下设 1 个社区" in item
    make_org("金星二社区", "community", tree.other_subdistrict)
    make_org("金星三社区", "community", tree.other_subdistrict)
    db.session.commit()
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    item = re.search(rf'<li data-child="{tree.other_subdistrict.id}">(.*?)</li>', page, re.S)
    assert "下设 3 个社区" in item.group(1)
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    item = re.search(rf'<li data-child="{tree.group.id}">(.*?)</li>', page, re.S).group(1)
    assert "下设 1 个楼栋" in item
    page = client.get(f"/orgs/{tree.group.id}").get_data(as_text=True)
    item = re.search(rf'<li data-child="{tree.building.id}">(.*?)</li>', page, re.S).group(1)
    assert "下面没有组织" in item


def test_a_resident_sees_only_the_branch_leading_to_them(client, tree, people):
    other = make_org("金星二组", "group", tree.community)
    db.session.commit()
    login(client, people.resident)
    page = client.get(f"/orgs/{tree.district.id}").get_data(as_text=True)
    assert f'data-child="{tree.subdistrict.id}"' in page
    assert f'data-child="{tree.other_subdistrict.id}"' not in page
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    assert f'data-child="{tree.group.id}"' in page and f'data-child="{other.id}"' not in page
    # members of a place see all of its children
    add_member(people.outsider, tree.community, "resident")
    db.session.commit()
    login(client, people.outsider)
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    assert f'data-child="{tree.group.id}"' in page and f'data-child="{other.id}"' in page


def test_org_page_counts_join_requests_of_the_subtree(client, tree, people):
    login(client, people.outsider)
    client.post(f"/join/{tree.building.id}")
    client.post(f"/join/{tree.other_community.id}")
    login(client, people.staff)
    page = client.get(f"/orgs/{tree.community.id}").get_data(as_text=True)
    assert "待确认的加入申请：1 条" in page


def test_matrix_page_has_no_inline_styles(client, tree, people):
    login(client, people.district_admin)
    for url in (f"/orgs/{tree.district.id}/plugins", f"/orgs/{tree.district.id}/settings/sample"):
        r = client.get(url)
        if r.status_code == 200:
            assert "style=" not in r.get_data(as_text=True)
