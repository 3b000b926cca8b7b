"""volunteering_org_setting moved into core's org_setting with its values."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from core import create_app, settings
from core.extensions import db
from core.models import Organization
from core.testing import base_config, drop_everything


def test_volunteering_settings_move_to_core_with_their_values(tmp_path):
    app = create_app(
        {**base_config(f"sqlite:///{tmp_path / 'old.db'}"), "JINDOU_PLUGINS": ["volunteering"]}
    )
    with app.app_context():
        drop_everything()
        upgrade(revision="0001_volunteering")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organization (id, name, level, parent_id, path, created_at) VALUES "
                    "(1, '盘龙区', 'district', NULL, '/1/', '2026-01-01'), "
                    "(2, '联盟街道', 'subdistrict', 1, '/1/2/', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO volunteering_org_setting "
                    "(org_id, honour_hours_earn_points) VALUES (1, 1), (2, 0)"
                )
            )
        upgrade(revision="heads")
        district, sub = db.session.get(Organization, 1), db.session.get(Organization, 2)
        assert settings.get(district, "volunteering", "honour_hours_earn_points") is True
        assert settings.get(sub, "volunteering", "honour_hours_earn_points") is False
        db.session.remove()
