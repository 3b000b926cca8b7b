"""Incident photos: JPEG or PNG up to 2 MB, shrunk on the server, no bombs."""

from __future__ import annotations

import base64
import io
import struct
import zlib

from PIL import Image

from core.testing import bearer
from plugins.patrol.models import Incident
from tests.plugins.patrol.helpers import make_route, make_shift


def picture(width=2400, height=1800, fmt="JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 60, 30)).save(out, format=fmt)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def post(client, shift, user, photo):
    return client.post(
        f"/api/v1/shifts/{shift.id}/incidents",
        headers=bearer(user),
        json={"kind": "hazard", "text": "井盖松动", "photo": photo},
    )


def setup(on, people, team):
    route = make_route(people.staff, on.community)
    return make_shift(people.staff, on.community, route, team)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_photo_is_resized_and_served_to_staff(client, on, people, team):
    shift = setup(on, people, team)
    made = post(client, shift, team[0], b64(picture()))
    assert made.status_code == 201, made.get_json()
    served = client.get(made.get_json()["photo_url"], headers=bearer(people.staff))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(served.data)).size) == 1600
    assert client.get(made.get_json()["photo_url"], headers=bearer(team[1])).status_code == 403
    png = post(client, shift, team[0], "data:image/png;base64," + b64(picture(50, 40, "PNG")))
    assert png.status_code == 201 and png.get_json()["has_photo"] is True


def test_bad_photos_are_400_and_nothing_is_written(client, on, people, team):
    shift = setup(on, people, team)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    cases = (
        ("not base64!!", "photo_invalid"),
        (b64(b"just some text"), "photo_invalid"),
        (b64(gif.getvalue()), "photo_invalid"),
        (b64(b"\x00" * (2 * 1024 * 1024 + 1)), "photo_too_large"),
        (b64(png_declaring(100_000, 100_000)), "photo_too_large"),
        (b64(png_declaring(10_000, 5_000)), "photo_too_large"),
        (b64(picture()[:500]), "photo_invalid"),
    )
    for photo, code in cases:
        answer = post(client, shift, team[0], photo)
        assert answer.status_code == 400, (code, answer.get_json())
        assert answer.get_json()["error"]["code"] == code
        assert "photo" in answer.get_json()["error"]["fields"]
    assert Incident.query.count() == 0
