"""HTML-page helpers every plugin's ``pages.py`` uses: reading forms, running
a form's action, and where to go back to.

The rule for errors on pages (one rule for every plugin): a plain 404 (code
``not_found`` or ``plugin_off``) and a 403 that means "not yours to do here"
(code ``forbidden``) show core's error page; every other refusal (bad input, a
business rule, a conflict, a 404 about what was typed such as
``member_not_found``) is flashed in Chinese and the person goes back to the
form with what they typed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from flask import flash, redirect, request, session
from marshmallow import ValidationError

from core.api import ApiError, ledger_error_as_api
from core.extensions import db
from core.ledger import LedgerError

# Field names a person may see in an error, in Chinese (plugins add their own).
FIELD_TITLES = {
    "amount": "数量",
    "quantity": "数量",
    "phone": "手机号",
    "reason": "原因",
    "name": "名称",
    "title": "标题",
    "description": "说明",
    "note": "备注",
    "location": "地点",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "capacity": "人数上限",
    "idempotency_key": "表单",
    "month": "月份",
    "password": "密码",
    "role": "角色",
    "old_password": "原密码",
    "code": "重置码",
    "parent_id": "上级组织",
    "level": "层级",
}
_ASCII_INT = re.compile(r"-?\d{1,18}", re.ASCII)


def form_fields(*names: str) -> dict:
    """The named form fields, stripped (missing ones are empty strings)."""
    return {n: request.form.get(n, "").strip() for n in names}


def ascii_int(raw: str, digits: int = 18) -> int | None:
    """A form number: ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails)."""
    raw = (raw or "").strip()
    return int(raw) if _ASCII_INT.fullmatch(raw) and len(raw.lstrip("-")) <= digits else None


def form_ints(data: dict, *names: str) -> dict:
    """Form text to int where it is one; empty fields dropped (the schema names the rest)."""
    for name in names:
        value = data.get(name, "")
        if value == "":
            data.pop(name, None)
        elif (number := ascii_int(value)) is not None:
            data[name] = number
    return data


def explain(fields: dict, titles: dict | None = None) -> str:
    """Field errors as one Chinese line: ``数量：必须是 1 到 … 之间的整数``."""
    names = {**FIELD_TITLES, **(titles or {})}
    parts = []
    for name, messages in fields.items():
        text = " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
        if "integer" in text.lower():
            text = "请输入整数"
        parts.append(f"{names.get(name, name)}：{text}")
    return "；".join(parts)


def message_of(err: Exception, titles: dict | None = None) -> str:
    """What to tell a person about a refused action, in Chinese."""
    if isinstance(err, ValidationError):
        return explain(err.normalized_messages(), titles)
    if isinstance(err, LedgerError):
        return err.message
    if isinstance(err, ApiError) and err.fields:
        return explain(err.fields, titles)
    return getattr(err, "message", "操作未能完成")


# "There is nothing here for you" (a page of its own), as opposed to a 404 about
# what was typed into the form (a phone that is no member: flashed, input kept).
PAGE_CODES = {(404, "not_found"), (404, "plugin_off"), (403, "forbidden")}


def shows_error_page(err: Exception) -> bool:
    """Plain 404s and 403s are pages of their own; other refusals are flashed."""
    if isinstance(err, LedgerError):
        err = ledger_error_as_api(err)
    return isinstance(err, ApiError) and (err.status, err.code) in PAGE_CODES


def form_action(
    action: Callable[[], object], success: str, back: str, *, titles: dict | None = None
):
    """Run a page's action and commit; flash its outcome and go ``back``.

    Refusals are flashed (see the module's rule) and the typed values are kept
    in the session for the form to show again (:func:`kept_form`).
    """
    try:
        action()
        db.session.commit()
        flash(success)
        session.pop("_kept_form", None)
    except (ApiError, LedgerError, ValidationError) as err:
        db.session.rollback()
        if shows_error_page(err):
            raise
        flash(message_of(err, titles), "error")
        keep_form()
    return redirect(back)


def confirmed() -> bool:
    """Did the person confirm a destructive action? The ``confirm_button`` macro
    (core/templates/macros.html) and core's ``confirm.html`` page post
    ``confirm=yes``; a view refuses, or asks, without it."""
    return request.form.get("confirm") == "yes"


def keep_form() -> None:
    """Keep what was typed into the posted form for the page it goes back to
    (never passwords or the CSRF token); :func:`form_action` does it itself."""
    session["_kept_form"] = {
        k: v[:2000]
        for k, v in request.form.items()
        if k not in ("csrf_token", "password", "old_password")
    }


def kept_form() -> dict:
    """What the person typed into the form that was just refused (once)."""
    return session.pop("_kept_form", None) or {}


def safe_back(url: str | None, default: str) -> str:
    """A local path to return to (never another site), else ``default``."""
    url = url or ""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else default


def template_helpers() -> dict:
    """Available in every template: ``form_key()`` gives each rendered form its
    own idempotency key, so a double tap posts once; ``kept_form()``."""
    return {"form_key": lambda: uuid.uuid4().hex, "kept_form": kept_form}
