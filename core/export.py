"""CSV downloads that are safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
a formula to Excel and WPS (a name like ``=HYPERLINK(...)`` would run on the
staff member's computer), so such cells get a leading single quote. The file
is UTF-8 with a BOM, which Excel on Chinese Windows needs to read it as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from urllib.parse import quote

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """One cell as text, defused if a spreadsheet would run it. Numbers stay
    numbers (a negative amount is not a formula); None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(header: Iterable, rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def csv_response(filename: str, header: Iterable, rows: Iterable[Iterable]) -> Response:
    """A download named ``filename`` (Chinese names work), every cell through safe_cell."""
    body = "\ufeff" + csv_text(header, rows)
    ascii_name = "".join(c for c in filename if c.isascii() and c.isprintable() and c not in '"\\')
    ascii_name = ascii_name if ascii_name.strip(".") else "export.csv"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        body.encode("utf-8"), mimetype="text/csv", headers={"Content-Disposition": disposition}
    )
