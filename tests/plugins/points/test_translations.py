"""The plugin's pages speak English with ?lang=en: Chinese is the source text
(the msgids), and every one of them has an English translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.plugins.points.conftest import give, login, reward

PLUGIN = Path(__file__).resolve().parents[3] / "plugins" / "points"
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
    assert mo == _po(), "run: pybabel compile -d plugins/points/translations"


def test_points_pages_show_english_with_lang_en(client, world):
    tree, people = world
    give(people, tree, 30)
    reward(people, tree, cost=50)
    login(client, people.resident)
    wallet = client.get("/points/wallet?lang=en").get_data(as_text=True)
    assert "Beans you can spend now" in wallet and "可用金豆" not in wallet
    assert "My beans" in wallet  # the plugin's menu items too
    catalog = client.get(f"/points/orgs/{tree.community.id}/rewards?lang=en").get_data(as_text=True)
    assert "20 beans short" in catalog and "还差" not in catalog
    assert "洗衣液" in catalog  # what people typed stays as typed
    board = client.get(f"/points/orgs/{tree.community.id}/leaderboard?lang=en").get_data(
        as_text=True
    )
    assert "Honour board" in board and "光荣榜" not in board
    back = client.get("/points/wallet?lang=zh_CN").get_data(as_text=True)
    assert "可用金豆" in back and "Beans you can spend" not in back
