"""People pages: the desk (register residents, print cards), a person's page
(profile, relatives, card) and 我的家人 (a relative's dependants and their codes).

Refusals follow core.pages: 404s and plain 403s are error pages, the rest are flashed.
"""

from __future__ import annotations

from datetime import date

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from core import qr
from core.access import get_org, require_role
from core.extensions import db
from core.models import Membership, Organization, Role, User
from core.pages import form_action, form_fields
from core.people import services
from core.people.schemas import ProfileSchema, RelativeCreateSchema, ResidentCreateSchema
from core.people.views import bp, card_dict

TITLES = {"birth_date": "出生日期", "hardship": "困难对象", "hardship_reason": "困难类别"}


def residents_here(org: Organization) -> list[User]:
    """Residents of this organization itself (one level of the tree)."""
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org.id, Membership.role == Role.resident.value)
            .order_by(User.name, User.id)
        )
    )


def _profile_form(*names: str) -> dict:
    data = form_fields(*names)
    if "phone" in data and not data["phone"]:
        data["phone"] = None
    if "hardship_reason" in data and not data["hardship_reason"]:
        data["hardship_reason"] = None
    data["hardship"] = request.form.get("hardship") == "on" or bool(data.get("hardship_reason"))
    return data


@bp.route("/orgs/<int:org_id>/residents", methods=["GET", "POST"])
@login_required
def desk(org_id):
    """The desk: register a resident (no phone needed), see who lives here."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    if request.method == "POST":
        made = {}

        def register():
            data = ResidentCreateSchema().load(
                _profile_form("name", "birth_date", "phone", "hardship_reason")
            )
            made["person"], _created = services.register_resident(current_user, org, **data)

        back = form_action(
            register, _("Resident registered"), url_for("people.desk", org_id=org.id), titles=TITLES
        )
        if "person" in made:
            return redirect(url_for("people.person_page", user_id=made["person"].id))
        return back
    people = residents_here(org)
    cards = {c.user_id for c in services.active_cards([p.id for p in people])}
    return render_template(
        "people/desk.html",
        org=org,
        people=people,
        cards=cards,
        age_of=services.age_of,
        mask=services.mask_phone,
        reasons=services.HARDSHIP_REASONS,
        today=date.today().isoformat(),
    )


@bp.get("/people/<int:user_id>")
@login_required
def person_page(user_id):
    person = services.visible_person(current_user, user_id)
    is_staff = services.is_staff_over(current_user, person)
    return render_template(
        "people/person.html",
        person=person,
        is_staff=is_staff,
        age=services.age_of(person),
        phone=person.phone if person.id == current_user.id else services.mask_phone(person.phone),
        relatives=services.relatives_of(person),
        card=services.active_card(person),
        orgs=services.organizations_of(person),
        reasons=services.HARDSHIP_REASONS,
    )


@bp.post("/people/<int:user_id>/profile")
@login_required
def save_profile(user_id):
    person = services.staff_person(current_user, user_id)

    def save():
        data = ProfileSchema().load(_profile_form("name", "birth_date", "hardship_reason"))
        services.update_profile(current_user, person, **data)

    return form_action(
        save, _("Profile saved"), url_for("people.person_page", user_id=user_id), titles=TITLES
    )


@bp.post("/people/<int:user_id>/relatives")
@login_required
def add_relative(user_id):
    person = services.staff_person(current_user, user_id)

    def link():
        data = RelativeCreateSchema().load(form_fields("phone"))
        services.add_relative(current_user, person, data["phone"])

    return form_action(link, _("Relative linked"), url_for("people.person_page", user_id=user_id))


@bp.post("/people/<int:user_id>/relatives/<int:relative_id>/remove")
@login_required
def remove_relative(user_id, relative_id):
    person = services.staff_person(current_user, user_id)
    return form_action(
        lambda: services.remove_relative(current_user, person, relative_id),
        _("Relative removed"),
        url_for("people.person_page", user_id=user_id),
    )


@bp.post("/people/<int:user_id>/card")
@login_required
def issue_card(user_id):
    """Issue (or reissue) the card, then show it for printing."""
    person = services.staff_person(current_user, user_id)
    form_action(
        lambda: services.issue_card(current_user, person),
        _("Card issued"),
        url_for("people.person_page", user_id=user_id),
    )
    return redirect(url_for("people.print_card", user_id=user_id))


def _printable(person: User, card) -> dict:
    body = card_dict(card)
    return {
        "person": person,
        "short_code": body["short_code"],
        "svg": qr.svg(body["url"]),
        "age": services.age_of(person),
    }


@bp.get("/people/<int:user_id>/card")
@login_required
def print_card(user_id):
    """One A6 card: name, the QR code and the short code in large digits."""
    person = services.staff_person(current_user, user_id)
    card = services.active_card(person)
    cards = [_printable(person, card)] if card else []
    return render_template(
        "people/cards.html",
        cards=cards,
        title=person.name,
        back=url_for("people.person_page", user_id=user_id),
    )


@bp.route("/orgs/<int:org_id>/cards", methods=["GET", "POST"])
@login_required
def print_cards(org_id):
    """Every card of this organization's residents, four A6 cards to an A4 sheet.
    POST issues cards to the residents here who have none."""
    org = get_org(org_id)
    require_role(current_user, org, Role.staff)
    people = residents_here(org)
    if request.method == "POST":

        def issue_missing():
            have = {c.user_id for c in services.active_cards([p.id for p in people])}
            for person in people:
                if person.id not in have:
                    services.issue_card(current_user, person)

        return form_action(
            issue_missing, _("Cards issued"), url_for("people.print_cards", org_id=org.id)
        )
    cards = {c.user_id: c for c in services.active_cards([p.id for p in people])}
    printable = [_printable(p, cards[p.id]) for p in people if p.id in cards]
    return render_template(
        "people/cards.html",
        cards=printable,
        title=org.name,
        org=org,
        back=url_for("people.desk", org_id=org.id),
        missing=len(people) - len(printable),
    )


@bp.get("/me/family")
@login_required
def family():
    """我的家人: the people I act for, each with their code to show at a counter."""
    rows = []
    for person in services.dependants_of(current_user):
        code = qr.person_code(person.id)
        rows.append(
            {
                "person": person,
                "age": services.age_of(person),
                "code": code,
                "svg": qr.svg(qr.scan_url(code.token)),
            }
        )
    return render_template("people/family.html", rows=rows)
