"""The CSV helper: formulas defused, UTF-8 with a BOM for Excel."""

from __future__ import annotations

import csv
import io

import pytest

from core.export import csv_response, csv_text, safe_cell


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (12, "12"),
        (1.5, "1.5"),
        (True, "是"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_csv_text_escapes_every_cell_and_quotes_properly():
    text = csv_text(["姓名", "=备注"], [["=1+1", 'say "hi", ok'], [3, None]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["姓名", "'=备注"], ["'=1+1", 'say "hi", ok'], ["3", ""]]


def test_csv_response_is_utf8_with_bom_and_named(app):
    with app.test_request_context():
        r = csv_response("积分报表 2026-12.csv", ["姓名"], [["-张三"]])
    body = r.get_data()
    assert body.startswith("\ufeff".encode()) and "'-张三".encode() in body
    assert r.mimetype == "text/csv"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "\n" not in disposition and '""' not in disposition
