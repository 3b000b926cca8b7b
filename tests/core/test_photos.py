"""core.photos: one check for every photo a phone sends."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from core import photos
from core.api import BadRequest


def png(width=40, height=30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, format="PNG")
    return out.getvalue()


def bomb_png() -> bytes:
    """A tiny PNG whose header declares 100,000 × 100,000 pixels."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def code_of(call) -> str:
    with pytest.raises(BadRequest) as err:
        call()
    assert err.value.fields == {"photo": [err.value.message]}
    return err.value.code


def test_a_photo_comes_back_as_a_small_upright_jpeg():
    data = photos.prepare(
        photos.from_base64("data:image/png;base64," + base64.b64encode(png(4000, 3000)).decode())
    )
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and max(image.size) == photos.MAX_SIDE


def test_what_is_not_a_photo_is_a_400():
    assert code_of(lambda: photos.prepare(b"not an image")) == "photo_invalid"
    assert code_of(lambda: photos.from_base64("%%% not base64 %%%")) == "photo_invalid"
    assert code_of(lambda: photos.from_base64(5)) == "photo_invalid"
    gif = io.BytesIO()
    Image.new("RGB", (2, 2)).save(gif, format="GIF")
    assert code_of(lambda: photos.prepare(gif.getvalue())) == "photo_invalid"


def test_too_big_and_bombs_are_refused_before_decoding():
    assert code_of(lambda: photos.from_base64("A" * (3 * 1024 * 1024))) == "photo_too_large"
    assert code_of(lambda: photos.prepare(b"x" * (photos.MAX_BYTES + 1))) == "photo_too_large"
    assert code_of(lambda: photos.prepare(bomb_png())) == "photo_too_large"
