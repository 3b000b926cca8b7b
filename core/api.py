"""The JSON side of HTTP: the error contract, body validation, pagination,
bearer tokens and the OpenAPI registry.

Errors always answer ``{"error": {"code", "message", "fields"?}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app, g, jsonify, request, session
from marshmallow import Schema, ValidationError, validate
from marshmallow import fields as _fields
from sqlalchemy import bindparam, select, tuple_
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from core.extensions import csrf, db
from core.models import ApiToken, User, unloaded, utcnow

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_ID = 2**31 - 1  # ids are INTEGER columns on PostgreSQL
MAX_BIGINT = 2**63 - 1
MIN_YEAR, MAX_YEAR = 2000, 2100  # a sane window for every time the API accepts


class ApiError(Exception):
    """Raise anywhere (services included) to answer a clean error."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class Conflict(ApiError):
    def __init__(self, message: str, code: str = "conflict", fields: dict | None = None):
        super().__init__(409, code, message, fields)


class NotFound(ApiError):
    def __init__(self, message: str = "未找到", code: str = "not_found"):
        super().__init__(404, code, message)


class Forbidden(ApiError):
    def __init__(self, message: str = "没有权限", code: str = "forbidden"):
        super().__init__(403, code, message)


class BadRequest(ApiError):
    def __init__(self, message: str, fields: dict | None = None, code: str = "invalid"):
        super().__init__(400, code, message, fields)


