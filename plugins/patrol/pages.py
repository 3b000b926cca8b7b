"""治安巡逻 pages (Chinese, mobile first), on the blueprint of views.py."""

from __future__ import annotations

from plugins.patrol.views import bp  # noqa: F401
