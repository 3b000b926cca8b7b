"""Accounts: registration, password check, token revocation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.api import Conflict
from core.extensions import db
from core.models import ApiToken, Membership, Organization, User, utcnow


def register_user(phone: str, name: str, password: str, *, platform_admin: bool = False) -> User:
    """Create an account; 409 if the phone is taken (also under a race)."""
    if db.session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise Conflict("该手机号已注册", code="phone_taken")
    user = User(phone=phone, name=name.strip(), is_platform_admin=platform_admin)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as err:
        db.session.rollback()
        raise Conflict("该手机号已注册", code="phone_taken") from err
    return user


def authenticate(phone: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def revoke_token(token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()


def memberships_of(user: User) -> list[tuple[Membership, Organization]]:
    return db.session.execute(
        select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.path)
    ).all()
