"""Service minutes and points, for any times (no database needed)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from plugins.volunteering.models import Activity
from plugins.volunteering.services import points_for, service_minutes

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
offsets = st.integers(min_value=-600 * 60, max_value=600 * 60)  # seconds around the start


@given(
    length=st.integers(1, 600),
    checkin=offsets,
    stay=st.integers(0, 1200 * 60),
    points=st.integers(0, 100),
    per_hour=st.integers(0, 100),
)
def test_minutes_are_the_overlap_and_points_grow_with_them(length, checkin, stay, points, per_hour):
    activity = Activity(
        starts_at=START,
        ends_at=START + timedelta(minutes=length),
        points=points,
        points_per_hour=per_hour,
    )
    arrived = START + timedelta(seconds=checkin)
    left = arrived + timedelta(seconds=stay)
    minutes = service_minutes(activity, arrived, left)
    assert 0 <= minutes <= length
    assert minutes <= stay // 60
    overlap = (min(left, activity.ends_at) - max(arrived, START)).total_seconds()
    assert minutes == max(0, int(overlap) // 60)
    earned = points_for(activity, minutes)
    assert earned == points + per_hour * minutes // 60
    assert points_for(activity, minutes + 1) >= earned
