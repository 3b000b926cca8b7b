import threading

from sqlalchemy import func, select

from core.extensions import db
from core.testing import add_member, bearer, make_user
from plugins.volunteering.models import Signup
from tests.plugins.volunteering.conftest import make_activity


def residents(tree, count: int):
    users = []
    for i in range(count):
        user = make_user(f"1370000{i:04d}", f"志愿者{i}")
        add_member(user, tree.building, "resident")
        users.append(user)
    db.session.commit()
    return users


def statuses(activity_id: int) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(Signup.user_id, Signup.status).where(Signup.activity_id == activity_id)
        ).all()
    )


def test_confirmed_up_to_capacity_then_waitlist_in_order(client, on, people):
    activity = make_activity(on.community, capacity=2)
    a, b, c, d = residents(on, 4)
    answers = [
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=bearer(u))
        for u in (a, b, c, d)
    ]
    assert [r.status_code for r in answers] == [201] * 4
    assert [r.json["status"] for r in answers] == [
        "confirmed",
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    assert [r.json["position"] for r in answers[2:]] == [1, 2]


def test_signing_up_again_answers_200_with_the_same_signup(client, on, people):
    activity = make_activity(on.community, capacity=1)
    headers = bearer(people.resident)
    first = client.post(f"/api/v1/activities/{activity.id}/signups", headers=headers)
    again = client.post(f"/api/v1/activities/{activity.id}/signups", headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 1


def test_cancel_promotes_the_first_waiting(client, on, people):
    activity = make_activity(on.community, capacity=1)
    a, b, c = residents(on, 3)
    for user in (a, b, c):
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=bearer(user))
    r = client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=bearer(a))
    assert r.status_code == 204
    assert statuses(activity.id) == {a.id: "cancelled", b.id: "confirmed", c.id: "waitlisted"}
    # cancelling what you do not hold
    r = client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=bearer(a))
    assert r.status_code == 404 and r.json["error"]["code"] == "not_signed_up"
    # signing up again joins the end of the queue
    r = client.post(f"/api/v1/activities/{activity.id}/signups", headers=bearer(a))
    assert r.status_code == 201 and r.json == {
        "status": "waitlisted",
        "activity_id": activity.id,
        "position": 2,
    }


def test_overlapping_confirmed_signups_are_refused(client, on, people):
    morning = make_activity(on.community, starts_in=60, minutes=120, title="上午清洁")
    overlapping = make_activity(on.subdistrict, starts_in=120, minutes=120, title="宣传")
    afterwards = make_activity(on.community, starts_in=180, minutes=60, title="之后")
    headers = bearer(people.resident)
    assert (
        client.post(f"/api/v1/activities/{morning.id}/signups", headers=headers).status_code == 201
    )
    r = client.post(f"/api/v1/activities/{overlapping.id}/signups", headers=headers)
    assert r.status_code == 409
    assert r.json["error"]["code"] == "time_clash"
    assert "上午清洁" in r.json["error"]["message"]
    assert r.json["error"]["fields"]["activity_id"] == [morning.id]
    assert statuses(overlapping.id) == {}
    assert (
        client.post(f"/api/v1/activities/{afterwards.id}/signups", headers=headers).status_code
        == 201
    )


def test_signup_closes_at_the_deadline_and_for_outsiders(client, on, people):
    over = make_activity(on.community, starts_in=-200, minutes=100)
    r = client.post(f"/api/v1/activities/{over.id}/signups", headers=bearer(people.resident))
    assert r.status_code == 409 and r.json["error"]["code"] == "signup_closed"
    other = make_activity(on.other_community)
    r = client.post(f"/api/v1/activities/{other.id}/signups", headers=bearer(people.resident))
    assert r.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 0


def test_ten_racing_signups_for_three_places(app, on, people):
    activity = make_activity(on.community, capacity=3)
    users = residents(on, 10)
    tokens = [bearer(u) for u in users]
    url = f"/api/v1/activities/{activity.id}/signups"  # no ORM access from the threads
    barrier = threading.Barrier(10)
    results: list[int] = []

    def sign_up(headers):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            r = client.post(url, headers=headers)
            results.append(r.status_code)
            db.session.remove()

    threads = [threading.Thread(target=sign_up, args=(h,)) for h in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 10
    db.session.rollback()  # end this session's read snapshot
    found = list(statuses(activity.id).values())
    assert found.count("confirmed") == 3
    assert found.count("waitlisted") == 7


def test_spec_documents_the_200_of_a_repeated_sign_up(client):
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/activities/{activity_id}/signups"
    ]["post"]
    assert {"200", "201"} <= set(operation["responses"])
