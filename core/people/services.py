"""People without smartphones (core): resident profiles, identifying a person
at a counter or a door (person codes and printed cards), and relatives (家属).

Plugins (canteens, home-care visits, volunteering) identify people with
:func:`resolve_person_code` and ask :func:`may_act_for` who may act for whom,
so the rules live here once.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import qr
from core.access import has_role, require_role
from core.api import BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import (
    CORE_ROLES,
    Membership,
    Organization,
    PersonCard,
    PersonRelative,
    Role,
    User,
    utcnow,
)
from core.times import local_today

HARDSHIP_REASONS = ("低保", "特困", "分散供养")
EARLIEST_BIRTH = date(1900, 1, 1)


class PersonNotFound(NotFound):
    def __init__(self):
        super().__init__("没有找到此人：短码无效或已过期，请核对后重试", code="person_not_found")


class CardRevoked(BadRequest):
    def __init__(self):
        super().__init__("这张卡已作废（已补办新卡），请使用新卡", code="card_revoked")


# -- profile ------------------------------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Whole years on ``day``. Born on 29 February: a year older on 1 March in
    a common year (the birthday has not come on the 28th)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def age_of(person: User, today: date | None = None) -> int | None:
    """Age today in the people's time zone (Asia/Shanghai), or None when unknown."""
    if person.birth_date is None:
        return None
    return age_on(person.birth_date, today or local_today())


def mask_phone(phone: str | None) -> str | None:
    """``138****0001``: what everyone but the person sees; None for no phone."""
    if not phone:
        return None
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def check_birth_date(birth_date: date, today: date | None = None) -> None:
    """In the past and after 1900, else 400 naming ``birth_date``."""
    if not EARLIEST_BIRTH < birth_date < (today or local_today()):
        raise BadRequest(
            "出生日期应在 1900 年之后、今天之前",
            fields={"birth_date": ["应在 1900 年之后、今天之前"]},
        )


def _hardship(hardship: bool | None, reason: str | None) -> tuple[bool, str | None]:
    if reason is not None and reason not in HARDSHIP_REASONS:
        raise BadRequest(
            "困难类别无效", fields={"hardship_reason": ["应为 低保、特困 或 分散供养"]}
        )
    hardship = bool(reason) if hardship is None else hardship
    return hardship, reason if hardship else None


def register_resident(
    actor: User,
    org: Organization,
    *,
    name: str,
    birth_date: date,
    phone: str | None = None,
    hardship: bool | None = None,
    hardship_reason: str | None = None,
) -> tuple[User, bool]:
    """Register a person at the desk as a ``resident`` of ``org`` (staff of it or
    above): no phone and no password needed. A phone that is already known links
    that person instead (blank profile fields filled). Answers ``(person, created)``."""
    require_role(actor, org, Role.staff)
    check_birth_date(birth_date)
    hardship, hardship_reason = _hardship(hardship, hardship_reason)
    person = db.session.scalar(select(User).where(User.phone == phone)) if phone else None
    created = person is None
    if created:
        person = User(
            phone=phone,
            name=name.strip(),
            password_hash=None,
            birth_date=birth_date,
            hardship=hardship,
            hardship_reason=hardship_reason,
        )
        db.session.add(person)
        try:
            db.session.flush()
        except IntegrityError as err:  # the same phone registered at the same moment
            db.session.rollback()
            raise Conflict("该手机号刚刚被登记，请重试", code="phone_taken") from err
    else:
        assert person is not None
        if person.birth_date is None:
            person.birth_date = birth_date
        if hardship and not person.hardship:
            person.hardship, person.hardship_reason = True, hardship_reason
        elif hardship and person.hardship_reason is None:
            person.hardship_reason = hardship_reason
    assert person is not None
    held = set(
        db.session.scalars(
            select(Membership.role).where(
                Membership.user_id == person.id, Membership.org_id == org.id
            )
        )
    )
    if not held & set(CORE_ROLES):
        db.session.add(Membership(user_id=person.id, org_id=org.id, role=Role.resident.value))
        db.session.flush()
    audit(
        "person.register" if created else "person.link",
        actor=actor,
        org=org,
        obj=person,
        phone=mask_phone(phone),
    )
    return person, created


PROFILE_FIELDS = ("name", "birth_date", "hardship", "hardship_reason")


def update_profile(actor: User, person: User, **changes) -> User:
    """Staff over the person change the profile; audited with before and after."""
    require_staff_over(actor, person)
    if "birth_date" in changes:
        check_birth_date(changes["birth_date"])
    if "hardship" in changes or "hardship_reason" in changes:
        reason = changes.get(
            "hardship_reason", person.hardship_reason if changes.get("hardship", True) else None
        )
        changes["hardship"], changes["hardship_reason"] = _hardship(changes.get("hardship"), reason)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    before, after = {}, {}
    for field in PROFILE_FIELDS:
        if field in changes and changes[field] != getattr(person, field):
            before[field], after[field] = _plain(getattr(person, field)), _plain(changes[field])
            setattr(person, field, changes[field])
    if after:
        audit("person.profile", actor=actor, obj=person, before=before, after=after)
    return person


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


