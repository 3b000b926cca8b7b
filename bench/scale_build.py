"""Build a Kunming-shaped dataset: the district tree, its people, volunteering
with 金豆 awards, rewards and redemptions. The other plugins' tables are in
scale_plugins.py. Shape (per scale factor ``s``; constant per community):

- one district (盘龙区) → 12 街道 → ``1000·s`` communities (at least 2),
  each with 5 居民小组 of 10 楼栋: 1 + 12 + 56·C organizations
  (5,613 at 0.1, 56,013 at 1.0);
- ``1,000,000·s`` residents (1,000 per community, members of a 楼栋), ~10 %
  aged 60+, 8 % of those in hardship; an admin per district and 街道, a staff
  member per community;
- ``10,000·s`` activities over the last ~12.5 months (5 % in the next two
  weeks, 2 % ended a day ago with check-ins still open), 300–480 attendances
  each, 95 % completed with a paid 金豆 award (ledger transfer from the 街道's
  fund), the oldest ~3 % of awards past their 12-month validity;
- 3 rewards per community and redemptions by 1 % of the residents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scale_common import PASSWORD, Accounts, bulk, link_transfers, post

TZ = ZoneInfo("Asia/Shanghai")
SUBDISTRICTS = [
    "拓东街道", "鼓楼街道", "东华街道", "联盟街道", "金辰街道", "青云街道",
    "龙泉街道", "茨坝街道", "双龙街道", "松华街道", "滇源街道", "阿子营街道",
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ["桂兰", "德福", "秀英", "建国", "丽华", "志强", "玉梅", "国庆", "春花", "海燕", "明", "芳"]
TITLES = ["清洁家园", "助老助残", "治安巡逻", "文明劝导", "政策宣传", "矛盾调解"]
GROUPS, BUILDINGS = 5, 10  # per community, per group
EXPIRY_MONTHS = 12


@dataclass
class World:
    """What later phases need to know about the rows already written."""

    scale: float
    now: datetime
    rng: random.Random
    accounts: Accounts = field(default_factory=Accounts)
    district: int = 1
    subdistricts: list[int] = field(default_factory=list)
    communities: list[int] = field(default_factory=list)
    parent: dict[int, int] = field(default_factory=dict)  # community -> 街道
    buildings: dict[int, list[int]] = field(default_factory=dict)  # community -> 楼栋
    groups: dict[int, list[int]] = field(default_factory=dict)  # community -> 居民小组
    level: dict[int, str] = field(default_factory=dict)
    admin_of: dict[int, int] = field(default_factory=dict)  # district/街道 -> admin user
    staff_of: dict[int, int] = field(default_factory=dict)  # community -> staff user
    residents: dict[int, list[int]] = field(default_factory=dict)  # community -> users
    elders: dict[int, list[int]] = field(default_factory=dict)  # community -> users 60+
    home: dict[int, int] = field(default_factory=dict)  # user -> 楼栋
    birth: dict[int, date] = field(default_factory=dict)  # elders only
    hardship: set[int] = field(default_factory=set)
    earned: dict[int, int] = field(default_factory=dict)  # user -> 金豆 awarded
    counts: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        """Explicit ids (a fresh schema; sequences are moved past them at the end)."""
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def young(self, community: int) -> list[int]:
        return [u for u in self.residents[community] if u not in self.birth]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(UTC)


def schema(app) -> None:
    """Drop every table and upgrade to the migration heads."""
    from flask_migrate import upgrade
    from sqlalchemy import MetaData

    from core.extensions import db

    meta = MetaData()
    meta.reflect(bind=db.engine)
    meta.drop_all(bind=db.engine)
    db.session.commit()
    upgrade(revision="heads")


def tree(w: World) -> None:
    from flask import current_app

    from core.models import Organization, OrgPlugin, OrgSetting, utcnow

    n_comm = max(2, round(1000 * w.scale))
    rows, nid = [], 1
    now = utcnow()

    def org(name, level, parent, path):
        nonlocal nid
        oid = nid
        nid += 1
        rows.append(
            dict(id=oid, name=name, level=level, parent_id=parent, path=f"{path}{oid}/",
                 created_at=now)
        )  # fmt: skip
        w.level[oid] = level
        return oid, f"{path}{oid}/"

    w.district, dpath = org("盘龙区", "district", None, "/")
    subs = [org(name, "subdistrict", w.district, dpath) for name in SUBDISTRICTS]
    w.subdistricts = [s for s, _ in subs]
    for c in range(n_comm):
        sub, spath = subs[c % len(subs)]
        cid, cpath = org(f"{SUBDISTRICTS[c % 12][:-2]}第{c // 12 + 1}社区", "community", sub, spath)
        w.communities.append(cid)
        w.parent[cid] = sub
        w.buildings[cid], w.groups[cid] = [], []
        for g in range(GROUPS):
            gid, gpath = org(f"第{g + 1}居民小组", "group", cid, cpath)
            w.groups[cid].append(gid)
            for b in range(BUILDINGS):
                bid, _ = org(f"{g * BUILDINGS + b + 1}栋", "building", gid, gpath)
                w.buildings[cid].append(bid)
    bulk(Organization, rows)
    names = current_app.extensions["jindou_plugins"].names
    bulk(
        OrgPlugin,
        [dict(org_id=w.district, plugin=n, enabled=True, updated_at=now) for n in names],
    )
    bulk(
        OrgSetting,
        [dict(org_id=w.district, plugin="points", name="expiry_months", value=EXPIRY_MONTHS,
              updated_at=now, updated_by_id=None)],
    )  # fmt: skip
    w.counts["organizations"] = len(rows)


def people(w: World) -> None:
    from werkzeug.security import generate_password_hash

    from core.models import Membership, User, utcnow

    pw, now, rng = generate_password_hash(PASSWORD), utcnow(), w.rng
    today = w.now.astimezone(TZ).date()
    users, members = [], []

    def user(phone, name, birth=None, hardship=False):
        uid = len(users) + 1
        users.append(
            dict(id=uid, phone=phone, name=name, password_hash=pw, is_platform_admin=False,
                 active=True, created_at=now, session_version=0, birth_date=birth,
                 hardship=hardship, hardship_reason="低保" if hardship else None)
        )  # fmt: skip
        return uid

    def member(uid, org, role):
        members.append(dict(id=len(members) + 1, user_id=uid, org_id=org, role=role,
                            created_at=now))  # fmt: skip

    for i, org in enumerate([w.district, *w.subdistricts]):
        w.admin_of[org] = user(f"1380000{i:04d}", f"管理员{i}")
        member(w.admin_of[org], org, "admin")
    for i, cid in enumerate(w.communities):
        w.staff_of[cid] = user(f"137{i:08d}", f"社工{SURNAMES[i % len(SURNAMES)]}{i}")
        member(w.staff_of[cid], cid, "staff")
        w.residents[cid], w.elders[cid] = [], []
    n = round(1_000_000 * w.scale)
    for i in range(n):
        cid = w.communities[i % len(w.communities)]
        elder = rng.random() < 0.10
        age = rng.randint(60, 95) if elder else rng.randint(18, 59)
        birth = today - timedelta(days=365 * age + rng.randint(0, 364))
        hardship = elder and rng.random() < 0.08
        name = f"{SURNAMES[i % len(SURNAMES)]}{GIVEN[(i // 7) % len(GIVEN)]}"
        uid = user(f"139{i:08d}", name, birth, hardship)
        bid = w.buildings[cid][rng.randrange(len(w.buildings[cid]))]
        member(uid, bid, "resident")
        w.residents[cid].append(uid)
        w.home[uid] = bid
        if elder:
            w.elders[cid].append(uid)
            w.birth[uid] = birth
            if hardship:
                w.hardship.add(uid)
    bulk(User, users)
    bulk(Membership, members)
    w.counts.update(users=len(users), residents=n, elders=len(w.birth))


def points_accounts(w: World) -> None:
    a = w.accounts
    a.make("points", "org", w.subdistricts, currency="bean", kind="donations", allow_negative=True)
    a.make("points", "org", w.subdistricts, currency="bean", kind="fund")
    a.make("points", "org", w.communities, currency="bean", kind="redeemed")
    a.make("points", "user", list(w.home), currency="bean", kind="wallet")


def acc(w: World, namespace, owner_type, owner_id, currency, kind) -> int:
    return w.accounts.ids[(namespace, owner_type, owner_id, currency, kind)]


def fund_points(w: World, need: dict[int, int], at: datetime, tag: str) -> None:
    """Deposits into the 街道 funds covering ``need`` (+10 %), as points.deposit does."""
    from core import ledger
    from core.extensions import db
    from plugins.points.models import Deposit

    legs, rows = [], []
    for sub, amount in sorted(need.items()):
        amount = amount + amount // 10 + 1000
        key = f"points:deposit:{w.admin_of[sub]}:scale-{tag}-{sub}"
        legs.append(
            ledger.Leg(acc(w, "points", "org", sub, "bean", "donations"),
                       acc(w, "points", "org", sub, "bean", "fund"), amount,
                       "捐赠：爱心企业", key=key, cause=("org", sub))
        )  # fmt: skip
        rows.append((sub, amount, key))
    post(legs, at)
    ids = dict(
        db.session.execute(
            ledger.Transfer.__table__.select()
            .with_only_columns(ledger.Transfer.idempotency_key, ledger.Transfer.id)
            .where(ledger.Transfer.idempotency_key.in_([k for _s, _a, k in rows]))
        ).all()
    )
    bulk(
        Deposit,
        [dict(org_id=sub, amount=amount, donor="爱心企业", note="scale", transfer_id=ids[key],
              actor_id=w.admin_of[sub], created_at=at) for sub, amount, key in rows],
    )  # fmt: skip


def volunteering(w: World) -> None:
    """Activities, sign-ups, attendances; awards for the completed ones.

    Written a block of activities at a time (memory stays flat at scale 1.0);
    the 街道 funds are filled first with an upper bound of what will be paid."""
    n_act = max(20, round(10_000 * w.scale))
    per_sub: dict[int, int] = {}
    for a in range(n_act):
        sub = w.parent[w.communities[a % len(w.communities)]]
        per_sub[sub] = per_sub.get(sub, 0) + 480 * 60  # most people x most 金豆
    fund_points(w, per_sub, w.now - timedelta(days=400), "volunteering")
    for start in range(0, n_act, 200):
        block = Block()
        for a in range(start, min(n_act, start + 200)):
            activity(w, a, block)
        block.write(w)
    w.counts["activities"] = n_act


@dataclass
class Block:
    acts: list = field(default_factory=list)
    signups: list = field(default_factory=list)
    atts: list = field(default_factory=list)
    awards: list = field(default_factory=list)
    legs: dict = field(default_factory=dict)  # week -> legs

    def write(self, w: World) -> None:
        from plugins.points.models import Award
        from plugins.volunteering.models import Activity, Attendance, Signup

        bulk(Activity, self.acts)
        bulk(Signup, self.signups)
        bulk(Attendance, self.atts)
        posted = 0
        for week in sorted(self.legs, reverse=True):  # oldest first
            posted += post(self.legs[week], w.now - timedelta(days=7 * week))
        bulk(Award, self.awards)
        if self.awards:
            link_transfers("points_award", "r.source_key", since_id=self.awards[0]["id"])
        for name, n in (("signups", len(self.signups)), ("attendances", len(self.atts)),
                        ("awards", len(self.awards)), ("award_transfers", posted)):  # fmt: skip
            w.counts[name] = w.counts.get(name, 0) + n


def activity(w: World, a: int, b: Block) -> None:
    from core import ledger
    from plugins.points.services.awards import add_months

    rng, now = w.rng, w.now
    aid = a + 1
    cid = w.communities[a % len(w.communities)]
    if a % 20 == 0:  # upcoming: sign-ups only
        kind, day = "future", (now + timedelta(days=rng.randint(1, 14))).astimezone(TZ).date()
    elif a % 50 == 1:  # ended hours ago, check-ins still open (close-attendance)
        kind, day = "open", (now - timedelta(hours=rng.randint(20, 30))).astimezone(TZ).date()
    else:
        kind, day = "past", (now - timedelta(days=rng.randint(2, 380))).astimezone(TZ).date()
    starts = local(day, rng.choice((9, 14)))
    ends = starts + timedelta(hours=rng.choice((2, 3)))
    if kind == "open" and ends > now - timedelta(hours=3):
        starts, ends = starts - timedelta(days=1), ends - timedelta(days=1)
    points, pph = rng.choice((10, 20, 30)), rng.choice((5, 10))
    category = TITLES[a % len(TITLES)]
    title = f"{category}志愿活动"
    b.acts.append(
        dict(id=aid, org_id=cid, title=title, category=category, location="社区服务站",
             description="", starts_at=starts, ends_at=ends, signup_deadline=None, capacity=500,
             points=points, points_per_hour=pph, created_by_id=w.staff_of[cid],
             created_at=starts - timedelta(days=7), cancelled_at=None, cancel_reason="")
    )  # fmt: skip
    pool = w.residents[cid]
    k = min(len(pool) - 20, rng.randint(300, 480) if kind != "future" else rng.randint(50, 200))
    chosen = rng.sample(pool, k + max(1, k // 30))
    for i, uid in enumerate(chosen):
        at = starts - timedelta(days=3)
        b.signups.append(
            dict(id=w.next_id("signup"), activity_id=aid, user_id=uid,
                 status="confirmed" if i < k else "cancelled", queued_at=at, created_at=at)
        )  # fmt: skip
    if kind == "future":
        return
    minutes = int((ends - starts).total_seconds() // 60)
    earned = points + pph * minutes // 60
    sub = w.parent[cid]
    fund = acc(w, "points", "org", sub, "bean", "fund")
    for uid in chosen[:k]:
        att_id = w.next_id("attendance")
        checked_in = starts - timedelta(minutes=rng.randint(0, 20))
        row = dict(id=att_id, activity_id=aid, user_id=uid, status="open",
                   checked_in_at=checked_in, checked_out_at=None, minutes=0, verified=True,
                   points_earned=0, points_awarded=None, checkin_by_id=None,
                   checkout_by_id=None, recorded_by_id=None, reason="",
                   updated_at=checked_in)  # fmt: skip
        b.atts.append(row)
        if kind == "open":
            continue
        if rng.random() < 0.05:
            row.update(status="incomplete", updated_at=ends + timedelta(hours=2))
            continue
        out = ends + timedelta(minutes=rng.randint(0, 15))
        row.update(status="completed", checked_out_at=out, minutes=minutes,
                   points_earned=earned, points_awarded=earned, updated_at=out)  # fmt: skip
        key = f"points:service:volunteering.attendance.{att_id}"
        reason = f"志愿服务：{title}（{minutes}分钟）"
        b.awards.append(
            dict(id=w.next_id("award"), org_id=cid, fund_org_id=sub, user_id=uid,
                 amount=earned, reason=reason, kind="service", status="paid", source_key=key,
                 transfer_id=None, activity_id=aid, actor_id=None, created_at=out,
                 expires_at=add_months(out, EXPIRY_MONTHS), reversed_at=None)
        )  # fmt: skip
        b.legs.setdefault((now - out).days // 7, []).append(
            ledger.Leg(fund, acc(w, "points", "user", uid, "bean", "wallet"), earned, reason,
                       key=key, cause=("activity", aid))
        )  # fmt: skip
        w.earned[uid] = w.earned.get(uid, 0) + earned


def rewards(w: World) -> None:
    """3 rewards per community; 1 % of residents redeem (holds, then decided)."""
    from core import ledger
    from core.extensions import db
    from plugins.points.models import Redemption, Reward

    rng, now = w.rng, w.now
    rows, reward_of = [], {}
    for cid in w.communities:
        for name, cost, limit in (("洗衣液一瓶", 50, None), ("理发券", 80, None),
                                  ("大米5公斤", 200, 1)):  # fmt: skip
            rid = len(rows) + 1
            rows.append(dict(id=rid, org_id=cid, name=name, description="社区服务站领取",
                             cost=cost, stock=1000, per_person_limit=limit, starts_at=None,
                             ends_at=None, active=True, created_by=w.staff_of[cid],
                             created_at=now - timedelta(days=400)))  # fmt: skip
            reward_of.setdefault(cid, []).append((rid, cost, name))
    bulk(Reward, rows)
    community_of = {u: c for c, us in w.residents.items() for u in us}
    rich = [u for u, e in w.earned.items() if e >= 200]
    takers = rng.sample(rich, min(len(rich), round(len(w.home) * 0.01)))
    redemptions, statuses = [], ("pending", "approved", "fulfilled", "fulfilled", "rejected")
    for n, uid in enumerate(takers):
        cid = community_of[uid]
        rid, cost, name = rng.choice(reward_of[cid])
        status = statuses[n % len(statuses)]
        at = now - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 12))
        key = f"points:redeem:{uid}:scale-{n}"

        def work(uid=uid, cid=cid, cost=cost, name=name, rid=rid, key=key, status=status):
            held = ledger.transfer(
                acc(w, "points", "user", uid, "bean", "wallet"),
                acc(w, "points", "org", cid, "bean", "redeemed"),
                cost, reason=f"兑换：{name} ×1", cause=("points_reward", rid), key=key,
                actor_id=uid, pending=True,
            )  # fmt: skip
            if status in ("approved", "fulfilled"):
                ledger.post_pending(held.id, actor_id=w.staff_of[cid])
            elif status == "rejected":
                ledger.void_pending(held.id, actor_id=w.staff_of[cid])
            return held.id

        from scale_common import ledger_clock

        with ledger_clock(at):
            transfer_id = ledger.atomic(work)
        staff = w.staff_of[cid]
        decided = at + timedelta(hours=2) if status != "pending" else None
        redemptions.append(
            dict(id=n + 1, reward_id=rid, org_id=cid, user_id=uid, quantity=1, total=cost,
                 status=status, code=f"S{n:07d}", request_key=key, transfer_id=transfer_id,
                 created_at=at, decided_at=decided, decided_by=staff if decided else None,
                 reject_reason="库存调整" if status == "rejected" else "",
                 fulfilled_at=decided if status == "fulfilled" else None,
                 fulfilled_by=staff if status == "fulfilled" else None)
        )  # fmt: skip
    bulk(Redemption, redemptions)
    db.session.commit()
    w.counts["redemptions"] = len(redemptions)
