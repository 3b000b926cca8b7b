"""爱心食堂 — canteens, menus, bookings, serving by the elder's code, subsidies, settlement."""

from __future__ import annotations

from core import hookimpl
from core.plugins import Card, NavItem, PluginMeta, PluginRole, ReportSection
from plugins.meals.models import Booking, Canteen, Menu


@hookimpl
def describe():
    return PluginMeta(
        name="meals",
        title="爱心食堂",
        title_en="Love canteens",
        description="老年助餐：菜单、订餐、扫码就餐、分龄补贴、月结",
        owners={"canteen_id": Canteen, "menu_id": Menu, "booking_id": Booking},
        roles=(PluginRole("cashier", "食堂收银员", "Canteen cashier"),),
    )


@hookimpl
def blueprints():
    from plugins.meals import cli, pages, views  # noqa: F401  (pages and jobs attach to views.bp)

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for

    from core.access import has_role
    from core.models import Role

    items = [NavItem("爱心食堂", url_for("meals.index_page", org_id=org.id), 30)]
    if has_role(user, org, Role.staff):
        items.append(NavItem("食堂结算", url_for("meals.settlement_page", org_id=org.id), 31))
    return items


@hookimpl
def dashboard_cards(user, org):
    from flask import url_for

    from core.access import has_role
    from core.models import Role
    from plugins.meals import services

    if not has_role(user, org, Role.admin):
        return []
    return [
        Card(
            "餐补基金（元）",
            f"{services.fund_balance(org) / 100:.2f}",
            url_for("meals.fund_page", org_id=org.id),
            org.name,
        )
    ]


@hookimpl
def org_report(org, month):
    from plugins.meals.services import FIGURES, TITLES, totals_of

    total = totals_of(org, month)
    return ReportSection("爱心食堂", [(TITLES[k], total[k]) for k in FIGURES])


@hookimpl
def seed_demo(orgs, users):
    from plugins.meals.services import seed_demo as seed

    seed(orgs, users)
