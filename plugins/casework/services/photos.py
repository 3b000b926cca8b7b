"""Optional photos: base64 JPEG or PNG up to 2 MB, checked with Pillow."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image

from core.api import BadRequest

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a phone photo is ~12 MP; more is a decompression bomb
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


def _refuse(message: str) -> BadRequest:
    return BadRequest(message, fields={"photo": [message]})


def decode_photo(raw: str) -> tuple[bytes, str]:
    """``(bytes, content type)`` of a base64 photo (a ``data:`` prefix is fine); else 400."""
    if raw.startswith("data:") and "," in raw:
        raw = raw.split(",", 1)[1]
    if len(raw) > MAX_BYTES * 4 // 3 + 8:
        raise _refuse("照片不能超过 2 MB")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as err:
        raise _refuse("照片格式不对") from err
    if not data or len(data) > MAX_BYTES:
        raise _refuse("照片不能超过 2 MB" if data else "照片格式不对")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                if image.width * image.height > MAX_PIXELS:
                    raise _refuse("照片尺寸过大")
                image.verify()
    except BadRequest:
        raise
    except (Exception, Image.DecompressionBombWarning) as err:  # Pillow raises many kinds
        raise _refuse("这不是一张照片（只收 JPEG 或 PNG）") from err
    if kind not in TYPES:
        raise _refuse("这不是一张照片（只收 JPEG 或 PNG）")
    return data, TYPES[kind]
