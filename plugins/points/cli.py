"""``jindou points ...``: jobs a scheduler (cron, systemd timer) runs."""

from __future__ import annotations

import click

from plugins.points.views import bp


@bp.cli.command("expire")
def expire_command():
    """Expire beans past their organization's validity (idempotent; run daily)."""
    from core.extensions import db
    from plugins.points.services import (
        expire_all,
        rebuild_month_earned,
        recent_months,
        refresh_outstanding,
    )

    def progress(step):
        click.echo(
            f"  {step.wallets} wallets up to user {step.last_user_id}: "
            f"{step.beans} beans of {step.people} people"
        )

    people, beans = expire_all(progress=progress)
    db.session.commit()
    click.echo(f"expired {beans} beans of {people} people")
    # The districts' and sub-districts' 成员持有 snapshot, after expiry changed it.
    refreshed = refresh_outstanding(
        lambda org, amount: click.echo(f"  outstanding of {org.name}: {amount}")
    )
    click.echo(f"outstanding refreshed for {refreshed} organizations")
    # The month rows behind the 光荣榜, recounted from the awards (the writes keep
    # them current; this repairs anything written around them, e.g. bulk loads).
    for month in recent_months():
        rows = rebuild_month_earned(month)
        db.session.commit()
        click.echo(f"earned of {month:%Y-%m} rebuilt: {rows} people")
