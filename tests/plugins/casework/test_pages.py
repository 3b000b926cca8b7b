"""群众诉求 pages: raise on a phone, follow and rate, the staff queue, statistics, the board."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from core.extensions import db
from core.models import utcnow
from plugins.casework.models import Case


def one_h1(html: str) -> bool:
    return len(re.findall(r"<h1[ >]", html)) == 1


def test_a_resident_raises_a_case_on_the_form(client, on, people, log_in):
    log_in(people.resident)
    page = client.get(f"/casework/orgs/{on.building.id}/new").get_data(as_text=True)
    assert one_h1(page) and "环境卫生" in page and 'for="text"' in page and "<script" not in page
    answer = client.post(
        f"/casework/orgs/{on.building.id}/new",
        data={
            "category": "facilities",
            "text": "楼道灯坏了",
            "location": "2单元",
            "photo": (io.BytesIO(b""), ""),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    case = db.session.scalar(db.select(Case))
    assert case.text == "楼道灯坏了" and answer.location.endswith(f"/casework/cases/{case.id}")
    mine = client.get("/casework/me").get_data(as_text=True)
    assert "楼道灯坏了" in mine and "待受理" in mine and one_h1(mine)


def test_the_form_refuses_an_empty_text_and_a_non_image(client, on, people, log_in):
    log_in(people.resident)
    for data in (
        {"category": "facilities", "text": ""},
        {"category": "facilities", "text": "x", "photo": (io.BytesIO(b"not an image"), "a.jpg")},
    ):
        answer = client.post(
            f"/casework/orgs/{on.building.id}/new", data=data, content_type="multipart/form-data"
        )
        assert answer.status_code == 302 and answer.location.endswith("/new")
    assert db.session.query(Case).count() == 0
    page = client.get(f"/casework/orgs/{on.building.id}/new").get_data(as_text=True)
    assert "照片" in page


def test_staff_accept_resolve_and_the_resident_rates_on_pages(
    client, on, people, log_in, raise_one
):
    case = raise_one()
    log_in(people.staff)
    queue = client.get(f"/casework/orgs/{on.community.id}/queue").get_data(as_text=True)
    assert "路灯坏了" in queue and one_h1(queue)
    detail = client.get(f"/casework/cases/{case['id']}").get_data(as_text=True)
    assert "受理" in detail and "130****0004" in detail and "13000000004" not in detail
    assert client.post(f"/casework/cases/{case['id']}/accept").status_code == 302
    # Resolving asks first: without the confirmation it is refused.
    assert (
        client.post(f"/casework/cases/{case['id']}/resolve", data={"note": "修好了"}).status_code
        == 400
    )
    client.post(f"/casework/cases/{case['id']}/resolve", data={"note": "修好了", "confirm": "yes"})
    assert db.session.get(Case, case["id"]).status == "resolved"
    log_in(people.resident)
    mine = client.get("/casework/me").get_data(as_text=True)
    assert "满意" in mine and "不满意" in mine
    client.post(f"/casework/cases/{case['id']}/rate", data={"satisfied": "yes"})
    db.session.expire_all()
    assert db.session.get(Case, case["id"]).status == "closed"


def test_overdue_cases_are_marked_with_a_class(client, on, people, log_in, raise_one):
    case = raise_one()
    db.session.get(Case, case["id"]).due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    log_in(people.staff)
    queue = client.get(f"/casework/orgs/{on.community.id}/queue").get_data(as_text=True)
    assert "cw-overdue" in queue and "已超时" in queue and 'style="' not in queue


def test_escalate_on_the_page_needs_confirmation(client, on, people, log_in, raise_one):
    case = raise_one(org=on.community)
    log_in(people.staff)
    assert (
        client.post(f"/casework/cases/{case['id']}/escalate", data={"reason": "x"}).status_code
        == 400
    )
    client.post(
        f"/casework/cases/{case['id']}/escalate", data={"reason": "需街道", "confirm": "yes"}
    )
    db.session.expire_all()
    assert db.session.get(Case, case["id"]).handler_org_id == on.subdistrict.id


def test_statistics_page_and_public_board(client, on, people, log_in, raise_one):
    raise_one(location="5单元302室")
    log_in(people.staff)
    stats = client.get(f"/casework/orgs/{on.community.id}/stats").get_data(as_text=True)
    assert "设施维修" in stats and "<svg" in stats and one_h1(stats)
    assert client.get(f"/casework/orgs/{on.community.id}/stats?from=bad").status_code == 400
    client.get("/logout")
    log_in(people.outsider)
    board = client.get(f"/casework/orgs/{on.community.id}/board").get_data(as_text=True)
    assert "设施维修" in board and "1栋" in board
    for private in ("居民", "13000000004", "5单元302室", "路灯坏了"):
        assert private not in board


def test_strangers_get_404_on_case_pages(client, on, people, log_in, raise_one):
    case = raise_one()
    log_in(people.other_staff)
    assert client.get(f"/casework/cases/{case['id']}").status_code == 404
    assert client.post(f"/casework/cases/{case['id']}/accept").status_code == 404
    assert client.get(f"/casework/orgs/{on.community.id}/queue").status_code == 404


def test_staff_record_a_case_for_a_person_by_phone(client, on, people, log_in):
    log_in(people.staff)
    page = client.get(f"/casework/orgs/{on.community.id}/new").get_data(as_text=True)
    assert 'for="person"' in page
    answer = client.post(
        f"/casework/orgs/{on.community.id}/new",
        data={
            "person": people.resident.phone,
            "category": "elderly",
            "text": "电话反映：想申请助餐",
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    case = db.session.scalar(db.select(Case))
    assert case.user_id == people.resident.id and case.created_by_id == people.staff.id
    unknown = client.post(
        f"/casework/orgs/{on.community.id}/new",
        data={"person": "13999999999", "category": "elderly", "text": "x"},
        content_type="multipart/form-data",
    )
    assert unknown.status_code == 302 and unknown.location.endswith("/new")
    assert db.session.query(Case).count() == 1
