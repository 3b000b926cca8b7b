"""Jindou core: the application factory and what plugins import.

Plugins use ``from core import hookimpl``; the core never imports a plugin.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from core.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_CN", "en")
log = logging.getLogger("jindou")


def create_app(config: dict | None = None, *, plugins=None) -> Flask:
    """Build the app. ``config`` overrides settings; ``plugins`` (a list of
    plugin modules or objects) replaces entry-point discovery, for tests."""
    from flask_babel import Babel

    from core import api, extensions, ledger, security  # noqa: F401 (the ledger's tables are core's)
    from core.config import load_settings, normalize_database_url
    from core.extensions import csrf, db, limiter, login_manager, migrate
    from core.plugins import _refuse_route_collisions, load_plugins

    app = Flask(__name__, instance_relative_config=True)
    # <int:...> in every URL stops at the largest id, so a huge number is a 404, not an overflow.
    app.url_map.converters["int"] = api.BoundedIntConverter
    app.config.update(load_settings(app.instance_path))
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config:
            app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
                config["SQLALCHEMY_DATABASE_URI"]
            )

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            extensions.configure_sqlite(db.engine)
    # The input guard runs first, before anything (rate-limit keys, loaders) reads the body.
    app.before_request(security.guard_request)
    security.install(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.user_loader(_load_user)
    login_manager.request_loader(lambda _request: api.user_from_bearer())
    login_manager.unauthorized_handler(_unauthorized)
    csrf.init_app(app)
    limiter.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
    )

    from core.auth.views import bp as auth_bp
    from core.orgs.join_views import bp as join_bp
    from core.orgs.views import bp as orgs_bp
    from core.people import pages as _people_pages  # noqa: F401 (its routes join the blueprint)
    from core.people.views import bp as people_bp
    from core.qr import bp as qr_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(orgs_bp)
    app.register_blueprint(join_bp)
    app.register_blueprint(qr_bp)
    app.register_blueprint(people_bp)
    app.before_request(_request_id)
    app.before_request(api.bearer_only)
    app.before_request(api.csrf_guard)
    manager = load_plugins(app, plugins)
    app.extensions["jindou_migration_locations"] = _plugin_dirs(
        manager, "migrations", ROOT / "migrations" / "versions"
    )
    # One Babel per app: Flask-Babel caches catalogs on the Babel object, and apps
    # with other plugins loaded (tests, a second app in a process) have other catalogs.
    Babel(
        app,
        locale_selector=_select_locale,
        default_translation_directories=";".join(
            _plugin_dirs(manager, "translations", Path(__file__).parent / "translations")
        ),
    )
    _error_handlers(app)

    @app.get("/api/v1/openapi.json")
    def openapi():
        from core.openapi import build_spec

        if "jindou_openapi" not in app.extensions:
            app.extensions["jindou_openapi"] = build_spec(app)
        return jsonify(app.extensions["jindou_openapi"])

    @app.get("/lang/<code>")
    def set_language(code):
        from flask import redirect

        from core.auth.views import safe_next

        if code in LOCALES:
            session["lang"] = code
        return redirect(safe_next("/"))

    @app.get("/text-size/<size>")
    def set_text_size(size):
        """大字 mode: a plain link (works without JS) that sets a session flag;
        base.html adds ``big-text`` to <body>, which scales the root font size."""
        from flask import redirect

        from core.auth.views import safe_next

        if size in ("big", "normal"):
            session["big_text"] = size == "big"
        return redirect(safe_next("/"))

    app.context_processor(_template_globals)
    from core import pages, times

    app.context_processor(pages.template_helpers)
    app.add_template_filter(times.format_local, "local_time")
    app.add_template_filter(times.friendly_time, "friendly_time")
    from core.people.services import mask_phone

    app.add_template_filter(mask_phone, "mask_phone")
    from core.cli import register_commands

    register_commands(app)
    # Again, now that the app's own routes (/api/v1/openapi.json, /lang/...) exist too.
    _refuse_route_collisions(app)
    return app


def _load_user(user_id: str):
    """``"<id>:<session version>"`` (see User.get_id): a session or remember-me
    cookie from before the last log-out or password change finds nobody. A bare
    id (cookies from before versions existed) holds only while the version is 0."""
    from core.extensions import db
    from core.models import User

    ident, _, version = user_id.partition(":")
    if not ident.isascii() or not ident.isdigit() or not (version.isdigit() or version == ""):
        return None
    user = db.session.get(User, int(ident))
    if user is None or (user.session_version or 0) != int(version or 0):
        return None
    return user


def _unauthorized():
    from flask import redirect, url_for

    from core.api import ApiError, error_response

    if request.path.startswith("/api/"):
        return error_response(ApiError(401, "unauthorized", "请先登录"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _select_locale():
    lang = request.args.get("lang")
    if lang in LOCALES:
        return lang
    return session.get("lang") or "zh_CN"


def _request_id():
    given = request.headers.get("X-Request-ID", "")[:64]  # the audit column holds 64
    g.request_id = given if given.isprintable() and given else uuid.uuid4().hex


def _plugin_dirs(manager, folder: str, core_dir: Path) -> list[str]:
    """``core_dir`` plus each loaded plugin's ``<folder>/`` (its migrations,
    its translations), so only loaded plugins' tables and words are seen."""
    import sys

    dirs = [str(core_dir)]
    for name in manager.names:
        plugin = manager.pm.get_plugin(name)
        module = plugin if hasattr(plugin, "__file__") else sys.modules.get(type(plugin).__module__)
        module_file = getattr(module, "__file__", None)
        if module_file and (Path(module_file).parent / folder).is_dir():
            dirs.append(str(Path(module_file).parent / folder))
    return dirs


