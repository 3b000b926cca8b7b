"""core.people: resident profiles, the person-code resolver, cards and relatives
(API.md "People without smartphones, cards and relatives (core)")."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core import qr
from core.api import ApiError
from core.auth.services import authenticate
from core.extensions import db
from core.models import AuditLog, Membership, User
from core.people import services
from core.people.services import age_on, mask_phone, resolve_person_code
from core.testing import PASSWORD, bearer
from core.times import local_today


def elder(org, name="王奶奶", born=date(1940, 5, 1), phone=None, **profile) -> User:
    person = User(name=name, phone=phone, birth_date=born, **profile)
    db.session.add(person)
    db.session.flush()
    db.session.add(Membership(user_id=person.id, org_id=org.id, role="resident"))
    db.session.commit()
    return person


def refused(call) -> tuple[int, str]:
    with pytest.raises(ApiError) as err:
        call()
    db.session.rollback()
    return err.value.status, err.value.code


# -- unit: age, masking -------------------------------------------------------------------


def test_age_on_a_date_counts_whole_years():
    assert age_on(date(1941, 6, 15), date(2026, 6, 14)) == 84
    assert age_on(date(1941, 6, 15), date(2026, 6, 15)) == 85
    assert age_on(date(1941, 12, 31), date(2026, 1, 1)) == 84


def test_age_of_someone_born_on_a_leap_day():
    born = date(1940, 2, 29)
    assert age_on(born, date(2025, 2, 28)) == 84  # no 29 February in 2025: not yet
    assert age_on(born, date(2025, 3, 1)) == 85
    assert age_on(born, date(2028, 2, 28)) == 87
    assert age_on(born, date(2028, 2, 29)) == 88


def test_phones_are_masked():
    assert mask_phone("13800000001") == "138****0001"
    assert mask_phone(None) is None and mask_phone("") is None
    assert mask_phone("123") == "****"


# -- unit: the resolver, every answer ------------------------------------------------------


def test_resolver_finds_a_person_by_rotating_token_url_and_short_code(app, tree, people):
    person = elder(tree.building)
    now = time.time()
    code = qr.person_code(person.id, now=now)
    assert resolve_person_code(code.token, now=now) == person
    assert resolve_person_code(qr.scan_url(code.token), now=now) == person
    assert resolve_person_code(code.short_code, within_org=tree.community, now=now) == person
    spaced = f"{code.short_code[:4]} {code.short_code[4:]}"
    assert resolve_person_code(spaced, candidates=[person.id], now=now) == person


def test_resolver_refuses_every_bad_code(app, tree, people):
    person = elder(tree.building)
    now = time.time()
    code = qr.person_code(person.id, now=now)

    def err(raw, **kwargs):
        return refused(lambda: resolve_person_code(raw, now=now, **kwargs))

    assert err(code.token[:-3] + "abc") == (400, "token_forged")
    assert refused(lambda: resolve_person_code(code.token, now=now + 400)) == (400, "token_expired")
    for bad in ("", "hello", "person.", "1234567", "123456789", "１２３４５６７８"):
        assert err(bad) == (400, "token_malformed"), bad
    assert err(qr.rotating_token("person", {"u": "1"}, now=now)[0]) == (400, "token_malformed")
    checkin, _ = qr.rotating_token("checkin", {"a": 1}, now=now)
    assert err(checkin) == (400, "token_wrong_purpose")
    # a well-formed short code that matches nobody there
    assert err(code.short_code, within_org=tree.other_community) == (404, "person_not_found")
    assert err(code.short_code) == (404, "person_not_found")  # nobody named: only cards match
    assert err("00000000", within_org=tree.district) == (404, "person_not_found")
    assert err(qr.person_code(999_999, now=now).token) == (404, "person_not_found")


def test_cards_resolve_until_reissued(app, tree, people):
    person = elder(tree.building)
    first = services.issue_card(people.staff, person)
    db.session.commit()
    old_token, old_short = services.card_token(first), first.short_code
    assert len(old_short) == 8 and old_short.isdigit()
    assert resolve_person_code(old_token) == person
    assert resolve_person_code(qr.scan_url(old_token)) == person
    assert resolve_person_code(old_short) == person  # stored codes are unique among active cards
    assert resolve_person_code(old_short, within_org=tree.community) == person
    assert refused(lambda: resolve_person_code(old_short, within_org=tree.other_community)) == (
        404,
        "person_not_found",
    )
    second = services.issue_card(people.staff, person)
    db.session.commit()
    assert refused(lambda: resolve_person_code(old_token)) == (400, "card_revoked")
    if second.short_code != old_short:
        assert refused(lambda: resolve_person_code(old_short)) == (400, "card_revoked")
    assert resolve_person_code(services.card_token(second)) == person
    assert resolve_person_code(second.short_code, within_org=tree.building) == person
    forged = qr.sign("card", {"u": person.id, "c": 999})
    assert refused(lambda: resolve_person_code(forged)) == (400, "token_malformed")


def test_may_act_for_self_relatives_and_staff_only_when_asked(app, tree, people):
    person = elder(tree.building)
    services.add_relative(people.staff, person, people.resident.phone)
    db.session.commit()
    assert services.may_act_for(person, person)
    assert services.may_act_for(people.resident, person)
    assert not services.may_act_for(people.staff, person)
    assert services.may_act_for(people.staff, person, staff_ok=True)
    assert services.may_act_for(people.district_admin, person, staff_ok=True)
    assert not services.may_act_for(people.other_staff, person, staff_ok=True)
    assert not services.may_act_for(people.outsider, person, staff_ok=True)
    assert not services.may_act_for(person, people.resident)  # not the other way round


def test_a_person_without_a_password_cannot_log_in(app, client, tree, people):
    person = elder(tree.building, phone="13700000009")
    assert person.password_hash is None
    assert authenticate("13700000009", PASSWORD) is None
    assert not person.check_password("")
    r = client.post("/api/v1/auth/tokens", json={"phone": "13700000009", "password": PASSWORD})
    assert (r.status_code, r.json["error"]["code"]) == (401, "bad_credentials")
    r = client.post("/login", data={"phone": "13700000009", "password": PASSWORD})
    assert r.status_code == 400


# -- API: every row of the contract ---------------------------------------------------------


def residents_url(org) -> str:
    return f"/api/v1/orgs/{org.id}/residents"


def test_staff_register_an_elder_without_phone_or_password(client, tree, people):
    born = date(local_today().year - 85, 1, 1)
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={"name": "王桂兰", "birth_date": born.isoformat()},
    )
    assert r.status_code == 201, r.json
    assert r.json == {
        "user_id": r.json["user_id"],
        "name": "王桂兰",
        "birth_date": born.isoformat(),
        "age": 85,
        "hardship": False,
        "hardship_reason": None,
        "phone_masked": None,
    }
    person = db.session.get(User, r.json["user_id"])
    assert person.phone is None and person.password_hash is None
    assert (
        db.session.scalar(
            select(Membership.role).where(
                Membership.user_id == person.id, Membership.org_id == tree.building.id
            )
        )
        == "resident"
    )
    assert (
        db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == str(person.id)))
        == "person.register"
    )
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={
            "name": "李大爷",
            "birth_date": "1958-03-02",
            "hardship": True,
            "hardship_reason": "低保",
            "phone": "13700000001",
        },
    )
    assert r.status_code == 201
    assert (r.json["hardship"], r.json["hardship_reason"], r.json["phone_masked"]) == (
        True,
        "低保",
        "137****0001",
    )


def test_a_known_phone_links_the_person_instead(client, tree, people):
    assert people.outsider.birth_date is None
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={
            "name": "别的名字",
            "birth_date": "1950-07-01",
            "hardship": True,
            "phone": people.outsider.phone,
        },
    )
    assert r.status_code == 200, r.json
    assert (r.json["user_id"], r.json["name"], r.json["birth_date"], r.json["hardship"]) == (
        people.outsider.id,
        "路人",
        "1950-07-01",
        True,
    )
    assert db.session.scalar(select(User.id).where(User.name == "别的名字")) is None
    # linking again changes nothing that is filled in, and adds no second membership
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={"name": "x", "birth_date": "1960-01-01", "phone": people.outsider.phone},
    )
    assert (r.status_code, r.json["birth_date"]) == (200, "1950-07-01")
    assert (
        len(
            db.session.scalars(
                select(Membership).where(Membership.user_id == people.outsider.id)
            ).all()
        )
        == 1
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"birth_date": "1940-01-01"}, "name"),
        ({"name": "王"}, "birth_date"),
        ({"name": "王", "birth_date": "1940/01/01"}, "birth_date"),
        ({"name": "王", "birth_date": "1940-02-30"}, "birth_date"),
        ({"name": "王", "birth_date": "1899-12-31"}, "birth_date"),
        ({"name": "王", "birth_date": "2999-01-01"}, "birth_date"),
        ({"name": "王", "birth_date": 19400101}, "birth_date"),
        ({"name": "王", "birth_date": "1940-01-01", "phone": "12345"}, "phone"),
        ({"name": "王", "birth_date": "1940-01-01", "hardship": "yes"}, "hardship"),
        ({"name": "王", "birth_date": "1940-01-01", "hardship_reason": "穷"}, "hardship_reason"),
        ({"name": "", "birth_date": "1940-01-01"}, "name"),
    ],
)
def test_bad_registrations_are_400_naming_the_field(client, tree, people, body, field):
    r = client.post(residents_url(tree.building), headers=bearer(people.staff), json=body)
    assert r.status_code == 400 and field in r.json["error"]["fields"], r.json
    assert db.session.scalar(select(User.id).where(User.name == "王")) is None


def test_birth_date_today_is_not_in_the_past(client, tree, people):
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={"name": "王", "birth_date": local_today().isoformat()},
    )
    assert r.status_code == 400 and "birth_date" in r.json["error"]["fields"]
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    r = client.post(
        residents_url(tree.building),
        headers=bearer(people.staff),
        json={"name": "王", "birth_date": yesterday},
    )
    assert (r.status_code, r.json["age"]) == (201, 0)


def test_only_staff_over_the_org_register(client, tree, people):
    body = {"name": "王", "birth_date": "1940-01-01"}
    assert client.post(residents_url(tree.building), json=body).status_code == 401
    r = client.post(residents_url(tree.building), json=body, headers=bearer(people.resident))
    assert r.status_code == 403
    for who in (people.other_staff, people.outsider):
        assert (
            client.post(residents_url(tree.building), json=body, headers=bearer(who)).status_code
            == 404
        )
    assert (
        client.post(
            "/api/v1/orgs/99999/residents", json=body, headers=bearer(people.staff)
        ).status_code
        == 404
    )
    r = client.post(residents_url(tree.community), json=body, headers=bearer(people.district_admin))
    assert r.status_code == 201


def test_a_person_is_seen_by_themselves_relatives_and_staff_only(client, tree, people):
    person = elder(tree.building, phone="13700000002", hardship=True, hardship_reason="特困")
    services.add_relative(people.staff, person, people.resident.phone)
    db.session.commit()
    url = f"/api/v1/users/{person.id}"
    for who in (
        people.staff,
        people.community_admin,
        people.district_admin,
        people.resident,
        people.root,
    ):
        r = client.get(url, headers=bearer(who))
        assert r.status_code == 200, who
    assert r.json == {
        "id": person.id,
        "name": "王奶奶",
        "birth_date": "1940-05-01",
        "age": age_on(date(1940, 5, 1), local_today()),
        "hardship": True,
        "hardship_reason": "特困",
        "phone_masked": "137****0002",
        "relatives": [{"user_id": people.resident.id, "name": "居民"}],
    }
    for who in (people.other_staff, people.outsider):
        assert client.get(url, headers=bearer(who)).status_code == 404
    assert client.get("/api/v1/users/99999", headers=bearer(people.staff)).status_code == 404
    assert client.get(url).status_code == 401
    # the person themselves (and staff over them) also see a resident who has no profile
    r = client.get(f"/api/v1/users/{people.resident.id}", headers=bearer(people.resident))
    assert (r.status_code, r.json["age"], r.json["phone_masked"]) == (200, None, "130****0004")


def test_staff_change_the_profile_and_it_is_audited(client, tree, people):
    person = elder(tree.building)
    url = f"/api/v1/users/{person.id}/profile"
    r = client.patch(
        url,
        json={"birth_date": "1941-02-03", "hardship": True, "hardship_reason": "分散供养"},
        headers=bearer(people.staff),
    )
    assert r.status_code == 200, r.json
    assert (r.json["birth_date"], r.json["hardship"], r.json["hardship_reason"]) == (
        "1941-02-03",
        True,
        "分散供养",
    )
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "person.profile"))
    assert row.actor_id == people.staff.id and row.object_id == str(person.id)
    assert row.details["before"] == {
        "birth_date": "1940-05-01",
        "hardship": False,
        "hardship_reason": None,
    }
    assert row.details["after"]["birth_date"] == "1941-02-03"
    r = client.patch(url, json={"hardship": False}, headers=bearer(people.staff))
    assert (r.json["hardship"], r.json["hardship_reason"]) == (False, None)
    assert (
        client.patch(
            url, json={"birth_date": "2999-01-01"}, headers=bearer(people.staff)
        ).status_code
        == 400
    )
    assert client.patch(url, json={"hardship": 1}, headers=bearer(people.staff)).status_code == 400
    services.add_relative(people.staff, person, people.resident.phone)
    db.session.commit()
    assert (
        client.patch(url, json={"hardship": True}, headers=bearer(people.resident)).status_code
        == 403
    )  # relative: sees only
    for who in (people.other_staff, people.outsider):
        assert client.patch(url, json={"hardship": True}, headers=bearer(who)).status_code == 404
    assert db.session.get(User, person.id).hardship is False


def test_staff_link_a_relative_who_then_sees_their_dependant(client, tree, people):
    person = elder(tree.building)
    url = f"/api/v1/users/{person.id}/relatives"
    staff = bearer(people.staff)
    r = client.post(url, json={"phone": people.outsider.phone}, headers=staff)
    assert (r.status_code, r.json) == (201, {"user_id": people.outsider.id, "name": "路人"})
    assert (
        client.post(url, json={"phone": people.outsider.phone}, headers=staff).status_code == 200
    )  # again: the same link
    r = client.post(url, json={"phone": "13999999999"}, headers=staff)
    assert (r.status_code, r.json["error"]["code"]) == (404, "user_not_found")
    assert client.post(url, json={"phone": "x"}, headers=staff).status_code == 400
    assert (
        client.post(
            url, json={"phone": people.outsider.phone}, headers=bearer(people.other_staff)
        ).status_code
        == 404
    )
    me = bearer(people.outsider)
    assert client.post(url, json={"phone": people.resident.phone}, headers=me).status_code == 403
    r = client.get("/api/v1/me/dependants", headers=me)
    assert r.status_code == 200
    assert [(i["id"], i["name"], i["phone_masked"]) for i in r.json["items"]] == [
        (person.id, "王奶奶", None)
    ]
    assert r.json["next"] is None
    assert client.get(f"/api/v1/users/{person.id}", headers=me).status_code == 200
    r = client.get(f"/api/v1/users/{person.id}/person-code", headers=me)
    assert r.status_code == 200 and resolve_person_code(r.json["token"]) == person
    assert (
        client.get(
            f"/api/v1/users/{person.id}/person-code", headers=bearer(people.resident)
        ).status_code
        == 404
    )
    assert client.get("/api/v1/me/dependants", headers=bearer(people.resident)).json["items"] == []
    assert client.get("/api/v1/me/dependants").status_code == 401
    r = client.delete(f"{url}/{people.outsider.id}", headers=staff)
    assert r.status_code == 204
    assert client.get(f"/api/v1/users/{person.id}", headers=me).status_code == 404


def test_a_person_may_not_be_their_own_relative(client, tree, people):
    person = elder(tree.building, phone="13700000003")
    r = client.post(
        f"/api/v1/users/{person.id}/relatives",
        json={"phone": "13700000003"},
        headers=bearer(people.staff),
    )
    assert (r.status_code, r.json["error"]["code"]) == (400, "self_relative")


def test_my_person_code_is_core_and_any_plugin_can_resolve_it(client, tree, people):
    r = client.get("/api/v1/me/person-code", headers=bearer(people.resident))
    assert r.status_code == 200
    assert set(r.json) == {"token", "url", "short_code", "expires_at"}
    assert r.json["url"].endswith("/c/" + r.json["token"]) and len(r.json["short_code"]) == 8
    assert resolve_person_code(r.json["url"]) == people.resident
    assert resolve_person_code(r.json["short_code"], within_org=tree.community) == people.resident
    assert client.get("/api/v1/me/person-code").status_code == 401


def test_staff_issue_and_reissue_printed_cards(client, tree, people):
    person = elder(tree.building)
    url = f"/api/v1/users/{person.id}/card"
    staff = bearer(people.staff)
    assert client.get(url + ".svg", headers=staff).status_code == 404  # no card yet
    first = client.post(url, headers=staff)
    assert first.status_code == 201 and set(first.json) == {"token", "url", "short_code"}
    assert first.json["url"].endswith("/c/" + first.json["token"])
    assert resolve_person_code(first.json["token"]) == person
    svg = client.get(url + ".svg", headers=staff)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert client.get(url, headers=staff).json == first.json
    second = client.post(url, headers=staff).json
    assert second["token"] != first.json["token"]
    assert refused(lambda: resolve_person_code(first.json["token"])) == (400, "card_revoked")
    assert resolve_person_code(second["short_code"], within_org=tree.building) == person
    assert (
        db.session.scalar(
            select(AuditLog.action).where(AuditLog.action == "person.card_issue").limit(1)
        )
        == "person.card_issue"
    )
    services.add_relative(people.staff, person, people.resident.phone)
    db.session.commit()
    assert client.post(url, headers=bearer(people.resident)).status_code == 403
    for who in (people.other_staff, people.outsider):
        assert client.post(url, headers=bearer(who)).status_code == 404
        assert client.get(url + ".svg", headers=bearer(who)).status_code == 404
    assert client.post("/api/v1/users/99999/card", headers=staff).status_code == 404


def test_one_printed_card_is_an_a6_page_more_are_two_columns_on_a4(client, tree, people):
    for person in (elder(tree.building), elder(tree.building, name="李爷爷")):
        services.issue_card(people.staff, person)
    db.session.commit()
    staff = bearer(people.staff)
    one = client.get(f"/people/{person.id}/card", headers=staff).get_data(as_text=True)
    assert 'class="print-cards single"' in one and "cards-a6.css" in one  # @page size: A6
    many = client.get(f"/orgs/{tree.building.id}/cards", headers=staff).get_data(as_text=True)
    assert many.count('class="print-card"') == 2 and 'class="print-cards"' in many
    assert "cards-a6.css" not in many and "cards.css" in many  # A4, two 105 mm columns
    assert "data-print" in one and "print.js" in one and "onclick" not in one


def test_members_list_and_pages_cope_with_people_without_phones(client, tree, people):
    person = elder(tree.building)
    staff = bearer(people.staff)
    r = client.get(f"/api/v1/orgs/{tree.building.id}/members", headers=staff)
    assert [(i["name"], i["phone"]) for i in r.json["items"] if i["user_id"] == person.id] == [
        ("王奶奶", None)
    ]
    for page in (
        f"/orgs/{tree.building.id}",
        f"/orgs/{tree.building.id}/residents",
        f"/people/{person.id}",
        f"/orgs/{tree.building.id}/cards",
    ):
        assert client.get(page, headers=staff).status_code == 200, page
