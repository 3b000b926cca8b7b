"""金豆 — wallets, awards, fund, reward catalog, redemption."""

from __future__ import annotations

from core import hookimpl
from core.plugins import Card, NavItem, PluginMeta, ReportSection, SettingSpec
from plugins.points.models import Award, Redemption, Reward


@hookimpl
def describe():
    return PluginMeta(
        name="points",
        title="金豆",
        title_en="Points",
        description="金豆账户、奖励、基金、兑换",
        owners={
            "reward_id": Reward,
            "redemption_id": Redemption,
            "award_id": Award,
            "code": Redemption.code,
        },
        settings=(
            SettingSpec(
                "expiry_months",
                int,
                None,
                "金豆有效期（月，空为不过期）",
                "Months beans stay valid (empty: forever)",
                minimum=1,
                maximum=120,
                nullable=True,
            ),
        ),
    )


@hookimpl
def blueprints():
    from plugins.points import cli, pages, views  # noqa: F401  (pages and jobs attach to views.bp)

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for
    from flask_babel import gettext as _

    from core.access import has_role
    from core.models import Role

    items = [
        NavItem(_("我的金豆"), url_for("points.wallet_page"), 20),
        NavItem(_("兑换商品"), url_for("points.rewards_page", org_id=org.id), 21),
        NavItem(_("光荣榜"), url_for("points.leaderboard_page", org_id=org.id), 23),
    ]
    if has_role(user, org, Role.staff):
        items += [
            NavItem(_("金豆管理"), url_for("points.manage_page", org_id=org.id), 24),
            NavItem(_("兑换审核"), url_for("points.queue_page", org_id=org.id), 25),
        ]
    return items


@hookimpl
def dashboard_cards(user, org):
    from flask import url_for
    from flask_babel import gettext as _

    from core.access import has_role
    from core.models import Role
    from plugins.points import services

    summary = services.wallet_summary(user)
    cards = [
        Card(
            _("我的金豆"),
            str(summary["balance"]),
            url_for("points.wallet_page"),
            _("另有 %(n)s 暂扣（等待审核）", n=summary["held"]) if summary["held"] else "",
        )
    ]
    if has_role(user, org, Role.staff):
        cards.append(
            Card(
                _("待审核兑换"),
                str(services.pending_count(org)),
                url_for("points.queue_page", org_id=org.id),
            )
        )
        payer = services.funding_org(org)
        cards.append(
            Card(
                _("金豆基金"),
                str(services.fund_balance(payer)) if payer else _("未设立"),
                url_for("points.manage_page", org_id=org.id),
                payer.name if payer else "",
            )
        )
    return cards


@hookimpl
def service_recorded(org, user, activity_id, title, minutes, points, key):
    from plugins.points.services import award_for_service

    return award_for_service(
        org, user, activity_id=activity_id, title=title, minutes=minutes, points=points, key=key
    )


@hookimpl
def org_report(org, month):
    from core.times import format_local
    from plugins.points.services import REPORT_TITLES, report

    figures = report(org, month)
    titles = dict(REPORT_TITLES)
    if figures["outstanding_as_of"] is not None:  # a snapshot: the label says when it was taken
        titles["outstanding"] = (
            f"成员持有（未使用，截至{format_local(figures['outstanding_as_of'])}）"
        )
    return ReportSection("金豆", [(titles[k], figures[k]) for k in titles])


@hookimpl
def seed_demo(orgs, users):
    from plugins.points.services import seed_demo as seed

    seed(orgs, users)
