"""Core tables: users, the five-level organization tree, memberships,
per-organization plugin switches, API tokens and the audit log."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, make_transient_to_detached, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import db

M = TypeVar("M")


def utcnow() -> datetime:
    return datetime.now(UTC)


def unloaded(model: type[M], ident: int, **known) -> M:
    """Row ``ident`` of ``model`` as a session object without loading it: the
    ``known`` columns are set, any other loads on first use (one SELECT by key).

    For hot paths that read what they need with one Core statement yet call
    code (hooks, services) that takes model objects. An object already in the
    session is returned as it is.
    """
    session = db.session()
    found = session.identity_map.get(session.identity_key(model, ident))
    if found is not None:
        return found
    obj = cast(Any, model)(id=ident, **known)  # a mapped class: keyword constructor
    make_transient_to_detached(obj)  # what was set counts as loaded, the rest as expired
    session.add(obj)
    return obj


class Level(enum.StrEnum):
    """The five levels of 五级治理, top to bottom."""

    district = "district"
    subdistrict = "subdistrict"
    community = "community"
    group = "group"
    building = "building"

    @property
    def depth(self) -> int:
        return LEVELS.index(self)

    @property
    def child(self) -> Level | None:
        return LEVELS[self.depth + 1] if self.depth + 1 < len(LEVELS) else None


LEVELS = list(Level)
LEVEL_TITLES = {
    "district": "区",
    "subdistrict": "街道",
    "community": "社区",
    "group": "居民小组",
    "building": "楼栋",
}


class Role(enum.StrEnum):
    resident = "resident"
    staff = "staff"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANKS[self]


ROLE_RANKS = {Role.resident: 1, Role.staff: 2, Role.admin: 3}
ROLE_TITLES = {"resident": "居民", "staff": "工作人员", "admin": "管理员"}
CORE_ROLES = tuple(r.value for r in Role)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on both databases (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self):
        return datetime

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: give times with a timezone")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Timestamp = UTCDateTime()


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # An elder registered at a desk may have neither (see core.people): no phone,
    # no password, so no log-in; a card or a relative stands in.
    phone: Mapped[str | None] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # Part of every session and remember-me cookie (see get_id); raising it ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The resident profile (居民档案): on the person, so reports can tier ages in SQL.
    birth_date: Mapped[date | None] = mapped_column(Date)
    hardship: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    hardship_reason: Mapped[str | None] = mapped_column(String(20))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: what the session and remember-me cookie hold
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self) -> None:
        """Every session and remember-me cookie issued so far stops working."""
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        if not self.password_hash:  # a person with no password cannot log in
            from core.passwords import spend_hash_time

            spend_hash_time(password)  # as slow as a real check: no timing tells
            return False
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        phone = f"{self.phone[:3]}****{self.phone[-4:]}" if self.phone else "-"
        return f"<User {self.id} {phone}>"


class Organization(db.Model):
    """A node of the five-level tree.

    ``path`` is a materialized path of ids (``/1/4/9/``). Organizations never
    move, so the path is written once; it answers "every ancestor" with no
    query and "every descendant" with one indexed prefix match, whatever the
    depth or size of the tree.
    """

    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(
            "level IN ('district','subdistrict','community','group','building')",
            name="level_known",
        ),
        # Pattern ops so PostgreSQL answers the subtree's ``path LIKE '/1/4/%'``
        # from the index (the default collation cannot); equality still uses it.
        Index("ix_organization_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    parent: Mapped[Organization | None] = relationship(remote_side=[id])

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to this organization itself."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    @property
    def level_title(self) -> str:
        return LEVEL_TITLES[self.level]

    def is_within(self, other: Organization) -> bool:
        """Is this organization ``other`` or somewhere below it?"""
        return self.path.startswith(other.path)

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.level} {self.name}>"


class Membership(db.Model):
    """A role held at an organization (and so over its subtree).

    A core role (resident/staff/admin) or a plugin role ``<plugin>.<name>``. A
    person may hold several rows at one organization (a resident who is also a
    patrol leader), at most one of them a core role (see add_member).
    """

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "org_id", "role"),
        CheckConstraint(
            "role IN ('resident','staff','admin') OR role LIKE '_%._%'", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship()


class OrgPlugin(db.Model):
    """An explicit plugin switch; the nearest ancestor-or-self row wins."""

    __tablename__ = "org_plugin"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class OrgSetting(db.Model):
    """A plugin's setting as set at one organization; the nearest
    ancestor-or-self row wins, else the plugin's declared default."""

    __tablename__ = "org_setting"

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user: Mapped[User] = relationship()


class PasswordReset(db.Model):
    """A one-time code staff hand over at the desk; only its keyed hash is kept."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


class JoinRequest(db.Model):
    """A person asking to become a resident of an organization (usually their
    building); staff over it approve or reject. At most one pending per person
    and organization."""

    __tablename__ = "join_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','rejected')", name="status_known"),
        Index(
            "uq_join_request_pending",
            "user_id",
            "org_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class AuditLog(db.Model):
    """Who did what, on which object, when, from which request. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))


class PersonCard(db.Model):
    """A printed card (服务卡) standing in for a phone: a static signed token
    naming this row, and a random 8-digit short code. Reissuing revokes the old."""

    __tablename__ = "person_card"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    short_code: Mapped[str] = mapped_column(String(8), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PersonRelative(db.Model):
    """家属: ``relative_id`` may act for ``person_id`` (book meals, confirm visits)."""

    __tablename__ = "person_relative"
    __table_args__ = (UniqueConstraint("person_id", "relative_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
