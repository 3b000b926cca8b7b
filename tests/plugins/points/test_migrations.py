"""The expiry setting moved from points_setting to core's org_setting: existing
choices (a number, and null = "never expire") survive the upgrade."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from core import create_app, settings
from core.extensions import db
from core.models import Organization
from core.testing import base_config, drop_everything


def test_points_settings_move_to_core_with_their_values(tmp_path):
    app = create_app(
        {**base_config(f"sqlite:///{tmp_path / 'old.db'}"), "JINDOU_PLUGINS": ["points"]}
    )
    with app.app_context():
        drop_everything()
        upgrade(revision="0002_points_award_reversed")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organization (id, name, level, parent_id, path, created_at) VALUES "
                    "(1, '盘龙区', 'district', NULL, '/1/', '2026-01-01'), "
                    "(2, '联盟街道', 'subdistrict', 1, '/1/2/', '2026-01-01'), "
                    "(3, '金星社区', 'community', 2, '/1/2/3/', '2026-01-01')"
                )
            )
            conn.execute(
                text("INSERT INTO points_setting (org_id, expiry_months) VALUES (1, 12), (2, NULL)")
            )
        upgrade(revision="heads")
        district, community = db.session.get(Organization, 1), db.session.get(Organization, 3)
        assert settings.get(district, "points", "expiry_months") == 12
        # the sub-district's explicit "never" still overrides the district below it
        assert settings.get(community, "points", "expiry_months") is None
        assert settings.sources(community, "points")["expiry_months"] == 2
        db.session.remove()