HTTP_CODES = {
    400: ("bad_request", "请求无效"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "冲突"),
    413: ("too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 JSON"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(error: ApiError):
    return jsonify(error.to_dict()), error.status


def ledger_error_as_api(err) -> ApiError:
    """A ledger domain error (core.ledger.LedgerError) as the HTTP error it answers:
    404 for the not-found kinds, 409 for every other rule. An ApiError stays as it is."""
    from core.ledger import LedgerNotFound

    if isinstance(err, ApiError):
        return err
    return ApiError(404 if isinstance(err, LedgerNotFound) else 409, err.code, err.message)


def http_error_as_api(exc: HTTPException) -> ApiError:
    code, message = HTTP_CODES.get(exc.code or 500, ("error", exc.name))
    if exc.code == 400 and exc.description and "CSRF" in exc.description:
        code, message = "csrf", "页面已过期，请刷新后重试"
    return ApiError(exc.code or 500, code, message)


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` that matches ids only (1 to MAX_ID)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# -- request bodies -----------------------------------------------------------


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是 JSON 对象", code="invalid_json")
    return data


def load(schema: Schema, data: dict | None = None) -> dict:
    """Validate with marshmallow; 400 naming every bad field."""
    try:
        return schema.load(json_body() if data is None else data)
    except ValidationError as err:
        raise BadRequest("输入有误", fields=err.normalized_messages()) from err


# -- OpenAPI registry ---------------------------------------------------------

API_DOCS: dict[Callable, dict] = {}


def doc(
    *,
    body: type[Schema] | Schema | None = None,
    response: type[Schema] | Schema | None = None,
    status: int = 200,
    many: bool = False,
    query: type[Schema] | None = None,
    summary: str | None = None,
    public: bool = False,
    also: tuple[int, ...] = (),
):
    """Record a view's schemas for the OpenAPI document (see core.openapi).

    ``public``: no bearer token needed (log-in, register). ``also``: other
    success statuses answering the same schema (a repeated sign-up's 200).
    """

    def decorate(view):
        API_DOCS[view] = {
            "body": body,
            "response": response,
            "status": status,
            "many": many,
            "query": query,
            "summary": summary or (view.__doc__ or "").strip(),
            "public": public,
            "also": also,
        }
        return view

    return decorate


# -- pagination ----------------------------------------------------------------


def encode_cursor(values: list) -> str:
    """An opaque cursor for keyset pagination (the sort values of the last row)."""
    raw = json.dumps(values, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: list[type]) -> list:
    """The values of a cursor made by :func:`encode_cursor`, each checked
    against its type (``int``, ``datetime``, ``str``): a forged cursor is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError(values)
        return [decode_cursor_value(v, t) for v, t in zip(values, types, strict=True)]
    except (ValueError, TypeError, NotImplementedError) as err:
        raise BadRequest("cursor 无效", fields={"cursor": ["无效"]}) from err


def decode_cursor_value(value, python_type):
    """A cursor value checked against its column's type: a bounded int or an
    aware datetime, so a forged cursor is a 400, never an overflow."""
    if python_type is int:
        if type(value) is not int or not 0 <= value <= MAX_BIGINT:
            raise ValueError(value)
        return value
    if python_type is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise ValueError(value)
        return moment
    if type(value) is not python_type:
        raise ValueError(value)
    return value


def limit_arg(default: int = 50, maximum: int = 200) -> int:
    """``?limit=`` clamped to 1..maximum; 400 when not a number."""
    try:
        return min(max(int(request.args.get("limit", default)), 1), maximum)
    except ValueError as err:
        raise BadRequest("limit 必须是整数", fields={"limit": ["必须是整数"]}) from err


def cursor_arg(types: list[type]) -> list | None:
    """``?cursor=`` decoded against ``types``, or None on the first page."""
    cursor = request.args.get("cursor")
    return decode_cursor(cursor, types) if cursor else None


def page_of(items: list, limit: int, last_values: Callable[[object], list]) -> dict:
    """``{"items", "next"}`` from ``limit + 1`` fetched items (the extra one says
    there is more); ``last_values(item)`` gives the cursor of the last item kept."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": encode_cursor(last_values(items[-1])) if more else None}


def paginate(
    stmt,
    order: list,
    dump: Callable[[object], dict],
    *,
    default_limit: int = 50,
    descending: bool = False,
    dump_page: Callable[[list], list[dict]] | None = None,
):
    """Keyset pagination of a select: ``{"items": [...], "next": cursor|None}``.

    ``order`` lists the sort columns, the last one unique (an id), all
    ascending or (``descending``) all descending; cursor values are checked
    against the columns' types. ``dump_page``, when given, dumps the page's
    rows at once (so what each item needs from other tables is read in one
    query for the page, not one per item) and ``dump`` is not used.
    """
    limit = limit_arg(default_limit)
    values = cursor_arg([col.type.python_type for col in order])
    if values is not None:
        after = tuple_(*order) < tuple_(*values) if descending else tuple_(*order) > tuple_(*values)
        stmt = stmt.where(after)
    sort = [col.desc() for col in order] if descending else order
    rows = list(db.session.scalars(stmt.order_by(*sort).limit(limit + 1)))
    result = page_of(rows, limit, lambda last: [_attr(last, col) for col in order])
    items = dump_page(result["items"]) if dump_page else [dump(r) for r in result["items"]]
    return jsonify({"items": items, "next": result["next"]})


def _attr(obj, column):
    value = getattr(obj, column.key)
    return value.isoformat() if hasattr(value, "isoformat") else value


# -- bearer tokens ---------------------------------------------------------------


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User) -> str:
    """A new bearer token for ``user``; only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(days=current_app.config["JINDOU_TOKEN_TTL_DAYS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(raw), expires_at=utcnow() + ttl))
    return raw


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# Built once (a statement object keeps its cache key): the door's hot path.
_IDENTITY = (
    select(ApiToken.user_id, ApiToken.id, User.active)
    .join(User, User.id == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now"),
    )
)


def identity_only(view: Callable) -> Callable:
    """Mark a view whose bearer-token user is needed for little more than its
    id (a scan at the door): the token is resolved by a Core statement and
    ``current_user`` is a :func:`core.models.unloaded` User — id and ``active``
    set, any other attribute loads on first use. Other views load the User."""
    view.jindou_identity_only = True  # type: ignore[attr-defined]
    return view


def _identity_only() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "jindou_identity_only", False)


def user_from_bearer() -> User | None:
    """Flask-Login's request loader: one query for token and user together."""
    raw = bearer_token()
    if raw is None:
        return None
    if _identity_only():
        found = db.session.execute(
            _IDENTITY, {"token_hash": hash_token(raw), "now": utcnow()}
        ).first()
        if found is None:
            return None
        g.api_token_id = found.id
        return unloaded(User, found.user_id, active=found.active)
    row = db.session.execute(
        select(User, ApiToken.id)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hash_token(raw),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > utcnow(),
        )
    ).first()
    if row is None:
        return None
    g.api_token_id = row[1]
    return row[0]


def bearer_only() -> None:
    """``before_request``: a request carrying a bearer token is that token's
    user or nobody — never the user of a cookie sent alongside it."""
    if bearer_token() is not None:
        from flask_login import AnonymousUserMixin

        g._login_user = user_from_bearer() or AnonymousUserMixin()  # Flask-Login's slot


def csrf_guard() -> None:
    """``before_request``: forms and cookie-authenticated API calls need a CSRF token.

    A bearer-token call carries no ambient authority (``bearer_only`` makes
    sure no cookie rides along), and an API call with neither a session nor
    a remember-me cookie is anonymous, so they are exempt.
    """
    if request.method in SAFE_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if wants_json():
        if bearer_token() is not None:
            return
        remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
        if "_user_id" not in session and remember not in request.cookies:
            return
    csrf.protect()


# -- schema fields shared by every plugin -------------------------------------------


class StrictInt(_fields.Integer):
    """An integer that is really an integer: no "5", no 5.0, no true."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        value = super()._validated(value)
        if value is not None and abs(value) > MAX_BIGINT:
            raise self.make_error("invalid", input=value)
        return value


def id_field(**kwargs) -> StrictInt:
    """The id of a row: a positive INTEGER."""
    return StrictInt(validate=validate.Range(min=1, max=MAX_ID, error="无效的编号"), **kwargs)


class Moment(_fields.AwareDateTime):
    """An ISO 8601 time with an offset, between the years 2000 and 2100."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        # Stored in UTC: 2100-12-31T20:00-14:00 is already 2101 there.
        try:
            year = moment.astimezone(UTC).year
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            year = moment.year
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValidationError(f"时间须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间")
        return moment


def text_field(column_or_length, *, min_length: int | None = None, **kwargs) -> _fields.String:
    """A string no longer than its column (``Model.column`` or a number), so an
    over-long value is a 400 naming the field, never a database error.

    ``min_length`` (e.g. 1 for a required name) and any ``validate`` are kept.
    """
    length = column_or_length
    if not isinstance(length, int):
        column_type = getattr(column_or_length, "type", None)
        length = getattr(column_type, "length", None)
        if not isinstance(length, int):
            raise TypeError(f"{column_or_length!r} has no length; give one")
    checks = [
        validate.Length(
            min=min_length,
            max=length,
            error=f"长度应为 {min_length or 0} 到 {length} 个字符"
            if min_length
            else f"最多 {length} 个字符",
        )
    ]
    extra = kwargs.pop("validate", None)
    if extra is not None:
        checks.extend(extra if isinstance(extra, list | tuple) else [extra])
    return _fields.String(validate=checks, **kwargs)


def arg_id(name: str) -> int | None:
    """An id from the query string, or None when absent or not a sane id."""
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


def month_arg(name: str = "month"):
    """``?month=YYYY-MM`` (default: this month) as the first day of that month; 400 if bad."""
    from datetime import date

    raw = request.args.get(name) or date.today().strftime("%Y-%m")
    try:
        year, month = (int(part) for part in raw.split("-"))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(raw)
        return date(year, month, 1)
    except ValueError as err:
        raise BadRequest("月份应为 YYYY-MM", fields={name: ["应为 YYYY-MM"]}) from err


def amount_field(*, maximum: int = 10_000_000, **kwargs) -> StrictInt:
    """A positive whole amount within a sane bound (金豆, fen, quantities)."""
    return StrictInt(
        validate=validate.Range(min=1, max=maximum, error="必须是 1 到 {max} 之间的整数"), **kwargs
    )


class StrictBool(_fields.Boolean):
    """JSON true or false only: 1, "yes" and null are not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
