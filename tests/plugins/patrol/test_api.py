"""API.md "Patrols": every row over HTTP, with bad inputs and refusals."""

from __future__ import annotations

from core.extensions import db
from core.models import Organization, User
from core.testing import bearer, count_statements, enable
from plugins.patrol import services
from plugins.patrol.models import Route
from tests.plugins.patrol.conftest import iso
from tests.plugins.patrol.helpers import make_route, make_shift, tokens


def routes_url(org):
    return f"/api/v1/orgs/{org.id}/patrol/routes"


def shifts_url(org):
    return f"/api/v1/orgs/{org.id}/patrol/shifts"


def test_staff_create_a_route_with_codes(client, on, people):
    answer = client.post(
        routes_url(on.community),
        headers=bearer(people.staff),
        json={
            "name": "夜间巡逻",
            "checkpoints": [{"name": "东大门", "lat": 25.04, "lng": 102.71}, {"name": "车棚"}],
        },
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["name"] == "夜间巡逻"
    assert [c["name"] for c in body["checkpoints"]] == ["东大门", "车棚"]
    first = body["checkpoints"][0]
    assert first["token"].startswith("patrol.") and first["url"].endswith(f"/c/{first['token']}")
    svg = client.get(f"/api/v1/checkpoints/{first['id']}/code.svg", headers=bearer(people.staff))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert (
        client.get(
            f"/api/v1/checkpoints/{first['id']}/code.svg", headers=bearer(people.resident)
        ).status_code
        == 403
    )
    assert (
        client.get("/api/v1/checkpoints/99999/code.svg", headers=bearer(people.staff)).status_code
        == 404
    )


def test_bad_routes_are_400_naming_the_field(client, on, people):
    for body, field in (
        ({}, "name"),
        ({"name": "", "checkpoints": [{"name": "a"}]}, "name"),
        ({"name": "x", "checkpoints": []}, "checkpoints"),
        ({"name": "x", "checkpoints": [{"name": ""}]}, "checkpoints"),
        ({"name": "x", "checkpoints": [{"name": "a", "lat": 91}]}, "checkpoints"),
        ({"name": "x" * 101, "checkpoints": [{"name": "a"}]}, "name"),
        ({"name": "x", "checkpoints": "a"}, "checkpoints"),
    ):
        answer = client.post(routes_url(on.community), json=body, headers=bearer(people.staff))
        assert answer.status_code == 400, body
        assert field in answer.get_json()["error"]["fields"], body


def test_only_staff_create_routes(client, on, people):
    body = {"name": "x", "checkpoints": [{"name": "a"}]}
    assert client.post(
        routes_url(on.community), json=body, headers=bearer(people.resident)
    ).status_code in (403, 404)
    assert (
        client.post(
            routes_url(on.community), json=body, headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    assert client.post(routes_url(on.community), json=body).status_code == 401


def test_schedule_a_shift_and_read_it(client, on, people, team):
    route = make_route(people.staff, on.community)
    answer = client.post(
        shifts_url(on.community),
        headers=bearer(people.staff),
        json={
            "route_id": route.id,
            "starts_at": iso(60),
            "ends_at": iso(180),
            "team": [u.id for u in team],
            "points": 20,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "scheduled" and body["route_id"] == route.id
    assert body["grace_minutes"] == 15 and body["points"] == 20 and body["minutes"] == 120
    shown = client.get(f"/api/v1/shifts/{body['id']}", headers=bearer(team[0])).get_json()
    assert {m["name"] for m in shown["team"]} == {"队员甲", "队员乙"}
    assert [c["scanned_at"] for c in shown["checkpoints"]] == [None] * 4
    assert set(shown) >= {"id", "route_id", "starts_at", "ends_at", "status", "team", "checkpoints"}
    assert (
        client.get(f"/api/v1/shifts/{body['id']}", headers=bearer(people.resident)).status_code
        == 404
    )


def test_bad_shifts_are_400(client, on, people, team):
    route = make_route(people.staff, on.community)
    other = make_route(people.other_staff, on.other_community)
    good = {"route_id": route.id, "starts_at": iso(60), "ends_at": iso(120), "team": [team[0].id]}
    for change, field in (
        ({"route_id": other.id}, "route_id"),
        ({"route_id": 0}, "route_id"),
        ({"ends_at": iso(30)}, "ends_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"team": []}, "team"),
        ({"team": [team[0].id, team[0].id]}, "team"),
        ({"team": [people.other_staff.id]}, "team"),
        ({"team": ["1"]}, "team"),
        ({"points": -1}, "points"),
        ({"points": "5"}, "points"),
        ({"grace_minutes": 1000}, "grace_minutes"),
        ({"ends_at": iso(60 * 30)}, "ends_at"),
    ):
        answer = client.post(
            shifts_url(on.community), headers=bearer(people.staff), json={**good, **change}
        )
        assert answer.status_code == 400, change
        assert field in answer.get_json()["error"]["fields"], (change, answer.get_json())
    assert client.post(
        shifts_url(on.community), headers=bearer(people.resident), json=good
    ).status_code in (403, 404)


def test_scan_over_the_api_counts_and_replays(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    first = client.post("/api/v1/scan", json={"token": tokens(route)[0]}, headers=bearer(team[0]))
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["kind"] == "checkpoint" and body["shift_id"] == shift.id
    assert (body["scanned"], body["total"]) == (1, 4)
    again = client.post("/api/v1/scan", json={"token": tokens(route)[0]}, headers=bearer(team[1]))
    assert again.get_json()["at"] == body["at"] and again.get_json()["scanned"] == 1
    shown = client.get(f"/api/v1/shifts/{shift.id}", headers=bearer(people.staff)).get_json()
    assert shown["status"] == "on"
    assert shown["checkpoints"][0]["user_id"] == team[0].id


def test_scan_refusals(client, on, people, team):
    route = make_route(people.staff, on.community)
    make_shift(people.staff, on.community, route, team[:1])
    token = tokens(route)[0]
    outsider = client.post("/api/v1/scan", json={"token": token}, headers=bearer(team[1]))
    assert outsider.status_code == 409
    assert outsider.get_json()["error"]["code"] == "no_active_shift"
    forged = client.post(
        "/api/v1/scan", json={"token": token[:-3] + "abc"}, headers=bearer(team[0])
    )
    assert forged.status_code == 400
    assert client.post("/api/v1/scan", json={"token": token}).status_code == 401


def test_list_shifts_by_status(client, on, people, team):
    route = make_route(people.staff, on.community)
    now_on = make_shift(people.staff, on.community, route, team)
    later = make_shift(people.staff, on.community, route, team, starts_in=600)
    url = shifts_url(on.community)
    assert [
        s["id"]
        for s in client.get(url + "?status=on", headers=bearer(people.staff)).get_json()["items"]
    ] == [now_on.id]
    assert [
        s["id"]
        for s in client.get(url + "?status=scheduled", headers=bearer(people.staff)).get_json()[
            "items"
        ]
    ] == [later.id]
    assert len(client.get(url, headers=bearer(people.community_admin)).get_json()["items"]) == 2
    assert client.get(url + "?status=nope", headers=bearer(people.staff)).status_code == 400
    assert client.get(url, headers=bearer(team[0])).status_code == 403
    assert client.get(shifts_url(on.subdistrict), headers=bearer(people.district_admin)).get_json()[
        "items"
    ]


def test_close_answers_missed_and_again_the_same(client, on, people, team, spy):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    for token in tokens(route)[:3]:
        client.post("/api/v1/scan", json={"token": token}, headers=bearer(team[0]))
    url = f"/api/v1/shifts/{shift.id}/close"
    assert client.post(url, headers=bearer(team[0])).status_code == 403
    closed = client.post(url, headers=bearer(people.staff))
    assert closed.status_code == 200, closed.get_json()
    missed = [c.id for c in services.checkpoints_of(route.id)][3:]
    assert closed.get_json() == {"status": "incomplete", "missed": missed, "minutes": 0}
    assert client.post(url, headers=bearer(people.staff)).get_json() == closed.get_json()
    assert spy.calls == []
    assert (
        client.post(
            "/api/v1/scan", json={"token": tokens(route)[3]}, headers=bearer(team[0])
        ).status_code
        == 409
    )
    assert (
        client.post("/api/v1/shifts/99999/close", headers=bearer(people.staff)).status_code == 404
    )


def test_incident_reported_and_resolved(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    url = f"/api/v1/shifts/{shift.id}/incidents"
    made = client.post(url, headers=bearer(team[0]), json={"kind": "hazard", "text": "路灯坏了"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "open"
    queue = client.get(
        f"/api/v1/orgs/{on.community.id}/patrol/incidents?status=open", headers=bearer(people.staff)
    ).get_json()["items"]
    assert [i["id"] for i in queue] == [made.get_json()["id"]]
    resolve = f"/api/v1/incidents/{made.get_json()['id']}/resolve"
    assert client.post(resolve, json={"note": "已报修"}, headers=bearer(team[0])).status_code == 403
    assert client.post(resolve, json={}, headers=bearer(people.staff)).status_code == 400
    done = client.post(resolve, json={"note": "已报修"}, headers=bearer(people.staff))
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert client.post(resolve, json={"note": "x"}, headers=bearer(people.staff)).status_code == 409
    assert (
        client.get(
            f"/api/v1/orgs/{on.community.id}/patrol/incidents?status=open",
            headers=bearer(people.staff),
        ).get_json()["items"]
        == []
    )
    assert (
        client.get(
            f"/api/v1/orgs/{on.community.id}/patrol/incidents?status=x",
            headers=bearer(people.staff),
        ).status_code
        == 400
    )
    assert (
        client.get(
            f"/api/v1/orgs/{on.community.id}/patrol/incidents", headers=bearer(team[0])
        ).status_code
        == 403
    )


def test_bad_incidents(client, on, people, team):
    route = make_route(people.staff, on.community)
    other = make_route(people.staff, on.community, names=("别处",))
    shift = make_shift(people.staff, on.community, route, team[:1])
    url = f"/api/v1/shifts/{shift.id}/incidents"
    elsewhere = services.checkpoints_of(other.id)[0].id
    for body, field in (
        ({"kind": "fire", "text": "x"}, "kind"),
        ({"kind": "other"}, "text"),
        ({"kind": "other", "text": ""}, "text"),
        ({"kind": "other", "text": "x", "checkpoint_id": "1"}, "checkpoint_id"),
        ({"kind": "other", "text": "x", "checkpoint_id": elsewhere}, "checkpoint_id"),
    ):
        answer = client.post(url, json=body, headers=bearer(team[0]))
        assert answer.status_code == 400, body
        assert field in answer.get_json()["error"]["fields"], body
    assert (
        client.post(url, json={"kind": "other", "text": "x"}, headers=bearer(team[1])).status_code
        == 404
    )


def test_switched_off_answers_404(client, on, people, team):
    route = make_route(people.staff, on.community)
    shift = make_shift(people.staff, on.community, route, team)
    enable(on.community, "patrol", False)
    db.session.commit()
    assert client.get(f"/api/v1/shifts/{shift.id}", headers=bearer(team[0])).status_code == 404
    assert (
        client.post(
            routes_url(on.community),
            json={"name": "x", "checkpoints": [{"name": "a"}]},
            headers=bearer(people.staff),
        ).status_code
        == 404
    )
    scan = client.post("/api/v1/scan", json={"token": tokens(route)[0]}, headers=bearer(team[0]))
    assert scan.status_code == 404


def test_a_page_of_shifts_costs_the_same_for_2_or_12_and_matches_one_shift(
    client, on, people, team
):
    route = make_route(people.staff, on.community)
    first = make_shift(people.staff, on.community, route, team)
    client.post("/api/v1/scan", json={"token": tokens(route)[0]}, headers=bearer(team[0]))
    make_shift(people.staff, on.community, route, team, starts_in=60)
    url, headers = shifts_url(on.community), bearer(people.staff)
    route_id, team_ids, first_id = route.id, [u.id for u in team], first.id
    staff_id, community_id = people.staff.id, on.community.id

    def page():
        db.session.remove()
        with count_statements() as seen:
            body = client.get(url, headers=headers).get_json()
        return body["items"], len(seen)

    two, few = page()
    route = db.session.get(Route, route_id)
    team = [db.session.get(User, i) for i in team_ids]
    staff, community = db.session.get(User, staff_id), db.session.get(Organization, community_id)
    for i in range(10):
        make_shift(staff, community, route, team, starts_in=120 + i)
    twelve, many = page()
    assert len(two) == 2 and len(twelve) == 12
    assert many == few  # teams, routes and checkpoints are read once per page
    # The page shows each shift exactly as the shift's own URL does.
    one = client.get(f"/api/v1/shifts/{first_id}", headers=headers).get_json()
    assert twelve[0] == one
    assert twelve[0]["checkpoints"][0]["user_id"] == team_ids[0]
    assert [m["user_id"] for m in twelve[0]["team"]] == team_ids
