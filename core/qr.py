"""QR codes: signed tokens (itsdangerous, one salt per purpose) and images (qrcode).

A token reads ``<purpose>.<signed payload>``; the purpose in clear only picks
the salt, so relabelling a token breaks its signature. Codes on a staff screen
and a person's own code carry a time window number: the current and the
previous window are valid, so a screenshot sent home soon stops working.

``/c/<token>`` is what a QR code holds: a logged-in user opens it and the
plugin owning the purpose (hook ``scan_token``) says what the scan did. Someone
not logged in (WeChat's browser has no session) who opens a genuine, current
code keeps a scan intent in their session; after logging in, the scan
completes as of that moment even if the code rotated meanwhile (up to
:data:`SCAN_INTENT_TTL` seconds). An expired code never leaves an intent.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, jsonify, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import Schema, fields, validate

from core.api import ApiError, BadRequest, doc, identity_only, load
from core.extensions import db

# purpose -> window length in seconds (None: no rotation, e.g. printed codes)
PURPOSES: dict[str, int | None] = {
    "checkin": 30,
    "checkout": 30,
    "person": 120,
    "patrol": None,
    "certificate": None,
    "card": None,  # a printed card (core.people); revoked by its row, not by time
    "join": None,  # printed on a building's door: asking to join still needs staff
}
PURPOSE_TITLES = {
    "checkin": "签到码",
    "checkout": "签退码",
    "person": "个人码",
    "patrol": "巡逻点码",
    "certificate": "证明核验码",
    "card": "服务卡",
    "join": "加入码",
}
SHORT_CODE_DIGITS = 8
# How long a scan opened before logging in stays good (a slow login on a phone).
SCAN_INTENT_TTL = 600
_INTENT_KEY = "_scan_intent"


class TokenError(BadRequest):
    """A token that is forged, expired, malformed or meant for something else."""

    MESSAGES = {
        "token_forged": "二维码无效（签名不符）",
        "token_expired": "二维码已过期，请扫描屏幕上的最新二维码",
        "token_wrong_purpose": "这个二维码不能用在这里",
        "token_malformed": "二维码内容无法识别",
    }

    def __init__(self, code: str):
        super().__init__(self.MESSAGES[code], code=code)


@dataclass(frozen=True)
class Code:
    token: str
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class PersonCode:
    token: str
    short_code: str
    expires_at: datetime


@dataclass
class ScanOutcome:
    """What a scan did, for the result page (headline, detail) and the API (data)."""

    headline: str
    detail: str = ""
    data: dict = field(default_factory=dict)


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"jindou.qr.{purpose}")


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _window_seconds(purpose: str) -> int:
    seconds = PURPOSES[purpose]
    if seconds is None:
        raise ValueError(f"{purpose!r} codes do not rotate")
    return seconds


def window_of(purpose: str, now: float | None = None) -> int:
    return int(_now(now) // _window_seconds(purpose))


def window_expiry(purpose: str, window: int) -> datetime:
    """The moment a code of ``window`` stops being valid (end of the next window)."""
    return datetime.fromtimestamp((window + 2) * _window_seconds(purpose), UTC)


def sign(purpose: str, payload: dict) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown QR purpose {purpose!r}")
    return f"{purpose}.{_serializer(purpose).dumps(payload)}"


def rotating_token(purpose: str, payload: dict, now: float | None = None) -> tuple[str, datetime]:
    """The token for the current window (the same all through the window)."""
    window = window_of(purpose, now)
    return sign(purpose, {**payload, "w": window}), window_expiry(purpose, window)


def verify(token: str, purpose: str | None = None, now: float | None = None) -> tuple[str, dict]:
    """``(purpose, payload)`` of a genuine, current token, else :class:`TokenError`.

    With ``purpose`` given, a genuine token for another purpose is refused as
    ``token_wrong_purpose``.
    """
    claimed, dot, signed = (token or "").partition(".")
    if not dot or claimed not in PURPOSES or not signed:
        raise TokenError("token_malformed")
    try:
        payload = _serializer(claimed).loads(signed)
    except BadSignature as err:
        if any(_genuine_for(other, signed) for other in PURPOSES if other != claimed):
            raise TokenError("token_wrong_purpose") from err
        raise TokenError("token_forged") from err
    if not isinstance(payload, dict):
        raise TokenError("token_malformed")
    if purpose is not None and claimed != purpose:
        raise TokenError("token_wrong_purpose")
    if PURPOSES[claimed] is not None:
        window = payload.get("w")
        current = window_of(claimed, now)
        if not isinstance(window, int) or window not in (current, current - 1):
            raise TokenError("token_expired")
    return claimed, payload


def _genuine_for(purpose: str, signed: str) -> bool:
    try:
        _serializer(purpose).loads(signed)
        return True
    except BadSignature:
        return False


# -- a person's own code ---------------------------------------------------------------


def short_code(user_id: int, window: int) -> str:
    """Eight digits staff can type when the camera fails; derived, never stored."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"jindou.person:{user_id}:{window}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**SHORT_CODE_DIGITS).zfill(SHORT_CODE_DIGITS)


def person_code(user_id: int, now: float | None = None) -> PersonCode:
    token, expires_at = rotating_token("person", {"u": user_id}, now)
    return PersonCode(token, short_code(user_id, window_of("person", now)), expires_at)


def match_short_code(code: str, candidate_user_ids, now: float | None = None) -> int | None:
    """Which of the candidates (e.g. an activity's volunteers) shows ``code`` now.

    A short code names nobody by itself: it is checked against the few people
    the scanning staff expects, so no lookup table is needed.
    """
    code = "".join(ch for ch in code or "" if ch.isdigit())
    if len(code) != SHORT_CODE_DIGITS:
        return None
    current = window_of("person", now)
    for user_id in candidate_user_ids:
        for window in (current, current - 1):
            if hmac.compare_digest(short_code(user_id, window), code):
                return user_id
    return None


