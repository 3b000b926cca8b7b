"""Dates for elders (issue 9, item 7): 今天/明天/昨天/周三 + time, by the local
(Asia/Shanghai) calendar, not UTC's; and the 大字 toggle works as a plain link."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from core.times import friendly_time

UTC = UTC
# Wednesday 2 December 2026, 23:30 in Shanghai (15:30 UTC).
NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment, shown",
    [
        (datetime(2026, 12, 2, 1, 0, tzinfo=UTC), "今天 9:00"),
        (datetime(2026, 12, 2, 15, 59, tzinfo=UTC), "今天 23:59"),
        (datetime(2026, 12, 2, 16, 0, tzinfo=UTC), "明天 0:00"),  # UTC still says 2 Dec
        (datetime(2026, 12, 1, 15, 59, tzinfo=UTC), "昨天 23:59"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), "今天 0:00"),
        (datetime(2026, 12, 4, 6, 5, tzinfo=UTC), "周五 14:05"),
        (datetime(2026, 12, 8, 15, 0, tzinfo=UTC), "周二 23:00"),  # six days ahead
        (datetime(2026, 12, 9, 1, 0, tzinfo=UTC), "12月9日 周三 9:00"),  # a week ahead: the date
        (datetime(2026, 11, 30, 1, 0, tzinfo=UTC), "11月30日 周一 9:00"),
        (datetime(2027, 1, 6, 1, 0, tzinfo=UTC), "2027年1月6日 周三 9:00"),
    ],
)
def test_friendly_time_by_the_shanghai_calendar(app, moment, shown):
    with app.app_context():
        assert friendly_time(moment, now=NOW, english=False) == shown


def test_friendly_time_in_english_and_empty(app):
    with app.app_context():
        assert (
            friendly_time(datetime(2026, 12, 2, 16, 0, tzinfo=UTC), now=NOW, english=True)
            == "Tomorrow 0:00"
        )
        assert (
            friendly_time(datetime(2026, 12, 4, 6, 5, tzinfo=UTC), now=NOW, english=True)
            == "Fri 14:05"
        )
        assert friendly_time(None) == ""
        assert friendly_time("2026-12-02T01:00:00+00:00", now=NOW, english=False) == "今天 9:00"


def test_friendly_time_is_a_template_filter_following_the_locale(app):
    from flask_babel import refresh

    with app.test_request_context("/?lang=en"):
        refresh()
        template = app.jinja_env.from_string("{{ t|friendly_time }}")
        assert template.render(t=datetime.now(UTC)).startswith("Today ")
    with app.test_request_context("/"):
        refresh()
        assert template.render(t=datetime.now(UTC)).startswith("今天 ")


def test_big_text_toggle_is_a_link_that_sets_a_body_class(app):
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    assert "<body>" in page and 'href="/text-size/big?next=' in page
    r = client.get("/text-size/big?next=/auth/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/auth/login")
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<body class="big-text">' in page and "/text-size/normal?next=" in page
    client.get("/text-size/normal")
    assert "<body>" in client.get("/auth/login").get_data(as_text=True)
    client.get("/text-size/huge")  # unknown sizes change nothing
    assert "<body>" in client.get("/auth/login").get_data(as_text=True)
    r = client.get("/text-size/big?next=https://evil.example/")
    assert "evil" not in r.headers["Location"]


def test_css_lets_the_phone_scale_text_and_keeps_targets_large():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "core" / "static" / "jindou.css").read_text()
    assert "text-size-adjust" not in css
    assert "body.big-text" in css and "flex-wrap: wrap" in css
    assert re.findall(r"font-size:\s*0?\.\d+rem", css) == []  # nothing under 16 px
    assert re.findall(r"min-height:\s*(\d+)px", css) and all(
        int(px) >= 44 for px in re.findall(r"min-height:\s*(\d+)px", css)
    )
