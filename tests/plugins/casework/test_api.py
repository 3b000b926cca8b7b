"""群众诉求 over HTTP: every row of the contract, with bad inputs."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from core.extensions import db
from core.models import AuditLog
from core.people.services import add_relative
from core.testing import add_member, bearer, enable, make_user


def png_b64(size=(4, 4)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def actions(client, case_id, user):
    answer = client.get(f"/api/v1/cases/{case_id}", headers=bearer(user))
    assert answer.status_code == 200, answer.get_json()
    return [e["action"] for e in answer.get_json()["timeline"]]


def test_a_resident_raises_a_case_handled_where_raised(client, on, people, raise_one):
    case = raise_one(location="3单元门口", photo=png_b64())
    assert case["status"] == "open"
    assert case["org_id"] == case["handler_org_id"] == on.building.id
    assert case["due_at"] and case["has_photo"] is True
    got = client.get(f"/api/v1/cases/{case['id']}", headers=bearer(people.resident)).get_json()
    assert got["timeline"][0]["action"] == "raised"
    assert got["timeline"][0]["user_id"] == people.resident.id
    assert set(got["timeline"][0]) == {"at", "action", "org_id", "user_id", "note"}
    assert db.session.query(AuditLog).filter_by(action="casework.raised").count() == 1


def test_due_time_uses_the_limit_of_the_handlers_level(client, on, people, raise_one):
    from datetime import datetime

    from core import settings

    settings.put(people.community_admin, on.community, "casework", {"hours_building": 6})
    db.session.commit()
    case = raise_one()
    due = datetime.fromisoformat(case["due_at"])
    created = datetime.fromisoformat(
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(people.resident)).get_json()[
            "created_at"
        ]
    )
    assert round((due - created).total_seconds() / 3600) == 6


def test_staff_record_a_case_for_a_person(client, on, people):
    answer = client.post(
        f"/api/v1/orgs/{on.community.id}/cases",
        json={"category": "elderly", "text": "电话反映：想申请助餐", "user_id": people.resident.id},
        headers=bearer(people.staff),
    )
    assert answer.status_code == 201, answer.get_json()
    case = answer.get_json()
    assert case["handler_org_id"] == on.community.id
    mine = client.get("/api/v1/me/cases", headers=bearer(people.resident)).get_json()
    assert [c["id"] for c in mine["items"]] == [case["id"]]
    # A resident may not record for someone else; staff may not for a stranger.
    denied = client.post(
        f"/api/v1/orgs/{on.building.id}/cases",
        json={"category": "other", "text": "x", "user_id": people.staff.id},
        headers=bearer(people.resident),
    )
    assert denied.status_code == 403
    stranger = client.post(
        f"/api/v1/orgs/{on.community.id}/cases",
        json={"category": "other", "text": "x", "user_id": people.other_staff.id},
        headers=bearer(people.staff),
    )
    assert stranger.status_code == 404


def test_outsiders_may_not_raise_and_strangers_read_nothing(client, on, people, raise_one):
    refused = client.post(
        f"/api/v1/orgs/{on.building.id}/cases",
        json={"category": "other", "text": "x"},
        headers=bearer(people.outsider),
    )
    assert refused.status_code == 404
    case = raise_one()
    for stranger in (people.outsider, people.other_staff):
        assert (
            client.get(f"/api/v1/cases/{case['id']}", headers=bearer(stranger)).status_code == 404
        )
        assert (
            client.post(f"/api/v1/cases/{case['id']}/accept", headers=bearer(stranger)).status_code
            == 404
        )
    assert client.get("/api/v1/cases/999999", headers=bearer(people.staff)).status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"category": "facilities", "text": ""}, "text"),
        ({"category": "facilities", "text": "   "}, "text"),
        ({"category": "facilities", "text": "长" * 1001}, "text"),
        ({"category": "facilities"}, "text"),
        ({"category": "weather", "text": "x"}, "category"),
        ({"text": "x"}, "category"),
        ({"category": "facilities", "text": "x", "location": "地" * 101}, "location"),
        ({"category": "facilities", "text": "x", "photo": "bm90IGFuIGltYWdl"}, "photo"),
        ({"category": "facilities", "text": "x", "photo": "%%%not base64%%%"}, "photo"),
        ({"category": "facilities", "text": "x", "photo": 5}, "photo"),
        ({"category": "facilities", "text": "x", "user_id": "5"}, "user_id"),
    ],
)
def test_bad_cases_are_400_naming_the_field(client, on, people, body, field):
    answer = client.post(
        f"/api/v1/orgs/{on.building.id}/cases", json=body, headers=bearer(people.resident)
    )
    assert answer.status_code == 400, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]
    assert client.get("/api/v1/me/cases", headers=bearer(people.resident)).get_json()["items"] == []


def test_a_gif_or_a_decompression_bomb_is_refused(client, on, people):
    gif = io.BytesIO()
    Image.new("RGB", (2, 2)).save(gif, "GIF")
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")  # tiny file, 144 MP
    for raw in (gif.getvalue(), bomb.getvalue()):
        answer = client.post(
            f"/api/v1/orgs/{on.building.id}/cases",
            json={"category": "other", "text": "x", "photo": base64.b64encode(raw).decode()},
            headers=bearer(people.resident),
        )
        assert answer.status_code == 400
        assert "photo" in answer.get_json()["error"]["fields"]


def test_the_photo_is_served_to_readers_only(client, on, people, raise_one, log_in):
    case = raise_one(photo="data:image/png;base64," + png_b64())
    log_in(people.staff)
    answer = client.get(f"/casework/cases/{case['id']}/photo")
    # stored re-encoded by core.photos (upright, shrunk, no GPS metadata)
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    log_in(people.outsider)
    assert client.get(f"/casework/cases/{case['id']}/photo").status_code == 404


def test_accept_is_idempotent_and_staff_only(client, on, people, raise_one):
    case = raise_one()
    url = f"/api/v1/cases/{case['id']}/accept"
    assert client.post(url, headers=bearer(people.resident)).status_code == 403
    first = client.post(url, headers=bearer(people.staff))
    assert first.status_code == 200 and first.get_json()["status"] == "accepted"
    again = client.post(url, headers=bearer(people.community_admin))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert actions(client, case["id"], people.resident) == ["raised", "accepted"]


def test_escalate_by_staff_at_the_handler_up_to_the_district(client, on, people, raise_one):
    case = raise_one(org=on.community)
    url = f"/api/v1/cases/{case['id']}/escalate"
    assert client.post(url, json={"reason": ""}, headers=bearer(people.staff)).status_code == 400
    assert (
        client.post(url, json={"reason": "长" * 501}, headers=bearer(people.staff)).status_code
        == 400
    )
    # Staff above the handler may accept but not escalate (only the handler's own staff).
    assert (
        client.post(url, json={"reason": "x"}, headers=bearer(people.district_admin)).status_code
        == 403
    )
    up = client.post(url, json={"reason": "需要街道协调"}, headers=bearer(people.staff))
    assert up.status_code == 200, up.get_json()
    assert up.get_json()["handler_org_id"] == on.subdistrict.id
    assert up.get_json()["status"] == "open"
    assert up.get_json()["due_at"] != case["due_at"]
    # The community staff can still read it (the origin), no longer escalate it.
    assert client.post(url, json={"reason": "x"}, headers=bearer(people.staff)).status_code == 403
    sub_staff = make_user("13100000001", "街道干部")
    add_member(sub_staff, on.subdistrict, "staff")
    db.session.commit()
    assert (
        client.post(url, json={"reason": "需要区里"}, headers=bearer(sub_staff)).status_code == 200
    )
    top = client.post(url, json={"reason": "再上报"}, headers=bearer(people.district_admin))
    assert top.status_code == 409 and top.get_json()["error"]["code"] == "top_level"
    timeline = client.get(
        f"/api/v1/cases/{case['id']}", headers=bearer(people.resident)
    ).get_json()["timeline"]
    assert [e["action"] for e in timeline] == ["raised", "escalated", "escalated"]
    assert timeline[1]["note"] == "需要街道协调" and timeline[1]["org_id"] == on.subdistrict.id


def test_resolve_then_rate_satisfied_closes(client, on, people, raise_one):
    case = raise_one()
    rate_url = f"/api/v1/cases/{case['id']}/rate"
    early = client.post(rate_url, json={"satisfied": True}, headers=bearer(people.resident))
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_resolved"
    resolve_url = f"/api/v1/cases/{case['id']}/resolve"
    for body in ({}, {"note": ""}, {"note": "办" * 501}):
        assert client.post(resolve_url, json=body, headers=bearer(people.staff)).status_code == 400
    assert (
        client.post(resolve_url, json={"note": "x"}, headers=bearer(people.resident)).status_code
        == 403
    )
    done = client.post(resolve_url, json={"note": "已更换灯泡"}, headers=bearer(people.staff))
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert (
        client.post(resolve_url, json={"note": "again"}, headers=bearer(people.staff)).status_code
        == 409
    )
    assert (
        client.post(
            rate_url, json={"satisfied": "yes"}, headers=bearer(people.resident)
        ).status_code
        == 400
    )
    assert (
        client.post(rate_url, json={"satisfied": True}, headers=bearer(people.staff)).status_code
        == 403
    )
    closed = client.post(
        rate_url, json={"satisfied": True, "comment": "很快"}, headers=bearer(people.resident)
    )
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert (
        client.post(
            rate_url, json={"satisfied": False}, headers=bearer(people.resident)
        ).status_code
        == 409
    )
    assert actions(client, case["id"], people.resident) == ["raised", "resolved", "rated"]


def test_a_relative_rates_not_satisfied_and_it_reopens_one_level_up(client, on, people, raise_one):
    son = make_user("13100000002", "儿子")
    add_relative(people.staff, people.resident, son.phone)
    db.session.commit()
    case = raise_one()
    assert client.get(f"/api/v1/cases/{case['id']}", headers=bearer(son)).status_code == 200
    client.post(
        f"/api/v1/cases/{case['id']}/resolve", json={"note": "好了"}, headers=bearer(people.staff)
    )
    answer = client.post(
        f"/api/v1/cases/{case['id']}/rate", json={"satisfied": False}, headers=bearer(son)
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "open"
    assert answer.get_json()["handler_org_id"] == on.group.id
    assert actions(client, case["id"], son) == ["raised", "resolved", "rated", "reopened"]


def test_not_satisfied_at_the_district_stays_at_the_district(client, on, people, raise_one):
    add_member(people.resident, on.district, "resident")
    db.session.commit()
    case = raise_one(org=on.district)
    client.post(
        f"/api/v1/cases/{case['id']}/resolve",
        json={"note": "好了"},
        headers=bearer(people.district_admin),
    )
    answer = client.post(
        f"/api/v1/cases/{case['id']}/rate",
        json={"satisfied": False},
        headers=bearer(people.resident),
    )
    assert answer.get_json()["status"] == "open"
    assert answer.get_json()["handler_org_id"] == on.district.id


def test_queue_is_handled_here_and_below_oldest_due_first(client, on, people, raise_one):
    at_building = raise_one()  # due in 24 h
    at_community = raise_one(org=on.community)  # due in 48 h
    client.post(
        f"/api/v1/orgs/{on.other_community.id}/cases",
        json={"category": "other", "text": "别处"},
        headers=bearer(people.other_staff),
    )
    url = f"/api/v1/orgs/{on.community.id}/cases"
    listed = client.get(url, headers=bearer(people.staff)).get_json()
    assert [c["id"] for c in listed["items"]] == [at_building["id"], at_community["id"]]
    client.post(f"/api/v1/cases/{at_building['id']}/accept", headers=bearer(people.staff))
    only = client.get(url + "?status=accepted", headers=bearer(people.staff)).get_json()
    assert [c["id"] for c in only["items"]] == [at_building["id"]]
    assert client.get(url + "?status=weird", headers=bearer(people.staff)).status_code == 400
    assert client.get(url, headers=bearer(people.resident)).status_code == 403
    assert client.get(url, headers=bearer(people.outsider)).status_code == 404
    first = client.get(url + "?limit=1", headers=bearer(people.staff)).get_json()
    rest = client.get(
        url + f"?limit=1&cursor={first['next']}", headers=bearer(people.staff)
    ).get_json()
    assert [c["id"] for c in rest["items"]] == [at_community["id"]]


def test_me_cases_newest_first(client, on, people, raise_one):
    ids = [raise_one(text=f"第{n}件")["id"] for n in range(3)]
    mine = client.get("/api/v1/me/cases", headers=bearer(people.resident)).get_json()
    assert [c["id"] for c in mine["items"]] == ids[::-1]


def test_switched_off_at_the_origin_answers_404(client, on, people, raise_one):
    case = raise_one()
    enable(on.community, "casework", False)
    db.session.commit()
    assert (
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(people.resident)).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/orgs/{on.building.id}/cases",
            json={"category": "other", "text": "x"},
            headers=bearer(people.resident),
        ).status_code
        == 404
    )
