"""Photos people send from a phone (an incident, a broken streetlight): one
check for every plugin. JPEG or PNG only, at most 2 MB, no decompression
bombs; stored turned upright, at most 1600 px and re-encoded as JPEG, which
also drops the metadata (the GPS position of someone's home)."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from core.api import BadRequest

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = (
    40_000_000  # a phone photo is ~12 MP; a bomb declares far more (checked before decoding)
)
MAX_SIDE = 1600
CONTENT_TYPE = "image/jpeg"  # what prepare() gives back


def _refuse(message: str, code: str, field: str) -> BadRequest:
    return BadRequest(message, fields={field: [message]}, code=code)


def from_base64(encoded: str, *, field: str = "photo") -> bytes:
    """A base64 photo (a ``data:`` URL prefix is fine) as bytes, at most 2 MB; else 400."""
    if not isinstance(encoded, str):
        raise _refuse("照片格式不对", "photo_invalid", field)
    if encoded.startswith("data:") and "," in encoded[:100]:
        encoded = encoded.split(",", 1)[1]
    if len(encoded) > MAX_BYTES * 4 // 3 + 8:
        raise _refuse("照片不能超过 2 MB", "photo_too_large", field)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise _refuse("照片编码无效（须为 base64）", "photo_invalid", field) from err


def from_upload(upload, *, field: str = "photo") -> bytes | None:
    """A form's file field (``request.files``) as bytes, or None when empty; 400 past 2 MB."""
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse("照片不能超过 2 MB", "photo_too_large", field)
    return data


def prepare(raw: bytes, *, field: str = "photo") -> bytes:
    """Check and shrink a photo (see the module); the JPEG bytes to store, else 400."""
    if not raw or len(raw) > MAX_BYTES:
        raise _refuse(
            "照片不能超过 2 MB" if raw else "无法识别的图片",
            "photo_too_large" if raw else "photo_invalid",
            field,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(raw))
            if image.format not in ("JPEG", "PNG"):
                raise _refuse("照片须为 JPEG 或 PNG 图片", "photo_invalid", field)
            if image.width * image.height > MAX_PIXELS:
                raise _refuse("照片尺寸过大", "photo_too_large", field)
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise _refuse("照片尺寸过大", "photo_too_large", field) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise _refuse("无法识别的图片", "photo_invalid", field) from err
    return out.getvalue()
