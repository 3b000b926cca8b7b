"""Local time for every plugin: the time zone, months, form inputs, display.

Times are stored in UTC (``core.models.Timestamp``); people live in one
local zone (``JINDOU_TIMEZONE``, Asia/Shanghai by default). A "month" in a
report, a "today" at a canteen counter and a ``datetime-local`` form input
are all local; these helpers turn them into aware datetimes once, here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from core.api import MAX_YEAR, MIN_YEAR, BadRequest
from core.models import utcnow

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_zone() -> ZoneInfo:
    """The people's time zone (the app's ``JINDOU_TIMEZONE``)."""
    name = (
        current_app.config.get("JINDOU_TIMEZONE", DEFAULT_ZONE)
        if has_app_context()
        else DEFAULT_ZONE
    )
    return _zone(name)


def local_now() -> datetime:
    return utcnow().astimezone(local_zone())


def local_today() -> date:
    return local_now().date()


def to_local(moment: datetime) -> datetime:
    return moment.astimezone(local_zone())


def start_of_day(day: date) -> datetime:
    """Local midnight at the start of ``day``, aware."""
    return datetime(day.year, day.month, day.day, tzinfo=local_zone())


def this_month() -> date:
    """The first day of the current local month."""
    return local_today().replace(day=1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The local calendar month starting on ``month``: ``[start, end)``, aware.

    400 for a year outside 2000–2100 (a report month comes from user input).
    """
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise BadRequest(
            "月份应为 YYYY-MM", fields={"month": [f"须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"]}
        )
    zone = local_zone()
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, end


def parse_month(raw: str | None, *, field: str = "month") -> date:
    """``"2026-12"`` → ``date(2026, 12, 1)``; empty → this month; else 400 naming ``field``."""
    if not raw:
        return this_month()
    try:
        year, month = (int(part) for part in raw.split("-"))
        if not (raw.isascii() and MIN_YEAR <= year <= MAX_YEAR):
            raise ValueError(raw)
        return date(year, month, 1)
    except ValueError as err:
        raise BadRequest("月份应为 YYYY-MM", fields={field: ["应为 YYYY-MM"]}) from err


def parse_day(raw: str | None, *, field: str) -> date | None:
    """``"2026-12-01"`` (2000–2100) or None when empty; 400 naming ``field`` when bad."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as err:
        raise BadRequest("日期格式应为 YYYY-MM-DD", fields={field: ["无效"]}) from err
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise BadRequest(
            f"日期须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间",
            fields={field: [f"须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"]},
        )
    return day


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """Local days ``first``..``last`` inclusive as ``[start, end)``, aware."""
    return start_of_day(first), start_of_day(last) + timedelta(days=1)


def local_input(value: str | None) -> str | None:
    """A ``<input type=datetime-local>`` value (local wall time) as ISO 8601
    with the local offset, for a schema's ``Moment`` field; text that is not a
    time passes through unchanged so that the schema names the field."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.replace(tzinfo=moment.tzinfo or local_zone()).isoformat()


def format_local(moment: datetime | str | None, fmt: str = "%m月%d日 %H:%M") -> str:
    """Template filter ``local_time``: a UTC time (or ISO string) in local wall time."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return to_local(moment).strftime(fmt)


WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def friendly_time(
    moment: datetime | str | None, *, english: bool | None = None, now: datetime | None = None
) -> str:
    """Template filter ``friendly_time``: 今天 14:00, 明天 9:00, 昨天 …, 周三 14:00 within
    the coming week, else 12月3日 周三 14:00 (with the year when not this year).

    Elders read a day's name faster than a date (MIIT 适老化). ``english``
    defaults to the request's locale."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if english is None:
        english = _english()
    local = to_local(moment)
    today = (now or utcnow()).astimezone(local_zone()).date()
    days = (local.date() - today).days
    clock = f"{local.hour}:{local.minute:02d}"
    names = {0: ("今天", "Today"), 1: ("明天", "Tomorrow"), -1: ("昨天", "Yesterday")}
    if days in names:
        return f"{names[days][english]} {clock}"
    weekday = (WEEKDAYS_EN if english else WEEKDAYS)[local.weekday()]
    if 1 < days < 7:
        return f"{weekday} {clock}"
    if english:
        day = local.strftime("%b ") + str(local.day)
        day += f", {local.year}" if local.year != today.year else ""
        return f"{weekday} {day} {clock}"
    day = f"{local.month}月{local.day}日"
    if local.year != today.year:
        day = f"{local.year}年{day}"
    return f"{day} {weekday} {clock}"


def _english() -> bool:
    from flask import has_request_context

    if not has_request_context():
        return False
    from flask_babel import get_locale

    return str(get_locale() or "zh").startswith("en")
