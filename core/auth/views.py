"""Accounts: pages (register, log in, log out) and /api/v1 (register, tokens, me)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from core.api import ApiError, doc, issue_token, load
from core.auth import services
from core.auth.schemas import LoginSchema, MeSchema, RegisterSchema, TokenSchema, UserSchema
from core.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _login_rate():
    return current_app.config["JINDOU_LOGIN_RATE_LIMIT"]


def safe_next(default: str) -> str:
    """Only same-site relative paths: an open redirect would help phishing."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return default


# -- API ------------------------------------------------------------------------


@bp.post("/api/v1/auth/register")
@limiter.limit(_login_rate)
@doc(body=RegisterSchema, response=UserSchema, status=201)
def api_register():
    """Register an account with a mainland mobile number."""
    data = load(RegisterSchema())
    user = services.register_user(**data)
    db.session.commit()
    return UserSchema().dump(user), 201


@bp.post("/api/v1/auth/tokens")
@limiter.limit(_login_rate)
@doc(body=LoginSchema, response=TokenSchema, status=201)
def api_tokens():
    """Exchange phone and password for a bearer token."""
    data = load(LoginSchema())
    user = services.authenticate(data["phone"], data["password"])
    if user is None:
        raise ApiError(401, "bad_credentials", "手机号或密码错误")
    token = issue_token(user)
    db.session.commit()
    return TokenSchema().dump({"token": token, "user": user}), 201


@bp.delete("/api/v1/auth/tokens/current")
@login_required
@doc(status=204)
def api_revoke_token():
    """Revoke the bearer token this request carries (log out an app)."""
    token_id = g.get("api_token_id")
    if token_id is None:
        raise ApiError(400, "no_token", "此请求未使用令牌")
    services.revoke_token(token_id)
    db.session.commit()
    return "", 204


@bp.get("/api/v1/me")
@login_required
@doc(response=MeSchema)
def api_me():
    """The current user and their memberships."""
    memberships = [
        {"org_id": org.id, "org_name": org.name, "role": m.role}
        for m, org in services.memberships_of(current_user)
    ]
    return jsonify(MeSchema().dump({**UserSchema().dump(current_user), "memberships": memberships}))


# -- pages ------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("orgs.home")))
    errors = {}
    if request.method == "POST":
        try:
            data = LoginSchema().load({"phone": request.form.get("phone", ""),
                                       "password": request.form.get("password", "")})
        except ValidationError as err:
            errors = err.normalized_messages()
        else:
            user = services.authenticate(data["phone"], data["password"])
            if user is not None:
                login_user(user, remember=True)
                return redirect(safe_next(url_for("orgs.home")))
            errors = {"password": [_("Wrong phone number or password")]}
    status = 400 if errors else 200
    return render_template("auth/login.html", errors=errors, next=safe_next("")), status


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def register():
    errors = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("phone", "name", "password")}
        try:
            data = RegisterSchema().load(form)
            user = services.register_user(**data)
            db.session.commit()
        except ValidationError as err:
            errors = err.normalized_messages()
        except ApiError as err:
            errors = {"phone": [err.message]}
        else:
            login_user(user, remember=True)
            flash(_("Welcome, %(name)s!", name=user.name))
            return redirect(safe_next(url_for("orgs.home")))
    status = 400 if errors else 200
    return render_template("auth/register.html", errors=errors, next=safe_next("")), status


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
