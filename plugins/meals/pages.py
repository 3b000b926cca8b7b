"""爱心食堂 pages (stub)."""
from flask_login import login_required

from plugins.meals.views import bp


@bp.get("/meals/orgs/<int:org_id>/")
@login_required
def index_page(org_id):
    return ""


@bp.get("/meals/orgs/<int:org_id>/settlement")
@login_required
def settlement_page(org_id):
    return ""


@bp.get("/meals/orgs/<int:org_id>/fund")
@login_required
def fund_page(org_id):
    return ""