# -- who may see and act for whom ---------------------------------------------------------


def organizations_of(person: User) -> list[Organization]:
    return list(
        db.session.scalars(
            select(Organization)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == person.id)
            .distinct()
        )
    )


def is_staff_over(user: User | None, person: User) -> bool:
    """Staff (or admin) over one of the person's organizations."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_platform_admin:
        return True
    return any(has_role(user, org, Role.staff) for org in organizations_of(person))


def is_relative(user: User, person: User) -> bool:
    return (
        db.session.scalar(
            select(PersonRelative.id).where(
                PersonRelative.person_id == person.id, PersonRelative.relative_id == user.id
            )
        )
        is not None
    )


def may_act_for(user: User | None, person: User, *, staff_ok: bool = False) -> bool:
    """May ``user`` act for ``person``: themselves or a linked relative (家属);
    with ``staff_ok``, also staff over one of the person's organizations (where
    a plugin's contract lets the desk act for people, e.g. booking a meal)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.id == person.id or is_relative(user, person):
        return True
    return staff_ok and is_staff_over(user, person)


def visible_person(user: User, person_id: int) -> User:
    """The person, for themselves, a relative or staff over them; else 404."""
    person = db.session.get(User, person_id)
    if person is None or not may_act_for(user, person, staff_ok=True):
        raise NotFound("未找到该用户")
    return person


def require_staff_over(user: User, person: User) -> None:
    """403 for the person or a relative (they may see, not manage); 404 for others."""
    if is_staff_over(user, person):
        return
    if may_act_for(user, person):
        raise Forbidden("没有权限：需要工作人员权限")
    raise NotFound("未找到该用户")


def staff_person(user: User, person_id: int) -> User:
    person = db.session.get(User, person_id)
    if person is None:
        raise NotFound("未找到该用户")
    require_staff_over(user, person)
    return person


def relatives_of(person: User) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(PersonRelative, PersonRelative.relative_id == User.id)
            .where(PersonRelative.person_id == person.id)
            .order_by(PersonRelative.id)
        )
    )


def dependants_of(user: User) -> list[User]:
    """The people ``user`` may act for as a relative."""
    return list(
        db.session.scalars(
            select(User)
            .join(PersonRelative, PersonRelative.person_id == User.id)
            .where(PersonRelative.relative_id == user.id)
            .order_by(PersonRelative.id)
        )
    )


def add_relative(actor: User, person: User, phone: str) -> tuple[User, bool]:
    """Staff over ``person`` let the user with ``phone`` act for them.
    Answers ``(relative, created)``; linking again changes nothing."""
    require_staff_over(actor, person)
    relative = db.session.scalar(select(User).where(User.phone == phone))
    if relative is None:
        raise NotFound("该手机号尚未注册，请家属先注册", code="user_not_found")
    if relative.id == person.id:
        raise BadRequest(
            "不能把本人登记为自己的家属",
            fields={"phone": ["这是本人的手机号"]},
            code="self_relative",
        )
    if is_relative(relative, person):
        return relative, False
    db.session.add(
        PersonRelative(person_id=person.id, relative_id=relative.id, created_by_id=actor.id)
    )
    db.session.flush()
    audit("person.relative_add", actor=actor, obj=person, relative_id=relative.id)
    return relative, True


def remove_relative(actor: User, person: User, relative_id: int) -> None:
    require_staff_over(actor, person)
    link = db.session.scalar(
        select(PersonRelative).where(
            PersonRelative.person_id == person.id, PersonRelative.relative_id == relative_id
        )
    )
    if link is None:
        raise NotFound("不是此人的家属")
    audit("person.relative_remove", actor=actor, obj=person, relative_id=relative_id)
    db.session.delete(link)


# -- printed cards ------------------------------------------------------------------------


def active_card(person: User) -> PersonCard | None:
    return db.session.scalar(
        select(PersonCard)
        .where(PersonCard.user_id == person.id, PersonCard.revoked_at.is_(None))
        .order_by(PersonCard.id.desc())
        .limit(1)
    )


def _new_short_code() -> str:
    """Random 8 digits, none of them an active card's (so a card's code names one card)."""
    for _attempt in range(20):
        code = f"{secrets.randbelow(10**qr.SHORT_CODE_DIGITS):0{qr.SHORT_CODE_DIGITS}d}"
        taken = db.session.scalar(
            select(PersonCard.id).where(
                PersonCard.short_code == code, PersonCard.revoked_at.is_(None)
            )
        )
        if taken is None:
            return code
    raise RuntimeError("no free card short code")  # 10^8 codes: never in practice


