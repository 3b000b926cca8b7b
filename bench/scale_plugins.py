"""The other plugins' rows of the scale dataset (see scale_build.py for the tree):

- meals: the Kunming subsidy tiers at the district, a funded district meals
  fund, a canteen per community with a lunch menu for each of the last 90
  days and the next 7; 20–35 elders book each past lunch (88 % served), 3
  walk-ins; each subsidised serving is a ledger transfer fund → canteen;
- elder_vouchers: a district programme (60+, 100 元 a month, month_end) with
  every elder enrolled, 12 months issued by the service's own set-based
  ``issue``, each but the last returned to the budget at its month's end (as
  the daily expiry job would have; last month's lapse is left for the job); a provider per 街道 with 5 workers; ``20,000·s`` visits over the
  last 75 days (a hold, then posted; 5 % cancelled), claims per provider and
  month (older approved at both levels, last month's submitted);
- patrol: 2 routes of 5 checkpoints per community, a shift every 3 days per
  route over 90 days (85 % completed with every checkpoint scanned and 金豆
  for the team, 15 % incomplete), some shifts past their end still open
  (close-shifts), one upcoming per route, incidents on 3 %;
- casework: ``100,000·s`` cases over a year raised at 楼栋, 小组 and
  communities: ~85 % closed (rated), the rest resolved, accepted or open,
  many of the live ones overdue (escalate).

Last, the summaries points' daily job keeps (what each person earned per
month, the 成员持有 snapshot of districts and sub-districts), rebuilt by the
plugin's own functions since the awards above were bulk-loaded.
"""

from __future__ import annotations

from datetime import date, timedelta

from scale_build import TZ, World, acc, fund_points, local
from scale_common import bulk, ledger_clock, link_transfers, post