# -- images -------------------------------------------------------------------------------


def _qr(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


def svg(data: str) -> str:
    """An inline SVG (scales to any screen; no CDN, no JS library)."""
    image = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def png(data: str, box_size: int = 10) -> bytes:
    code = _qr(data)
    code.box_size = box_size
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def join_token(org_id: int) -> str:
    """The static token of an organization's printed join code."""
    return sign("join", {"o": org_id})


def read_photo(upload) -> str | None:
    """The text of the QR code in an uploaded photo (a form's file field), for
    phones whose browser cannot scan live; None when no file was sent. 400
    ``bad_photo`` for what is not a picture, ``no_qr_found`` for a picture
    without a code. Any plugin's counter or scanner page uses it."""
    if upload is None or not upload.filename:
        return None
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(upload.stream)
        if image.width * image.height > 40_000_000:  # refused before decoding: no bombs
            raise BadRequest("照片尺寸过大", code="bad_photo")
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as err:
        raise BadRequest("无法读取照片", code="bad_photo") from err
    found = zxingcpp.read_barcodes(image.convert("L"))
    if not found:
        raise BadRequest("照片中没有识别到二维码", code="no_qr_found")
    return found[0].text


def scan_url(token: str) -> str:
    return url_for("qr.scan", token=token, _external=True)


# -- /c/<token> and POST /api/v1/scan ------------------------------------------------------

bp = Blueprint("qr", __name__)


class ScanSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=3, max=2000))


def dispatch(user, token: str, now: float | None = None) -> ScanOutcome:
    """Verify ``token`` (as of ``now``) and hand it to the plugin owning its purpose."""
    purpose, payload = verify(token, now=now)
    if purpose == "join":  # core's own: the join page of that organization
        org_id = payload.get("o")
        if not isinstance(org_id, int):
            raise TokenError("token_malformed")
        return ScanOutcome(
            "申请加入",
            data={
                "purpose": "join",
                "org_id": org_id,
                "url": url_for("join.pick", org_id=org_id, via="qr"),
            },
        )
    manager = current_app.extensions["jindou_plugins"]
    outcome = manager.hook.scan_token(user=user, purpose=purpose, payload=payload)
    if outcome is None:
        raise TokenError("token_wrong_purpose")
    return outcome


# What a refusal's code means, for the result page: codes stay out of pages.
REASONS = {
    "token_forged": "二维码无效",
    "token_expired": "二维码已过期",
    "token_wrong_purpose": "二维码用错了地方",
    "token_malformed": "二维码无法识别",
    "card_revoked": "服务卡已作废",
    "person_not_found": "查无此人",
    "not_found": "未找到",
    "forbidden": "没有权限",
    "plugin_disabled": "功能未开通",
    "not_signed_up": "未报名",
    "not_confirmed": "候补中",
    "checkin_not_open": "签到未开始",
    "checkin_closed": "签到已结束",
    "not_checked_in": "尚未签到",
    "checkout_closed": "签退已结束",
    "other_activity": "不是本活动的码",
    "cancelled": "活动已取消",
}


def reason_text(code: str | None) -> str | None:
    """The Chinese name of a refusal's code (``None`` for one without a name here:
    the detail line already says what happened)."""
    return REASONS.get(code or "")


def keep_scan_intent(token: str, now: float | None = None) -> bool:
    """Someone not logged in opened ``token``: if it is genuine and current now,
    remember that in this browser's (signed) session for the login to come."""
    try:
        verify(token, now=now)
    except TokenError:
        return False
    session[_INTENT_KEY] = {"t": token, "at": _now(now)}
    return True


def take_scan_intent(token: str, now: float | None = None) -> float | None:
    """When ``token`` was verified before this login, if it was, within
    :data:`SCAN_INTENT_TTL`. The intent is used once: any scan page consumes it."""
    intent = session.pop(_INTENT_KEY, None)
    if not isinstance(intent, dict) or intent.get("t") != token:
        return None
    at = intent.get("at")
    if not isinstance(at, int | float) or not 0 <= _now(now) - at <= SCAN_INTENT_TTL:
        return None
    return float(at)


@bp.get("/c/<path:token>")
def scan(token):
    """The page a phone camera opens: does the scan, says so in big letters."""
    if not current_user.is_authenticated:
        keep_scan_intent(token)
        return current_app.login_manager.unauthorized()
    try:
        outcome = dispatch(current_user, token, now=take_scan_intent(token))
    except ApiError as err:
        db.session.rollback()
        return render_template(
            "qr/result.html",
            ok=False,
            headline=_fail_headline(err),
            detail=err.message,
            code=reason_text(err.code),
        ), err.status
    if outcome.data.get("purpose") == "join":
        return redirect(outcome.data["url"])
    return render_template(
        "qr/result.html", ok=True, headline=outcome.headline, detail=outcome.detail, code=None
    )


def _fail_headline(err: ApiError) -> str:
    return "二维码无效" if err.code.startswith("token_") else "未能完成"


@bp.post("/api/v1/scan")
@identity_only  # the door rush: the scanning person's id is all most scans need
@login_required
@doc(body=ScanSchema)
def api_scan():
    """Scan a code from an app: answers what the scan did (a repeat answers the first result)."""
    data = load(ScanSchema())
    outcome = dispatch(current_user, data["token"])
    return jsonify(outcome.data)
