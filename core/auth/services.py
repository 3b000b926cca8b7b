"""Accounts: registration, password check and change, desk resets, token revocation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.access import has_role
from core.api import ApiError, BadRequest, Conflict, Forbidden, NotFound
from core.audit import audit
from core.extensions import db
from core.models import (
    CORE_ROLES,
    ApiToken,
    Membership,
    Organization,
    PasswordReset,
    Role,
    User,
    utcnow,
)
from core.passwords import password_problem, spend_hash_time

RESET_TTL = timedelta(minutes=30)
RESET_MAX_FAILURES = 5  # then the code is spent: 6 digits allow no long guessing


def require_good_password(password: str, phone: str | None) -> None:
    problem = password_problem(password, phone)
    if problem:
        raise BadRequest(problem, fields={"password": [problem]}, code="weak_password")


def register_user(phone: str, name: str, password: str, *, platform_admin: bool = False) -> User:
    """Create an account; 409 if the phone is taken (also under a race)."""
    require_good_password(password, phone)
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
    """The user, or None; as slow for an unknown phone as for a known one."""
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        spend_hash_time(password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def end_everything(user: User, *, keep_token_id: int | None = None) -> None:
    """End every session, remember-me cookie and bearer token of ``user``
    (except the token ``keep_token_id``: the one making this change)."""
    user.end_sessions()
    stmt = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep_token_id is not None:
        stmt = stmt.where(ApiToken.id != keep_token_id)
    db.session.execute(stmt.values(revoked_at=utcnow()))


def change_password(
    user: User, old_password: str, new_password: str, *, keep_token_id: int | None = None
) -> None:
    """401 when ``old_password`` is wrong; ends the person's other sessions and tokens."""
    if not user.check_password(old_password):
        raise ApiError(401, "bad_credentials", "原密码错误")
    require_good_password(new_password, user.phone)
    user.set_password(new_password)
    end_everything(user, keep_token_id=keep_token_id)
    audit("password.change", actor=user, obj=user)


def _code_hash(user_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"reset:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def check_can_reset(actor: User, person: User) -> None:
    """Staff over one of the person's organizations may reset, unless the person
    holds a role there or elsewhere that the actor does not cover (or is a
    platform administrator): a desk cannot take over an account above it."""
    if actor.is_platform_admin:
        return
    rows = db.session.execute(
        select(Membership.role, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == person.id)
    ).all()
    if not any(has_role(actor, org, Role.staff) for _role, org in rows):
        raise NotFound("未找到该用户")
    if actor.id == person.id:
        raise Forbidden("请在“修改密码”中修改自己的密码", code="self_reset")
    # Plugin roles (``meals.cashier``) carry no rank: only core roles can outrank.
    outranked = person.is_platform_admin or any(
        role in CORE_ROLES and Role(role) != Role.resident and not has_role(actor, org, Role(role))
        for role, org in rows
    )
    if outranked:
        raise Forbidden("该用户的权限不在您的管辖范围内，无法重置其密码")


def issue_reset_code(actor: User, person: User) -> tuple[str, datetime]:
    """A one-time 6-digit code for ``person`` (earlier unused codes stop working)."""
    check_can_reset(actor, person)
    now = utcnow()
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == person.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    reset = PasswordReset(
        user_id=person.id,
        created_by_id=actor.id,
        code_hash=_code_hash(person.id, code),
        expires_at=now + RESET_TTL,
    )
    db.session.add(reset)
    audit("password.reset_issued", actor=actor, obj=person)
    return code, reset.expires_at


def redeem_reset_code(phone: str, code: str, new_password: str) -> User:
    """Set a new password with a desk code; 400 ``reset_code_invalid`` when the
    code is wrong, used, expired or the phone unknown (all alike)."""
    invalid = BadRequest(
        "重置码无效或已过期", fields={"code": ["重置码无效或已过期"]}, code="reset_code_invalid"
    )
    user = db.session.scalar(select(User).where(User.phone == phone))
    reset = (
        None
        if user is None
        else db.session.scalar(
            select(PasswordReset)
            .where(
                PasswordReset.user_id == user.id,
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > utcnow(),
            )
            .order_by(PasswordReset.id.desc())
            .limit(1)
            .with_for_update()
        )
    )
    if user is None or reset is None:
        raise invalid
    if not hmac.compare_digest(reset.code_hash, _code_hash(user.id, code)):
        reset.failed_attempts += 1
        if reset.failed_attempts >= RESET_MAX_FAILURES:
            reset.used_at = utcnow()
        db.session.commit()  # the failure counts even though the request fails
        raise invalid
    require_good_password(new_password, user.phone)
    reset.used_at = utcnow()
    user.set_password(new_password)
    end_everything(user)
    audit("password.reset", actor=user, obj=user)
    return user


def revoke_token(token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()


def memberships_of(user: User) -> Sequence:
    return db.session.execute(
        select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.path)
    ).all()
