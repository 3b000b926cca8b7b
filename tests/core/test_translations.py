"""Chinese is the default: every UI string of the core has a zh translation,
and the compiled catalog matches its source."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

CORE = Path(__file__).resolve().parents[2] / "core"
CATALOG = CORE / "translations" / "zh" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def test_every_core_string_is_translated():
    with open(CATALOG / "messages.po", "rb") as f:
        po = read_po(f)
    used = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(str(CORE), METHODS)
    }
    missing = [m for m in used if isinstance(m, str) and not (po.get(m) and po.get(m).string)]
    assert missing == [], "add these to scripts/translate_core.py and recompile"


def test_compiled_catalog_is_current():
    with open(CATALOG / "messages.po", "rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert mo == po, "run: pybabel compile -d core/translations"
