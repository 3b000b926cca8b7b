"""What every request and response goes through: the input guard, security
headers, health checks and the proxy and cookie settings.

The guard refuses, with a 400 naming the field, what would otherwise reach a
view and fail deep inside it: JSON nested too deeply (Python's parser runs
out of stack), NUL characters (PostgreSQL text cannot hold them) and lone
surrogates (not encodable as UTF-8).
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from core.api import BadRequest

MAX_JSON_DEPTH = 32
BAD_TEXT = "不能包含空字符（NUL）或无效的 Unicode 字符"

# Only this origin, and nothing inline: no <script> or on*= handlers, no <style>
# blocks or style= attributes (templates use classes from static stylesheets; a
# value such as a bar's width goes in an SVG attribute; scripts show and hide
# elements through el.hidden or el.style, which the CSP allows).
# tests/core/test_security.py scans every template for inline styles.
# data: images: the empty favicon.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin: links out (a map, a government site) learn nothing, not even the
    # host; our own pages still see the full referrer.
    "Referrer-Policy": "same-origin",
}


def bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_pairs(pairs, prefix: str = "") -> None:
    for key, value in pairs:
        name = f"{prefix}{key}"
        if bad_text(key) or bad_text(value):
            raise BadRequest("输入有误", fields={_printable(name): [BAD_TEXT]})


def _printable(name: str) -> str:
    return name.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")


def _check_json(value) -> None:
    """Depth and text of a parsed body, walked without recursion."""
    stack = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层", code="invalid_json")
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else key
                if bad_text(key):
                    raise BadRequest("输入有误", fields={_printable(name): [BAD_TEXT]})
                stack.append((child, name, depth + 1))
        elif isinstance(item, list):
            for i, child in enumerate(item):
                stack.append((child, f"{path}.{i}" if path else str(i), depth + 1))
        elif isinstance(item, str) and bad_text(item):
            raise BadRequest("输入有误", fields={_printable(path or "body"): [BAD_TEXT]})


def guard_request() -> None:
    """``before_request``: query string, form fields and JSON bodies (see module doc)."""
    _check_pairs(request.args.items(multi=True))
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.is_json:
        raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
        try:
            data = json.loads(raw)
        except RecursionError as err:
            raise BadRequest(f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层", code="invalid_json") from err
        except ValueError:
            return  # the view's json_body() answers invalid_json
        _check_json(data)
        request._cached_json = (data, data)  # Werkzeug's cache: parsed once, checked
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs(request.form.items(multi=True))
        _check_pairs(((k, f.filename or "") for k, f in request.files.items(multi=True)))


def add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# -- health ------------------------------------------------------------------------

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    """The process answers (no database call): for a liveness probe."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz():
    """The database answers: for a load balancer's readiness probe."""
    from core.extensions import db

    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach it means "not ready", never a 500
        current_app.logger.warning("readiness check: database unavailable", exc_info=True)
        db.session.rollback()
        return jsonify({"status": "unavailable"}), 503
    return jsonify({"status": "ok"})


def install(app: Flask) -> None:
    """Called by ``create_app`` once the settings are final."""
    proxies = int(app.config.get("JINDOU_TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # The client's address and scheme as the trusted proxies report them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    secure = bool(app.config.get("JINDOU_SECURE_COOKIES"))
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["REMEMBER_COOKIE_SECURE"] = secure
    app.after_request(add_security_headers)
    app.register_blueprint(health)
