"""Demo data for ``jindou demo``: 盘龙区 with its tree, people and every plugin on."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from core.auth.services import register_user
from core.extensions import db
from core.models import Membership, Organization, OrgPlugin, User
from core.people.services import add_relative, issue_card, register_resident
from core.times import local_today

DEMO_PASSWORD = "jindou2026"

TREE = {
    "district": ("盘龙区", "district", None),
    "subdistrict1": ("联盟街道", "subdistrict", "district"),
    "subdistrict2": ("拓东街道", "subdistrict", "district"),
    "community1": ("金星社区", "community", "subdistrict1"),
    "community2": ("白龙社区", "community", "subdistrict1"),
    "community3": ("东华社区", "community", "subdistrict2"),
    "community4": ("青云社区", "community", "subdistrict2"),
    "group1": ("金星第一居民小组", "group", "community1"),
    "group2": ("东华第一居民小组", "group", "community3"),
    "building1": ("金星小区1栋", "building", "group1"),
    "building2": ("金星小区2栋", "building", "group1"),
    "building3": ("东华小区5栋", "building", "group2"),
}

PEOPLE = [
    # key, phone, name, org key, role, description
    ("admin", "13800000001", "区管理员 李明", "district", "admin", "district admin 区管理员"),
    ("staff", "13800000002", "社工 王芳", "community1", "staff", "community staff 社区工作人员"),
    ("staff2", "13800000003", "社工 赵强", "community3", "staff", "community staff 社区工作人员"),
    ("volunteer1", "13900000001", "志愿者 张秀英", "building1", "resident", "volunteer 志愿者"),
    ("volunteer2", "13900000002", "志愿者 刘建国", "building2", "resident", "volunteer 志愿者"),
    ("volunteer3", "13900000003", "志愿者 陈丽", "building3", "resident", "volunteer 志愿者"),
]


def seed() -> list[tuple[str, str, str]]:
    """Seed once; later runs find the district and only print the logins."""
    logins = [(desc, phone, name) for _k, phone, name, _o, _r, desc in PEOPLE]
    if db.session.scalar(select(Organization.id).where(Organization.name == TREE["district"][0])):
        return logins
    orgs: dict[str, Organization] = {}
    for key, (name, level, parent_key) in TREE.items():
        parent = orgs.get(parent_key) if parent_key else None
        org = Organization(name=name, level=level, parent_id=parent.id if parent else None)
        db.session.add(org)
        db.session.flush()
        org.path = f"{parent.path if parent else '/'}{org.id}/"
        orgs[key] = org
    users: dict[str, User] = {}
    for key, phone, name, org_key, role, _desc in PEOPLE:
        user = register_user(phone, name, DEMO_PASSWORD)
        db.session.add(Membership(user_id=user.id, org_id=orgs[org_key].id, role=role))
        users[key] = user
    _seed_elders(orgs, users)
    manager = current_app.extensions["jindou_plugins"]
    for name in manager.names:
        db.session.add(OrgPlugin(org_id=orgs["district"].id, plugin=name, enabled=True))
    db.session.flush()
    manager.hook.seed_demo(orgs=orgs, users=users)
    db.session.commit()
    return logins


# Elders without phones, registered at the desk, each with a printed card; a
# volunteer is the first one's relative (家属) and sees her under 我的家人.
ELDERS = [
    # name, age, hardship reason (None: not in hardship), relative key
    ("王桂兰", 85, None, "volunteer1"),
    ("李德福", 68, "低保", None),
]


def _seed_elders(orgs: dict[str, Organization], users: dict[str, User]) -> None:
    staff, today = users["staff"], local_today()
    for name, age, reason, relative in ELDERS:
        born = today.replace(year=today.year - age, month=1, day=1)  # age exactly, any day
        person, _created = register_resident(
            staff, orgs["building1"], name=name, birth_date=born, hardship_reason=reason
        )
        issue_card(staff, person)
        if relative:
            add_relative(staff, person, users[relative].phone or "")
