"""People without smartphones: /api/v1 rows of API.md "People without
smartphones, cards and relatives (core)", thin over core.people.services."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_login import current_user, login_required

from core import qr
from core.access import get_org
from core.api import NotFound, doc, load
from core.extensions import db
from core.models import User
from core.people import services
from core.people.schemas import (
    CardSchema,
    PersonCodeSchema,
    PersonSchema,
    ProfileSchema,
    RelativeCreateSchema,
    RelativeSchema,
    ResidentCreateSchema,
    ResidentSchema,
)

bp = Blueprint("people", __name__)


def resident_dict(person) -> dict:
    body = services.person_dict(person, relatives=False)
    return {"user_id": body.pop("id"), **body}


def code_dict(person_id: int) -> dict:
    code = qr.person_code(person_id)
    return {
        "token": code.token,
        "url": qr.scan_url(code.token),
        "short_code": code.short_code,
        "expires_at": code.expires_at.isoformat(),
    }


def card_dict(card) -> dict:
    token = services.card_token(card)
    return {"token": token, "url": qr.scan_url(token), "short_code": card.short_code}


@bp.post("/api/v1/orgs/<int:org_id>/residents")
@login_required
@doc(body=ResidentCreateSchema, response=ResidentSchema, status=201, also=(200,))
def api_register_resident(org_id):
    """Register a person at the desk (staff): no phone or password needed; a known
    phone links that person instead (200)."""
    org = get_org(org_id)
    data = load(ResidentCreateSchema())
    person, created = services.register_resident(current_user, org, **data)
    db.session.commit()
    return ResidentSchema().dump(resident_dict(person)), 201 if created else 200


@bp.get("/api/v1/users/<int:user_id>")
@login_required
@doc(response=PersonSchema)
def api_person(user_id):
    """A person's profile: for themselves, a relative, or staff over them (else 404)."""
    person = services.visible_person(current_user, user_id)
    return PersonSchema().dump(services.person_dict(person))


@bp.patch("/api/v1/users/<int:user_id>/profile")
@login_required
@doc(body=ProfileSchema, response=PersonSchema)
def api_update_profile(user_id):
    """Change birth date or hardship (staff over the person); audited."""
    person = services.staff_person(current_user, user_id)
    data = load(ProfileSchema())
    services.update_profile(current_user, person, **data)
    db.session.commit()
    return PersonSchema().dump(services.person_dict(person))


@bp.post("/api/v1/users/<int:user_id>/relatives")
@login_required
@doc(body=RelativeCreateSchema, response=RelativeSchema, status=201, also=(200,))
def api_add_relative(user_id):
    """Let the user with this phone act for the person (staff over the person);
    again → 200."""
    person = services.staff_person(current_user, user_id)
    data = load(RelativeCreateSchema())
    relative, created = services.add_relative(current_user, person, data["phone"])
    db.session.commit()
    return RelativeSchema().dump(
        {"user_id": relative.id, "name": relative.name}
    ), 201 if created else 200


@bp.delete("/api/v1/users/<int:user_id>/relatives/<int:relative_id>")
@login_required
@doc(status=204)
def api_remove_relative(user_id, relative_id):
    """Unlink a relative (staff over the person)."""
    person = services.staff_person(current_user, user_id)
    services.remove_relative(current_user, person, relative_id)
    db.session.commit()
    return "", 204


@bp.get("/api/v1/me/dependants")
@login_required
@doc(response=PersonSchema, many=True)
def api_dependants():
    """The people I may act for as a relative."""
    items = [services.person_dict(p) for p in services.dependants_of(current_user)]
    return jsonify({"items": PersonSchema(many=True).dump(items), "next": None})


@bp.get("/api/v1/me/person-code")
@login_required
@doc(response=PersonCodeSchema)
def api_person_code():
    """My own rotating code (for staff to scan) and its 8-digit short code."""
    return code_dict(current_user.id)


@bp.get("/api/v1/users/<int:user_id>/person-code")
@login_required
@doc(response=PersonCodeSchema)
def api_dependant_code(user_id):
    """A dependant's rotating code, shown on a relative's phone (the person or a relative)."""
    person = db.session.get(User, user_id)
    if person is None or not services.may_act_for(current_user, person):
        raise NotFound("未找到该用户")
    return code_dict(person.id)


@bp.post("/api/v1/users/<int:user_id>/card")
@login_required
@doc(response=CardSchema, status=201)
def api_issue_card(user_id):
    """Issue a printed card (staff over the person); the previous card stops working."""
    person = services.staff_person(current_user, user_id)
    card = services.issue_card(current_user, person)
    db.session.commit()
    return CardSchema().dump(card_dict(card)), 201


def _active_card(user_id):
    person = services.staff_person(current_user, user_id)
    card = services.active_card(person)
    if card is None:
        raise NotFound("此人还没有服务卡", code="no_card")
    return card


@bp.get("/api/v1/users/<int:user_id>/card")
@login_required
@doc(response=CardSchema)
def api_card(user_id):
    """The person's current card (staff over them); 404 ``no_card``."""
    return CardSchema().dump(card_dict(_active_card(user_id)))


@bp.get("/api/v1/users/<int:user_id>/card.svg")
@login_required
def api_card_svg(user_id):
    """The current card's QR code as SVG (staff over the person)."""
    card = card_dict(_active_card(user_id))
    return Response(
        qr.svg(card["url"]), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"}
    )
