"""``jindou casework ...``: jobs a scheduler (cron, systemd timer) runs."""

from __future__ import annotations

import click

from plugins.casework.views import bp

bp.cli.help = "群众诉求 (casework) jobs."


@bp.cli.command("escalate")
@click.option("--now", "now_raw", default=None, help="ISO 8601 time with offset (default: now)")
def escalate(now_raw):
    """Move every overdue open or accepted case one level up (idempotent, restartable)."""
    from datetime import datetime

    from core.models import utcnow
    from plugins.casework import services

    now = utcnow()
    if now_raw:
        try:
            now = datetime.fromisoformat(now_raw)
        except ValueError as err:
            raise click.BadParameter("not an ISO 8601 time", param_hint="--now") from err
        if now.tzinfo is None:
            raise click.BadParameter("give an offset (e.g. +08:00)", param_hint="--now")

    def progress(climbed: int, last_id: int) -> None:
        # On stderr: stdout stays the one summary line scripts read.
        click.echo(f"… {climbed} escalated so far (cases up to #{last_id})", err=True)

    count = services.escalate_overdue(now, progress)
    click.echo(f"{count} cases escalated")
