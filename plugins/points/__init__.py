"""金豆 — wallets, awards, fund, reward catalog, redemption."""

from core import hookimpl
from core.plugins import PluginMeta


@hookimpl
def describe():
    return PluginMeta(name="points", title="金豆", title_en="Points",
                      description="金豆账户、奖励、基金、兑换")