def _error_handlers(app: Flask) -> None:
    from sqlalchemy.exc import DataError, InterfaceError, OperationalError
    from werkzeug.exceptions import MethodNotAllowed

    from core.api import (
        ApiError,
        BadRequest,
        error_response,
        http_error_as_api,
        ledger_error_as_api,
        wants_json,
    )
    from core.extensions import db
    from core.ledger import LedgerError

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        db.session.rollback()
        if wants_json():
            return error_response(err)
        return render_template("errors/error.html", error=err), err.status

    @app.errorhandler(LedgerError)
    def _ledger_error(err: LedgerError):
        return _api_error(ledger_error_as_api(err))

    @app.errorhandler(ValidationError)
    def _validation(err: ValidationError):
        return _api_error(BadRequest("输入有误", fields=err.normalized_messages()))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        response = current_app.make_response(_api_error(http_error_as_api(exc)))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(DataError)
    def _bad_data(exc):
        # A value the database refuses (too long for its column, out of range): the
        # input was bad, so a 400, never a 500. Schemas should catch it first.
        log.warning("database refused a value on %s %s: %s", request.method, request.path, exc)
        return _api_error(BadRequest("输入过长或格式无效", code="invalid_value"))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        # The database is down or unreachable: a retryable 503, not a bug's 500.
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc)
        err = ApiError(503, "database_unavailable", "数据库暂时不可用，请稍后再试")
        try:
            db.session.rollback()
            if not wants_json():  # the page template asks the database about the user
                return render_template("errors/error.html", error=err), 503
        except Exception:  # the connection is gone: answer without it
            log.debug("rollback or error page failed", exc_info=True)
        return error_response(err)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if current_app.testing:
            raise exc
        return _api_error(ApiError(500, "internal", "服务器内部错误"))


def _template_globals():
    from flask_babel import get_locale

    from core.plugins import NavItem

    nav: list[NavItem] = []
    org = g.get("_jindou_request_org")
    manager = current_app.extensions["jindou_plugins"]
    if current_user.is_authenticated:
        if org is None:
            from core.auth.services import memberships_of

            rows = g.get("_jindou_memberships")
            if rows is None:
                rows = g._jindou_memberships = memberships_of(current_user)
            org = rows[0][1] if rows else None
        if org is not None:
            for items in manager.for_org(org, "nav_items")(user=current_user, org=org):
                nav.extend(items or ())
    nav.sort(key=lambda item: item.order)
    return {
        "nav_items": nav,
        "current_locale": str(get_locale()),
        "nav_org": org,
        "big_text": bool(session.get("big_text")),
    }