KUNMING_TIERS = [
    {"min_age": 60, "subsidy": 100},
    {"min_age": 70, "subsidy": 200},
    {"min_age": 80, "subsidy": 300},
    {"min_age": 90, "subsidy": 500},
]
HARDSHIP_EXTRA, PRICE = 300, 1200


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def meals(w: World) -> None:
    from core import ledger
    from core.extensions import db
    from plugins.meals.models import Booking, Canteen, Deposit, Menu, Serving, SubsidyPolicy
    from plugins.meals.schemas import MAX_DEPOSIT

    rng, now = w.rng, w.now
    today = now.astimezone(TZ).date()
    d = w.district
    bulk(SubsidyPolicy, [dict(org_id=d, tiers=KUNMING_TIERS, hardship_extra=HARDSHIP_EXTRA,
                              updated_by_id=w.admin_of[d], updated_at=now)])  # fmt: skip
    a = w.accounts
    grants = a.make("meals", "org", [d], currency="fen", kind="grants", allow_negative=True)[d]
    fund = a.make("meals", "org", [d], currency="fen", kind="fund")[d]
    canteens = {cid: i + 1 for i, cid in enumerate(w.communities)}
    tills = a.make("meals", "canteen", list(canteens.values()), currency="fen", kind="subsidy")
    # An upper bound of what is served, in deposits no larger than the API takes.
    total = len(canteens) * 90 * 40 * PRICE
    parts = [min(MAX_DEPOSIT, total - start) for start in range(0, total, MAX_DEPOSIT)]
    keys = [f"meals:deposit:{d}:scale-{i}" for i in range(len(parts))]
    post([ledger.Leg(grants, fund, amount, "餐补基金入账：区财政", key=key, cause=("org", d))
          for amount, key in zip(parts, keys, strict=True)], now - timedelta(days=100))  # fmt: skip
    tids = dict(
        db.session.execute(
            db.select(ledger.Transfer.idempotency_key, ledger.Transfer.id).where(
                ledger.Transfer.idempotency_key.in_(keys)
            )
        ).all()
    )
    bulk(Deposit, [dict(org_id=d, amount=amount, note="区财政", transfer_id=tids[key],
                        actor_id=w.admin_of[d], created_at=now - timedelta(days=100))
                   for amount, key in zip(parts, keys, strict=True)])  # fmt: skip
    bulk(Canteen, [dict(id=i, org_id=cid, name=f"社区爱心食堂{i}", address="社区服务中心一楼",
                        created_at=now - timedelta(days=120)) for cid, i in canteens.items()])  # fmt: skip
    days = [today + timedelta(days=k) for k in range(-90, 7)]
    comms = list(canteens)
    for start in range(0, len(comms), 50):
        menus, bookings, servings, legs = [], [], [], {}
        for cid in comms[start : start + 50]:
            canteen, elders, staff = canteens[cid], w.elders[cid], w.staff_of[cid]
            for day in days:
                mid = w.next_id("menu")
                menu = dict(id=mid, org_id=cid, canteen_id=canteen, day=day, slot="lunch",
                            dishes=["红烧肉", "炒青菜", "番茄蛋汤"], price=PRICE, capacity=80,
                            booked=0, walk_ins=0, book_by=local(day, 11),
                            created_at=local(day, 8) - timedelta(days=7))  # fmt: skip
                menus.append(menu)
                people = rng.sample(elders, min(len(elders), rng.randint(23, 38)))
                k = len(people) - 3
                for i, uid in enumerate(people):
                    walk_in = i >= k
                    status = "booked"
                    if day < today:
                        roll = rng.random()
                        status = (
                            "served" if roll < 0.88 else "booked" if roll < 0.95 else "cancelled"
                        )
                    bid = None
                    if not walk_in:
                        bid = w.next_id("booking")
                        bookings.append(dict(id=bid, org_id=cid, menu_id=mid, user_id=uid,
                                             status=status, booked_by_id=None,
                                             created_at=local(day, 8) - timedelta(days=2)))  # fmt: skip
                        menu["booked"] += status != "cancelled"
                    elif day < today:
                        menu["walk_ins"] += 1
                        status = "served"
                    if status != "served":
                        continue
                    age = age_on(w.birth[uid], day)
                    tier = max((t for t in KUNMING_TIERS if t["min_age"] <= age),
                               key=lambda t: t["min_age"], default=None)  # fmt: skip
                    subsidy = 0
                    if tier:
                        subsidy = tier["subsidy"] + (HARDSHIP_EXTRA if uid in w.hardship else 0)
                        subsidy = min(subsidy, PRICE)
                    sid, at = w.next_id("serving"), local(day, 11, 30)
                    servings.append(
                        dict(id=sid, org_id=cid, canteen_id=canteen, menu_id=mid, user_id=uid,
                             booking_id=bid, day=day, slot="lunch", price=PRICE, subsidy=subsidy,
                             to_pay=PRICE - subsidy, funded=True,
                             tier_min_age=tier["min_age"] if tier else None,
                             fund_org_id=d if subsidy else None, transfer_id=None,
                             served_by_id=staff, created_at=at)
                    )  # fmt: skip
                    if subsidy:
                        legs.setdefault((today - day).days // 7, []).append(
                            ledger.Leg(fund, tills[canteen], subsidy, "餐补",
                                       key=f"meals:serving:{sid}", cause=("meals_serving", sid))
                        )  # fmt: skip
        bulk(Menu, menus)
        bulk(Booking, bookings)
        bulk(Serving, servings)
        for week in sorted(legs, reverse=True):
            post(legs[week], now - timedelta(days=7 * week))
        link_transfers("meals_serving", "'meals:serving:' || r.id", since_id=servings[0]["id"])
        for name, n in (("menus", len(menus)), ("bookings", len(bookings)),
                        ("servings", len(servings))):  # fmt: skip
            w.counts[name] = w.counts.get(name, 0) + n


