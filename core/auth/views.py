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

from core.api import ApiError, NotFound, doc, issue_token, load
from core.auth import services
from core.auth.schemas import (
    ChangePasswordSchema,
    LoginSchema,
    MeSchema,
    RegisterSchema,
    ResetCodeSchema,
    ResetPasswordSchema,
    TokenSchema,
    UserSchema,
)
from core.extensions import account_key, db, limiter, user_key
from core.models import User
from core.pages import safe_back

bp = Blueprint("auth", __name__)


def _login_rate():
    return current_app.config["JINDOU_LOGIN_RATE_LIMIT"]


def _account_rate():
    return current_app.config["JINDOU_ACCOUNT_RATE_LIMIT"]


# One bucket per phone number across log-in, tokens, register and reset, on top of
# the per-address limits: many addresses cannot guess one account's password.
per_account = limiter.shared_limit(
    _account_rate,
    scope="account",
    key_func=account_key,
    exempt_when=lambda: request.method != "POST",
)


def safe_next(default: str) -> str:
    """Only same-site relative paths: an open redirect would help phishing."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and not parts.scheme
    ):
        return target
    return default


# -- API ------------------------------------------------------------------------


@bp.post("/api/v1/auth/register")
@limiter.limit(_login_rate)
@per_account
@doc(body=RegisterSchema, response=UserSchema, status=201, public=True)
def api_register():
    """Register an account with a mainland mobile number."""
    data = load(RegisterSchema())
    user = services.register_user(**data)
    db.session.commit()
    return UserSchema().dump(user), 201


@bp.post("/api/v1/auth/tokens")
@limiter.limit(_login_rate)
@per_account
@doc(body=LoginSchema, response=TokenSchema, status=201, public=True)
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


@bp.put("/api/v1/me/password")
@login_required
@limiter.limit(_login_rate, key_func=user_key)
@doc(body=ChangePasswordSchema, status=204)
def api_change_password():
    """Change my password; every other session and token of mine ends."""
    data = load(ChangePasswordSchema())
    services.change_password(
        current_user, data["old_password"], data["password"], keep_token_id=g.get("api_token_id")
    )
    db.session.commit()
    _stay_logged_in()
    return "", 204


@bp.post("/api/v1/users/<int:user_id>/password-reset")
@login_required
@doc(response=ResetCodeSchema, status=201)
def api_issue_reset(user_id: int):
    """A one-time 6-digit code (valid 30 minutes) that staff hand to the person at the desk."""
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound("未找到该用户")
    code, expires_at = services.issue_reset_code(current_user, person)
    db.session.commit()
    return ResetCodeSchema().dump({"code": code, "expires_at": expires_at}), 201


@bp.post("/api/v1/auth/password-reset")
@limiter.limit(_login_rate)
@per_account
@doc(body=ResetPasswordSchema, status=204, public=True)
def api_redeem_reset():
    """Set a new password with the code from the desk; ends every session and token."""
    data = load(ResetPasswordSchema())
    services.redeem_reset_code(data["phone"], data["code"], data["password"])
    db.session.commit()
    return "", 204


def _stay_logged_in() -> None:
    """After a password change the browser that made it stays logged in (with
    the new session version); a bearer-token client keeps its token."""
    if g.get("api_token_id") is None:
        login_user(current_user._get_current_object(), remember=True)


# -- pages ------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
@per_account
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("orgs.home")))
    errors = {}
    if request.method == "POST":
        try:
            data = LoginSchema().load(
                {
                    "phone": request.form.get("phone", ""),
                    "password": request.form.get("password", ""),
                }
            )
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
@per_account
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


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_rate, key_func=user_key, methods=["POST"])
def change_password():
    errors = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("old_password", "password")}
        try:
            data = ChangePasswordSchema().load(form)
            services.change_password(current_user, data["old_password"], data["password"])
            db.session.commit()
        except ValidationError as err:
            errors = err.normalized_messages()
        except ApiError as err:
            db.session.rollback()
            errors = err.fields or {"old_password": [err.message]}
        else:
            _stay_logged_in()
            flash(_("Password changed. Other devices have been logged out."))
            return redirect(url_for("orgs.home"))
    status = 400 if errors else 200
    return render_template("auth/password.html", errors=errors), status


@bp.route("/password-reset", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
@per_account
def reset_password():
    errors = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("phone", "code", "password")}
        try:
            data = ResetPasswordSchema().load(form)
            services.redeem_reset_code(data["phone"], data["code"], data["password"])
            db.session.commit()
        except ValidationError as err:
            errors = err.normalized_messages()
        except ApiError as err:
            db.session.rollback()
            errors = err.fields or {"code": [err.message]}
        else:
            flash(_("Password reset. Please log in with the new password."))
            return redirect(url_for("auth.login"))
    status = 400 if errors else 200
    return render_template("auth/reset.html", errors=errors), status


@bp.post("/users/<int:user_id>/password-reset")
@login_required
def issue_reset_page(user_id: int):
    """Staff at the desk: a one-time code for the person in front of them, in big digits."""
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound("未找到该用户")
    code, expires_at = services.issue_reset_code(current_user, person)
    db.session.commit()
    back = safe_back(request.form.get("back"), url_for("orgs.home"))
    response = render_template(
        "auth/reset_code.html", person=person, code=code, expires_at=expires_at, back=back
    )
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/logout")
def logout():
    """Ends this person's sessions and remember-me cookies everywhere, not just here."""
    if current_user.is_authenticated:
        current_user.end_sessions()
        db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
