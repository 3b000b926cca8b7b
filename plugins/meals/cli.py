"""``jindou meals ...``: jobs a scheduler (cron, systemd timer) runs."""

from __future__ import annotations

import click

from plugins.meals.views import bp

bp.cli.help = "爱心食堂 (meals) jobs."


@bp.cli.command("settlement")
@click.option("--org", "org_id", type=int, required=True, help="organization id")
@click.option("--month", default=None, help="YYYY-MM (default: this month)")
def settlement(org_id, month):
    """Print a month's settlement of every canteen under an organization (CSV)."""
    from core.access import get_org
    from core.export import csv_text
    from core.times import parse_month
    from plugins.meals import services
    from plugins.meals.views import CSV_HEADER

    result = services.settlement_of(get_org(org_id), parse_month(month))
    click.echo(csv_text(CSV_HEADER, services.csv_rows(result)), nl=False)