def vouchers(w: World) -> None:
    from scale_common import reset_sequences

    from core import ledger
    from core.extensions import db
    from core.models import Organization, User
    from plugins.elder_vouchers import services
    from plugins.elder_vouchers.models import Approval, Claim, Enrolment, Service, Visit
    from plugins.elder_vouchers.schemas import MAX_FEN

    reset_sequences()  # the services below insert through the sequences
    rng, now = w.rng, w.now
    admin = db.session.get(User, w.admin_of[w.district])
    district = db.session.get(Organization, w.district)
    programme = services.create_programme(
        admin, district, name="居家养老服务券", monthly_amount=10_000, min_age=60
    )
    elders = sorted(w.birth)
    total = 10_000 * 13 * len(elders)  # in deposits no larger than the API takes
    for i, start in enumerate(range(0, total, MAX_FEN)):
        services.deposit(admin, programme, amount=min(MAX_FEN, total - start), key=f"scale-{i}")
    bulk(Enrolment, [dict(programme_id=programme.id, user_id=u, active=True,
                          created_by_id=admin.id, created_at=now - timedelta(days=400))
                     for u in elders])  # fmt: skip
    db.session.commit()
    today = now.astimezone(TZ).date()
    first = date(today.year, today.month, 1)
    months = []
    for back in range(12, 0, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
        months.append(date(y, m + 1, 1))
    budget = services.programme_account(programme.id, "budget").id
    A = ledger.Account
    for month in months:
        with ledger_clock(local(month, 8)):
            services.issue(None, programme, month)
        if month != months[-1]:  # the daily expiry job ran at that month's end
            lapse = services.expires_at(programme, month)
            wallets = dict(db.session.execute(
                db.select(A.owner_id, A.id).where(A.namespace == f"vouchers:{programme.id}",
                                                  A.kind == "wallet")).all())  # fmt: skip
            post([ledger.Leg(wallets[u], budget, 10_000,
                             f"{programme.name} 服务券过期",
                             cause=("elder_vouchers_programme", programme.id))
                  for u in elders], lapse)  # fmt: skip
    w.counts["voucher_issuances"] = len(elders) * len(months)
    # providers and workers, through the services (a few dozen rows)
    providers, workers = {}, {}
    comms_of: dict[int, list[int]] = {}
    for cid in w.communities:
        comms_of.setdefault(w.parent[cid], []).append(cid)
    for sub in comms_of:  # a 街道 with communities (at 0.01 some have none)
        p = services.create_provider(
            admin, db.session.get(Organization, sub), name=f"康乐家政{sub}",
            services=[{"name": "助浴", "price": 5000}, {"name": "助洁", "price": 3000},
                      {"name": "送餐", "price": 1500}],
        )  # fmt: skip
        providers[sub] = p
    db.session.commit()
    for sub, p in providers.items():
        workers[sub] = w.young(comms_of[sub][0])[:5]
        for uid in workers[sub]:  # the service also gives them the worker role
            services.add_worker(admin, p, db.session.get(User, uid).phone)
    db.session.commit()
    svc = {
        sub: [(s.id, s.price) for s in db.session.scalars(
            db.select(Service).where(Service.provider_id == p.id).order_by(Service.id))]
        for sub, p in providers.items()
    }  # fmt: skip
    n_visits = max(50, round(20_000 * w.scale))
    plans, spent = [], {}  # each elder's visits fit in the month of vouchers left in the wallet
    for v in range(n_visits):
        sub = list(comms_of)[v % len(comms_of)]
        cid = rng.choice(comms_of[sub])
        if not w.elders[cid]:
            continue
        person = rng.choice(w.elders[cid])
        service_id, price = rng.choice(svc[sub])
        if spent.get(person, 0) + price > 10_000:
            continue
        spent[person] = spent.get(person, 0) + price
        started = now - timedelta(days=rng.randint(1, 75), hours=rng.randint(0, 8))
        plans.append((v + 1, sub, cid, person, service_id, price, started,
                      "cancelled" if rng.random() < 0.05 else "finished"))  # fmt: skip
    visits = []
    for start in range(0, len(plans), 200):
        part = plans[start : start + 200]

        def work(part=part):
            done = []
            for vid, sub, _cid, person, _sid, price, started, status in part:
                p = providers[sub]
                worker = workers[sub][vid % 5]
                with ledger_clock(started):
                    hold = ledger.transfer(
                        services.wallet(programme.id, person).id,
                        services.provider_account(programme.id, p.id).id,
                        price, reason=f"{p.name}：服务", cause=("elder_vouchers_visit", vid),
                        key=f"ev:visit:{vid}:hold", actor_id=worker, pending=True,
                    )  # fmt: skip
                with ledger_clock(started + timedelta(minutes=50)):
                    settle = ledger.post_pending if status == "finished" else ledger.void_pending
                    spent = settle(hold.id, actor_id=worker)
                done.append((hold.id, spent.id if status == "finished" else None))
            return done

        for plan, (hold_id, spend_id) in zip(part, ledger.atomic(work), strict=True):
            vid, sub, cid, person, service_id, price, started, status = plan
            visits.append(
                dict(id=vid, org_id=sub, provider_id=providers[sub].id,
                     programme_id=programme.id, service_id=service_id,
                     worker_id=workers[sub][vid % 5], person_id=person,
                     place_org_id=w.home[person], amount=price, status=status,
                     started_at=started, finished_at=started + timedelta(minutes=50),
                     minutes=50, hold_id=hold_id, spend_id=spend_id,
                     rating=rng.choice((4, 5, 5, None)), comment="", dispute_reason="",
                     claim_id=None)
            )  # fmt: skip
    claims, approvals = [], []
    last = months[-1]
    for sub, p in providers.items():
        for month in months[-3:]:
            mine = [v for v in visits if v["provider_id"] == p.id and v["status"] == "finished"
                    and v["started_at"].astimezone(TZ).date().replace(day=1) == month]  # fmt: skip
            if not mine:
                continue
            cl = len(claims) + 1
            status = "submitted" if month == last else "approved"
            at = local(month, 9) + timedelta(days=35)
            claims.append(dict(id=cl, org_id=sub, provider_id=p.id, month=month,
                               visits=len(mine), amount=sum(v["amount"] for v in mine),
                               status=status, reason="", created_by_id=w.admin_of[sub],
                               created_at=at))  # fmt: skip
            for v in mine:
                v["claim_id"] = cl
            chain = [(sub, "subdistrict")] + (
                [(w.district, "district")] if status == "approved" else []
            )
            for org, level in chain:
                approvals.append(dict(id=len(approvals) + 1, claim_id=cl, org_id=org, level=level,
                                      user_id=w.admin_of[org], at=at + timedelta(days=1)))  # fmt: skip
    bulk(Claim, claims)
    bulk(Visit, visits)
    bulk(Approval, approvals)
    w.counts.update(visits=len(visits), claims=len(claims))


def patrol(w: World) -> None:
    from core import ledger
    from plugins.patrol.models import Checkpoint, Incident, Member, Route, Scan, Shift
    from plugins.points.models import Award
    from plugins.points.services.awards import add_months

    rng, now = w.rng, w.now
    today = now.astimezone(TZ).date()
    routes, checkpoints = [], []
    cps: dict[int, list[int]] = {}
    for cid in w.communities:
        for r in range(2):
            rid = len(routes) + 1
            routes.append(dict(id=rid, org_id=cid, name=f"夜间巡逻{r + 1}号线",
                               created_by_id=w.staff_of[cid],
                               created_at=now - timedelta(days=120)))  # fmt: skip
            cps[rid] = []
            for pos in range(5):
                cp = len(checkpoints) + 1
                checkpoints.append(dict(id=cp, org_id=cid, route_id=rid, position=pos,
                                        name=f"{pos + 1}号点", lat=None, lng=None))  # fmt: skip
                cps[rid].append(cp)
    bulk(Route, routes)
    bulk(Checkpoint, checkpoints)
    n_open = max(5, round(200 * w.scale))
    shifts, members, scans, incidents, awards, legs = [], [], [], [], [], {}
    need: dict[int, int] = {}
    for route in routes:
        cid, rid = route["org_id"], route["id"]
        sub, young = w.parent[cid], w.young(cid)
        plan = [(today - timedelta(days=k), "past") for k in range(90, 0, -3)]
        plan.append((today + timedelta(days=1), "future"))
        if rid <= n_open:
            plan.append((today - timedelta(days=1), "open"))
        for day, kind in plan:
            starts = local(day, 19)
            if kind == "open":
                starts = min(starts, now - timedelta(hours=4))
            ends = starts + timedelta(hours=2)
            closes = ends + timedelta(minutes=15)
            status = "scheduled"
            if kind == "past":
                status = "completed" if rng.random() < 0.85 else "incomplete"
            sh = len(shifts) + 1
            shifts.append(dict(id=sh, org_id=cid, route_id=rid, starts_at=starts, ends_at=ends,
                               grace_minutes=15, closes_at=closes, minutes=120, points=10,
                               status=status, closed_at=closes if kind == "past" else None,
                               closed_by_id=None, created_by_id=w.staff_of[cid],
                               created_at=starts - timedelta(days=7)))  # fmt: skip
            team = rng.sample(young, 3)
            scanned = {"completed": 5, "incomplete": rng.randint(1, 4), "open": 3}.get(status, 0)
            if kind == "open":
                scanned = 3
            for i in range(scanned):
                scans.append(dict(id=len(scans) + 1, shift_id=sh, checkpoint_id=cps[rid][i],
                                  user_id=team[i % 3],
                                  scanned_at=starts + timedelta(minutes=20 * i + 5)))  # fmt: skip
            for uid in team:
                paid = status == "completed"
                members.append(dict(id=len(members) + 1, shift_id=sh, user_id=uid,
                                    points_awarded=10 if paid else None))  # fmt: skip
                if not paid:
                    continue
                key = f"points:service:patrol:shift:{sh}:{uid}"
                reason = f"志愿服务：治安巡逻：{route['name']}（120分钟）"
                awards.append(dict(id=w.next_id("award"), org_id=cid, fund_org_id=sub, user_id=uid,
                                   amount=10, reason=reason, kind="service", status="paid",
                                   source_key=key, transfer_id=None, activity_id=None,
                                   actor_id=None, created_at=closes,
                                   expires_at=add_months(closes, 12), reversed_at=None))  # fmt: skip
                legs.setdefault((today - day).days // 7, []).append(
                    ledger.Leg(acc(w, "points", "org", sub, "bean", "fund"),
                               acc(w, "points", "user", uid, "bean", "wallet"), 10, reason,
                               key=key, cause=("org", cid))
                )  # fmt: skip
                need[sub] = need.get(sub, 0) + 10
            if kind == "past" and rng.random() < 0.03:
                resolved = rng.random() < 0.7
                incidents.append(
                    dict(id=len(incidents) + 1, org_id=cid, shift_id=sh,
                         checkpoint_id=cps[rid][0], user_id=team[0],
                         kind=rng.choice(("hazard", "dispute", "suspicious", "other")),
                         text="楼道堆放杂物，存在消防隐患", photo=None, has_photo=False,
                         status="resolved" if resolved else "open", note="已处理" if resolved else "",
                         resolved_by_id=w.staff_of[cid] if resolved else None,
                         resolved_at=ends + timedelta(days=1) if resolved else None,
                         created_at=starts + timedelta(minutes=30))
                )  # fmt: skip
    bulk(Shift, shifts)
    bulk(Member, members)
    bulk(Scan, scans)
    bulk(Incident, incidents)
    fund_points(w, need, now - timedelta(days=100), "patrol")
    for week in sorted(legs, reverse=True):
        post(legs[week], now - timedelta(days=7 * week))
    bulk(Award, awards)
    link_transfers("points_award", "r.source_key", since_id=awards[0]["id"] if awards else 0)
    w.counts.update(patrol_shifts=len(shifts), patrol_scans=len(scans), patrol_awards=len(awards))


DUE_HOURS = {"building": 24, "group": 24, "community": 48, "subdistrict": 72, "district": 120}
CATEGORIES = ("environment", "facilities", "safety", "dispute", "elderly", "other")


def casework(w: World) -> None:
    from plugins.casework.models import Case, Event

    rng, now = w.rng, w.now
    n = max(50, round(100_000 * w.scale))
    cases, events = [], []
    for c in range(n):
        cid = w.communities[c % len(w.communities)]
        roll = rng.random()
        origin = (rng.choice(w.buildings[cid]) if roll < 0.5 else
                  rng.choice(w.groups[cid]) if roll < 0.7 else cid)  # fmt: skip
        level = w.level[origin]
        user = rng.choice(w.residents[cid])
        staff = w.staff_of[cid]
        created = now - timedelta(days=rng.uniform(0, 365))
        due = created + timedelta(hours=DUE_HOURS[level])
        fate = rng.random()
        if (now - created).days < 20:
            fate = rng.choice((0.5, 0.9, 0.95, 0.97, 0.99))  # recent: more still live
        row = dict(id=c + 1, org_id=origin, handler_org_id=origin, user_id=user,
                   created_by_id=user, category=rng.choice(CATEGORIES),
                   text="楼道声控灯坏了，晚上上下楼看不清", location=None, photo=None,
                   photo_type=None, status="open", due_at=due, created_at=created,
                   accepted_at=None, resolved_at=None, resolution=None, on_time=None,
                   overdue_climbs=0, rated_at=None, satisfied=None, rating_comment=None)  # fmt: skip
        ev = [dict(case_id=c + 1, at=created, action="raised", org_id=origin, user_id=user,
                   note=None)]  # fmt: skip
        if fate >= 0.96 and level != "community":  # climbed by the timer, then handled
            handler = cid
            if level == "building":
                handler = w.groups[cid][w.buildings[cid].index(origin) // 10]
            row.update(handler_org_id=handler, overdue_climbs=1,
                       due_at=due + timedelta(hours=DUE_HOURS[w.level[handler]]))  # fmt: skip
            ev.append(dict(case_id=c + 1, at=due, action="escalated", org_id=handler,
                           user_id=None, note="超时自动上报"))  # fmt: skip
        if fate < 0.93:
            acc_at = created + timedelta(hours=2)
            row.update(status="accepted", accepted_at=acc_at)
            ev.append(dict(case_id=c + 1, at=acc_at, action="accepted",
                           org_id=row["handler_org_id"], user_id=staff, note=None))  # fmt: skip
        if fate < 0.90:
            res_at = created + timedelta(hours=20)
            row.update(status="resolved", resolved_at=res_at, resolution="已处理完毕",
                       on_time=res_at <= row["due_at"] and not row["overdue_climbs"])  # fmt: skip
            ev.append(dict(case_id=c + 1, at=res_at, action="resolved",
                           org_id=row["handler_org_id"], user_id=staff, note="已处理完毕"))  # fmt: skip
        if fate < 0.85:
            rated = created + timedelta(days=1)
            satisfied = rng.random() < 0.965
            row.update(status="closed", rated_at=rated, satisfied=satisfied,
                       rating_comment="处理很及时" if satisfied else "还行")  # fmt: skip
            ev.append(dict(case_id=c + 1, at=rated, action="rated",
                           org_id=row["handler_org_id"], user_id=user, note=None))  # fmt: skip
        if row["created_at"] > now:
            continue
        cases.append(row)
        for e in ev:
            e["id"] = w.next_id("case_event")
            events.append(e)
    bulk(Case, cases)
    bulk(Event, events)
    live = sum(1 for r in cases if r["status"] in ("open", "accepted"))
    overdue = sum(1 for r in cases if r["status"] in ("open", "accepted") and r["due_at"] <= now)
    w.counts.update(cases=len(cases), cases_live=live, cases_overdue=overdue)


def points_summaries(w: World) -> None:
    """The rows ``jindou points expire`` keeps current, as after a nightly run."""
    from core.extensions import db
    from plugins.points import services as points

    w.counts["points_earned_months"] = points.rebuild_all_month_earned()
    w.counts["points_outstanding_snapshots"] = points.refresh_outstanding()
    db.session.commit()
