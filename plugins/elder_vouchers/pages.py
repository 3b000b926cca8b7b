"""居家养老服务券 pages (placeholder until the pages land)."""

from __future__ import annotations

from plugins.elder_vouchers.views import bp  # noqa: F401
