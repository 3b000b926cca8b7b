"""``jindou patrol ...``: jobs a scheduler (cron, systemd timer) runs."""

from __future__ import annotations

import click

from plugins.patrol.views import bp

bp.cli.help = "治安巡逻 (patrol) jobs."


@bp.cli.command("close-shifts")
def close_shifts():
    """Close shifts that ended more than their grace ago (completed or incomplete)
    and retry failed service announcements. Idempotent: run it every few minutes."""
    from plugins.patrol import services

    def progress(step: str, done: int, last_id: int) -> None:
        # On stderr: stdout stays the one summary line scripts read.
        click.echo(f"… {step} {done} so far (up to #{last_id})", err=True)

    result = services.close_shifts(progress=progress)
    click.echo(f"closed {result['closed']} shifts, announced {result['announced']}")
