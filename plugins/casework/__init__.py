"""群众诉求 (五级联动): residents' requests handled at the lowest level that can,
climbing the five levels on a timer, rated by the residents."""

from __future__ import annotations

from core import hookimpl
from core.plugins import Card, NavItem, PluginMeta, ReportSection, SettingSpec
from plugins.casework.models import Case

LIMITS = (
    ("building", 24, "楼栋"),
    ("group", 24, "小组"),
    ("community", 48, "社区"),
    ("subdistrict", 72, "街道"),
    ("district", 120, "区"),
)


@hookimpl
def describe():
    return PluginMeta(
        name="casework",
        title="群众诉求",
        title_en="Residents' requests",
        version="0.1.0",
        description="五级联动：居民诉求就近办理，超时逐级上报，居民评价",
        owners={"case_id": Case},  # the origin organization: where the case was raised
        settings=tuple(
            SettingSpec(
                f"hours_{level}",
                int,
                hours,
                f"{title}级办理时限（小时）",
                f"Time limit at the {level} level (hours)",
                minimum=1,
                maximum=24 * 90,
            )
            for level, hours, title in LIMITS
        ),
    )


@hookimpl
def blueprints():
    from plugins.casework import cli, pages, views  # noqa: F401  (pages and jobs attach to views.bp)

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for

    from core.access import has_role
    from core.models import Role
    from plugins.casework import services

    items = [
        NavItem("我的诉求", url_for("casework.my_page"), 60),
        NavItem("提诉求", url_for("casework.new_page", org_id=org.id), 61),
    ]
    if has_role(user, org, Role.staff):
        waiting = services.waiting_count(org)
        label = f"诉求办理（{waiting}）" if waiting else "诉求办理"
        items.append(NavItem(label, url_for("casework.queue_page", org_id=org.id), 62))
    return items


@hookimpl
def dashboard_cards(user, org):
    from flask import url_for

    from core.access import has_role
    from core.models import Role
    from plugins.casework import services

    if not has_role(user, org, Role.staff):
        return []
    return [
        Card(
            "待受理诉求",
            str(services.waiting_count(org)),
            url_for("casework.queue_page", org_id=org.id),
            note=org.name,
        )
    ]


@hookimpl
def org_report(org, month):
    from core.times import month_bounds
    from plugins.casework import services

    return ReportSection("群众诉求", services.report_rows(org, *month_bounds(month)))


@hookimpl
def seed_demo(orgs, users):
    from plugins.casework.services.demo import seed

    seed(orgs, users)
