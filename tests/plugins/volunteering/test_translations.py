"""The plugin's pages speak English with ?lang=en: Chinese is the source text
(the msgids), and every one of them has an English translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.testing import bearer
from tests.plugins.volunteering.conftest import make_activity

PLUGIN = Path(__file__).resolve().parents[3] / "plugins" / "volunteering"
CATALOG = PLUGIN / "translations" / "en" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def _po() -> dict:
    with open(CATALOG / "messages.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


def test_every_string_is_in_the_catalog_and_translated():
    po = _po()
    used = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(str(PLUGIN), METHODS)
    }
    assert sorted(m for m in used if isinstance(m, str) and m not in po) == []
    assert sorted(m for m, english in po.items() if not english) == []
    assert sorted(set(po) - used) == [], "stale entries: remove them from messages.po"


def test_compiled_catalog_is_current():
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert mo == _po(), "run: pybabel compile -d plugins/volunteering/translations"


def test_pages_show_english_with_lang_en(client, on, people):
    activity = make_activity(on.community, starts_in=60, title="陪伴老人")
    me = bearer(people.resident)
    r = client.get("/volunteering/?lang=en", headers=me)
    assert r.status_code == 200
    assert "Places left" in r.text and "剩余名额" not in r.text
    assert "陪伴老人" in r.text  # what people typed stays as typed
    r = client.get(f"/volunteering/activities/{activity.id}?lang=en", headers=me)
    assert "Sign up" in r.text and "我要报名" not in r.text
    r = client.post(f"/volunteering/activities/{activity.id}/signup?lang=en", headers=me)
    r = client.get(f"/volunteering/activities/{activity.id}?lang=en", headers=me)
    assert "Signed up: your place is confirmed" in r.text
    r = client.get("/volunteering/?lang=zh_CN", headers=me)
    assert "剩余名额" in r.text and "Places left" not in r.text