def issue_card(actor: User, person: User) -> PersonCard:
    """A new printed card for ``person`` (staff over them); the previous one is revoked."""
    require_staff_over(actor, person)
    now = utcnow()
    for old in db.session.scalars(
        select(PersonCard).where(PersonCard.user_id == person.id, PersonCard.revoked_at.is_(None))
    ):
        old.revoked_at = now
    card = PersonCard(user_id=person.id, short_code=_new_short_code(), created_by_id=actor.id)
    db.session.add(card)
    db.session.flush()
    audit("person.card_issue", actor=actor, obj=person, card_id=card.id)
    return card


def card_token(card: PersonCard) -> str:
    """The card's static token: it names the card row, so revoking the row ends it."""
    return qr.sign("card", {"u": card.user_id, "c": card.id})


# -- resolving a person code at a counter or a door ----------------------------------------


def resolve_person_code(
    code: str, *, within_org: Organization | None = None, candidates=None, now: float | None = None
) -> User:
    """The person a ``person_code`` names: a rotating token (or the URL its QR
    holds), its 8-digit short code, a card's token or a card's short code.

    Short codes are 8 digits, not unique city-wide, so they match only the
    people "there": members of ``within_org``'s subtree and the ``candidates``
    (user ids, e.g. an activity's volunteers). With neither given, only card
    short codes match (they are unique among active cards).

    400 ``token_forged``/``token_expired``/``token_malformed`` (and
    ``token_wrong_purpose`` for another kind of code), 400 ``card_revoked``,
    404 ``person_not_found`` for a well-formed short code matching nobody there.
    """
    raw = (code or "").strip()
    if "/c/" in raw:  # a scanned URL rather than the bare token
        raw = raw.rsplit("/c/", 1)[-1]
    digits = raw.replace(" ", "").replace("-", "")
    if digits and digits.isascii() and digits.isdigit():
        if len(digits) != qr.SHORT_CODE_DIGITS:
            raise qr.TokenError("token_malformed")
        return _by_short_code(digits, _people_there(within_org, candidates), now)
    purpose, payload = qr.verify(raw, now=now)
    if purpose not in ("person", "card"):
        raise qr.TokenError("token_wrong_purpose")
    user_id = payload.get("u")
    if type(user_id) is not int:
        raise qr.TokenError("token_malformed")
    if purpose == "card":
        card_id = payload.get("c")
        card = db.session.get(PersonCard, card_id) if type(card_id) is int else None
        if card is None or card.user_id != user_id:
            raise qr.TokenError("token_malformed")
        if card.revoked_at is not None:
            raise CardRevoked()
    person = db.session.get(User, user_id)
    if person is None or not person.active:
        raise PersonNotFound()
    return person


def _people_there(within_org: Organization | None, candidates) -> set[int] | None:
    if within_org is None and candidates is None:
        return None
    ids = set(candidates or ())
    if within_org is not None:
        ids |= set(
            db.session.scalars(
                select(Membership.user_id)
                .join(Organization, Organization.id == Membership.org_id)
                .where(Organization.path.startswith(within_org.path, autoescape=True))
                .distinct()
            )
        )
    return ids


def _by_short_code(digits: str, there: set[int] | None, now: float | None) -> User:
    cards = db.session.scalars(select(PersonCard).where(PersonCard.short_code == digits)).all()
    cards = [c for c in cards if there is None or c.user_id in there]
    active = [c for c in cards if c.revoked_at is None]
    user_id = active[0].user_id if active else None
    if user_id is None and there:
        user_id = qr.match_short_code(digits, sorted(there), now)
    if user_id is None:
        if cards:
            raise CardRevoked()
        raise PersonNotFound()
    person = db.session.get(User, user_id)
    if person is None or not person.active:
        raise PersonNotFound()
    return person


# -- what the API and pages show ------------------------------------------------------------


def person_dict(person: User, *, relatives: bool = True) -> dict:
    body = {
        "id": person.id,
        "name": person.name,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "age": age_of(person),
        "hardship": bool(person.hardship),
        "hardship_reason": person.hardship_reason,
        "phone_masked": mask_phone(person.phone),
    }
    if relatives:
        body["relatives"] = [{"user_id": r.id, "name": r.name} for r in relatives_of(person)]
    return body


def active_cards(user_ids: list[int]) -> list[PersonCard]:
    """The active cards of these people: one query for a whole sheet."""
    if not user_ids:
        return []
    return list(
        db.session.scalars(
            select(PersonCard).where(
                PersonCard.user_id.in_(user_ids), PersonCard.revoked_at.is_(None)
            )
        )
    )
