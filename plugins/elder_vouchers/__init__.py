"""居家养老服务券 — programmes, monthly issuance, verified home visits, claims."""

from __future__ import annotations

from core import hookimpl
from core.plugins import Card, NavItem, PluginMeta, PluginRole
from plugins.elder_vouchers.models import Claim, Programme, Provider, Visit


@hookimpl
def describe():
    return PluginMeta(
        name="elder_vouchers",
        title="居家养老服务券",
        title_en="Home-care vouchers",
        description="服务券项目、按月发放、上门服务核销、逐级结算",
        owners={
            "programme_id": Programme,
            "provider_id": Provider,
            "visit_id": Visit,
            "claim_id": Claim,
        },
        roles=(PluginRole("worker", "服务人员", "Provider's worker"),),
    )


@hookimpl
def blueprints():
    from plugins.elder_vouchers import cli, pages, views  # noqa: F401  (pages and jobs attach to views.bp)

    return [views.bp]


@hookimpl
def nav_items(user, org):
    from flask import url_for

    from core.access import has_role
    from core.models import Role
    from plugins.elder_vouchers.services import providers_of_worker

    items = [NavItem("我的服务券", url_for("elder_vouchers.my_page"), 30)]
    if providers_of_worker(user):
        items.append(NavItem("上门服务", url_for("elder_vouchers.worker_page"), 31))
    if has_role(user, org, Role.staff):
        items.append(
            NavItem("服务券管理", url_for("elder_vouchers.manage_page", org_id=org.id), 32)
        )
    return items


@hookimpl
def dashboard_cards(user, org):
    from flask import url_for

    from plugins.elder_vouchers.services import wallet_items

    items = wallet_items(user)
    if not items:
        return []
    return [
        Card(
            "服务券余额",
            f"¥{sum(i['balance'] for i in items) / 100:.2f}",
            url_for("elder_vouchers.my_page"),
        )
    ]


@hookimpl
def seed_demo(orgs, users):
    from plugins.elder_vouchers.services.demo import seed_demo as seed

    seed(orgs, users)
