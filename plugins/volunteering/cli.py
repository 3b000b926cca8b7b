"""``jindou volunteering ...``: jobs a scheduler (cron, systemd timer) runs."""

from __future__ import annotations

import click

from plugins.volunteering.views import bp

bp.cli.help = "志愿服务 (volunteering) jobs."


@bp.cli.command("close-attendance")
def close_attendance():
    """Close check-ins with no check-out after end + grace as incomplete; retry
    failed 金豆 announcements. In batches, a line each; idempotent and
    restartable: safe to run every few minutes, or again after a crash."""
    from plugins.volunteering import services

    result = services.close_attendance(progress=lambda line: click.echo(line, err=True))
    click.echo(f"closed {result['closed']} incomplete, retried {result['retried']} announcements")
