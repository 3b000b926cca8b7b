"""F7: names typed by people never run as formulas in the service exports."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from core.extensions import db
from core.testing import bearer
from core.times import local_zone
from plugins.volunteering import services
from tests.plugins.volunteering.conftest import make_activity

STARTS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("start", STARTS, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_every_formula_start_is_defused_in_csv_and_xlsx(client, on, people, start):
    people.resident.name = f'{start}HYPERLINK("http://evil")'
    people.staff.name = f"{start}1+1"
    on.building.name = f"{start}cmd|' /C calc'!A0"
    activity = make_activity(on.building, starts_in=-300, minutes=60, title=f"{start}清洁")
    services.backfill(
        people.staff,
        activity,
        user=people.resident,
        checked_in_at=activity.starts_at,
        checked_out_at=activity.ends_at,
        reason="补录",
    )
    db.session.commit()
    day = activity.starts_at.astimezone(local_zone()).date().isoformat()
    url = f"/volunteering/orgs/{on.community.id}/export"
    r = client.get(f"{url}.csv?from={day}&to={day}", headers=bearer(people.staff))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    [_header, row] = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"), newline="")))
    texts = [row[0], row[2], row[3], row[7]]  # name, organization, activity, recorder
    assert all(cell.startswith("'" + start) for cell in texts), texts
    assert row[5] == "1.0"  # numbers stay numbers
    r = client.get(f"{url}.xlsx?from={day}&to={day}", headers=bearer(people.staff))
    cells = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(min_row=2, values_only=True))
    [row] = cells
    texts = [row[0], row[2], row[3], row[7]]
    read_back = "\n" if start == "\r" else start  # XML reads a lone CR as LF
    assert all(cell.startswith("'" + read_back) for cell in texts), texts
    assert row[5] == 1.0


def test_a_negative_number_is_not_a_formula(app):
    from core.export import safe_cell

    assert safe_cell(-1) == "-1" and safe_cell("-1") == "'-1"
