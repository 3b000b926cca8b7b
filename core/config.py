"""Settings from ``JINDOU_*`` environment variables, with embedded-mode defaults.

Defaults aim at the one-command demo: SQLite in the instance folder, a secret
key generated once and kept beside it, every installed plugin loaded.
"""

from __future__ import annotations

import os
import secrets
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


def parse_plugin_list(value: str | None) -> list[str] | None:
    """``JINDOU_PLUGINS``: unset or empty → None (all installed); ``none`` → no plugin."""
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "none":
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def load_settings(instance_path: str, env: dict[str, str] | None = None) -> dict:
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
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    }
