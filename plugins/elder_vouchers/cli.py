"""``jindou vouchers ...``: the scheduler's jobs (cron, systemd timer). The group
is named ``vouchers`` (views.py sets ``bp.cli_group``), as API.md gives them."""

from __future__ import annotations

import click

from plugins.elder_vouchers.views import bp

bp.cli.help = "居家养老服务券 (elder_vouchers) jobs."


@bp.cli.command("issue")
@click.option("--month", required=True, help="YYYY-MM")
def issue_command(month):
    """Issue a month's vouchers in every programme where the plugin is on (idempotent)."""
    from core.api import ApiError
    from core.times import parse_month
    from plugins.elder_vouchers.services import issue_all

    try:
        first = parse_month(month)
    except ApiError as err:
        raise click.BadParameter(err.message, param_hint="--month") from err

    def progress(programme, done, owed):
        click.echo(f"{programme.id}\t{programme.name}\t... {done}/{owed}", err=True)

    for programme, outcome in issue_all(first, progress=progress):
        if isinstance(outcome, dict):
            click.echo(
                f"{programme.id}\t{programme.name}\tissued {outcome['issued']}\t"
                f"skipped {outcome['skipped']}\tamount {outcome['amount']}"
            )
        else:
            click.echo(f"{programme.id}\t{programme.name}\trefused: {outcome}", err=True)


@bp.cli.command("expire")
@click.option("--today", default=None, help="YYYY-MM-DD (default: today, local time)")
def expire_command(today):
    """Return lapsed vouchers to their programme's budget (idempotent; run daily)."""
    from core.api import ApiError
    from core.times import local_now, parse_day, start_of_day
    from plugins.elder_vouchers.services import expire_all

    try:
        day = parse_day(today, field="today")
    except ApiError as err:
        raise click.BadParameter(err.message, param_hint="--today") from err
    now = start_of_day(day) if day else local_now()

    def progress(people, fen):
        click.echo(f"... {fen} fen of {people} people so far", err=True)

    people, fen = expire_all(now, progress=progress)
    click.echo(f"expired {fen} fen of {people} people")
