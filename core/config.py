"""Settings from ``JINDOU_*`` environment variables, with embedded-mode defaults.

Defaults aim at the one-command demo: SQLite in the instance folder, a secret
key generated once and kept beside it, every installed plugin loaded.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def normalize_database_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def parse_plugin_list(value: str | None) -> list[str] | None:
    """``JINDOU_PLUGINS``: unset or empty → None (all installed); ``none`` → no plugin."""
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "none":
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def load_settings(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    env = os.environ if env is None else env
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    database_url = env.get("JINDOU_DATABASE_URL") or f"sqlite:///{instance / 'jindou.db'}"
    return {
        "SECRET_KEY": env.get("JINDOU_SECRET_KEY") or _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JINDOU_PLUGINS": parse_plugin_list(env.get("JINDOU_PLUGINS")),
        "RATELIMIT_STORAGE_URI": env.get("JINDOU_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "JINDOU_LOGIN_RATE_LIMIT": env.get("JINDOU_LOGIN_RATE_LIMIT", "10 per minute"),
        # Per phone number, over every address, on log-in, tokens, register and reset.
        "JINDOU_ACCOUNT_RATE_LIMIT": env.get(
            "JINDOU_ACCOUNT_RATE_LIMIT", "10 per minute; 50 per hour"
        ),
        "JINDOU_TRUSTED_PROXIES": int(env.get("JINDOU_TRUSTED_PROXIES", "0")),
        "JINDOU_SECURE_COOKIES": _flag(env.get("JINDOU_SECURE_COOKIES", "1")),
        "REMEMBER_COOKIE_DURATION": timedelta(days=int(env.get("JINDOU_REMEMBER_DAYS", "30"))),
        "JINDOU_TOKEN_TTL_DAYS": int(env.get("JINDOU_TOKEN_TTL_DAYS", "30")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": env.get("JINDOU_TIMEZONE", "Asia/Shanghai"),
        "JINDOU_TIMEZONE": env.get("JINDOU_TIMEZONE", "Asia/Shanghai"),
        # Forms are CSRF-checked in one place (core.api.csrf_guard), not per view.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Room for a 2 MB photo in base64 inside JSON; more is a 413.
        "MAX_CONTENT_LENGTH": int(env.get("JINDOU_MAX_BODY_BYTES", str(4 * 1024 * 1024))),
    }
