"""志愿服务 — activities, sign-up, QR check-in/out, service hours."""

from core import hookimpl
from core.plugins import PluginMeta


@hookimpl
def describe():
    return PluginMeta(name="volunteering", title="志愿服务", title_en="Volunteering",
                      description="活动、报名、扫码签到签退、服务时长")
