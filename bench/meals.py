"""Love-canteen benchmark: gunicorn on PostgreSQL.

1. Lunch rush: 200 elders who booked today's lunch are served at once from 4
   counters (POST /api/v1/canteens/{id}/servings with card tokens, each a
   subsidy transfer in the ledger); p50/p99 and servings/s, then the same
   load against a bare endpoint doing one INSERT + commit: the ratio.
2. A district month: 11 canteens, 5,000 elders, 150,000 servings (one lunch
   a day each), built set-based (bulk INSERTs and ``ledger.post_batch``);
   then the district's settlement, in process and over HTTP (goal < 1 s),
   and a check that it matches the ledger to the fen.

    .venv/bin/python bench/meals.py [--elders 5000] [--days 30] [--rush 200] [--workers 2]

Uses JINDOU_BENCH_DATABASE_URL (default: the jindou_meals_bench database),
whose tables it drops and rebuilds. Loops are bounded; everything is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.checkin import free_port, run, show, start_server, stop_server  # noqa: E402
from core.times import local_today  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/jindou_meals_bench"
SECRET = "bench-secret-key"
CANTEENS = 11
TIERS = [
    {"min_age": 60, "subsidy": 100},
    {"min_age": 70, "subsidy": 200},
    {"min_age": 80, "subsidy": 300},
    {"min_age": 90, "subsidy": 500},
]


def prepare(database_url: str, elders: int):
    """Fresh schema; a district with 11 communities, a canteen, a staff member
    and ``elders / 11`` elders (with cards) each; the Kunming tiers; a fund."""
    os.environ.update(JINDOU_DATABASE_URL=database_url, JINDOU_SECRET_KEY=SECRET)
    from flask_migrate import upgrade
    from sqlalchemy import MetaData, insert, select, text

    from core import create_app
    from core.api import issue_token
    from core.extensions import db
    from core.models import Membership, Organization, OrgPlugin, PersonCard, User
    from plugins.meals import services
    from plugins.meals.models import Canteen

    app = create_app()
    with app.app_context():
        meta = MetaData()
        meta.reflect(bind=db.engine)
        meta.drop_all(bind=db.engine)
        upgrade(revision="heads")
        db.session.execute(text("CREATE TABLE bench_bare (id SERIAL PRIMARY KEY, at TIMESTAMPTZ)"))
        district = Organization(name="盘龙区", level="district")
        db.session.add(district)
        db.session.flush()
        district.path = f"/{district.id}/"
        admin = User(phone="13800000000", name="区管理员", password_hash="-")
        db.session.add(admin)
        db.session.flush()
        db.session.add(Membership(user_id=admin.id, org_id=district.id, role="admin"))
        db.session.add(OrgPlugin(org_id=district.id, plugin="meals", enabled=True))
        db.session.flush()
        today, sites = local_today(), []
        for c in range(CANTEENS):
            org = Organization(name=f"社区{c + 1}", level="community", parent_id=district.id)
            db.session.add(org)
            db.session.flush()
            org.path = f"{district.path}{org.id}/"
            staff = User(phone=f"1370000{c:04d}", name=f"社工{c + 1}", password_hash="-")
            db.session.add(staff)
            db.session.flush()
            db.session.add(Membership(user_id=staff.id, org_id=org.id, role="staff"))
            canteen = Canteen(org_id=org.id, name=f"社区{c + 1}爱心食堂", address="")
            db.session.add(canteen)
            db.session.flush()
            sites.append((org.id, canteen.id, staff.id))
        # elders, set-based: ages 60-99 spread evenly, every seventh in hardship
        rows = [
            {
                "phone": None,
                "name": f"老人{i}",
                "password_hash": None,
                "birth_date": date(today.year - 60 - i % 40, 1 + i % 12, 1 + i % 28),
                "hardship": i % 7 == 0,
                "active": True,
                "is_platform_admin": False,
                "session_version": 0,
            }
            for i in range(elders)
        ]
        ids = list(db.session.scalars(insert(User).returning(User.id), rows))
        db.session.execute(
            insert(Membership),
            [
                {"user_id": uid, "org_id": sites[i % CANTEENS][0], "role": "resident"}
                for i, uid in enumerate(ids)
            ],
        )
        db.session.execute(
            insert(PersonCard),
            [{"user_id": uid, "short_code": f"{50_000_000 + i:08d}"} for i, uid in enumerate(ids)],
        )
        services.put_policy(admin, district, tiers=TIERS, hardship_extra=300)
        db.session.commit()
        services.deposit(admin, district, amount=900_000_000, key="bench", note="区财政")
        cards = dict(db.session.execute(select(PersonCard.user_id, PersonCard.id)).all())
        tokens = {
            "admin": issue_token(admin),
            "staff": [issue_token(db.session.get(User, s)) for _o, _c, s in sites],
        }
        db.session.commit()
        return app, district.id, sites, ids, cards, tokens


def lunch_rush(app, port: int, sites, ids, cards, tokens, n: int) -> None:
    """Today's lunch at canteen 1: ``n`` booked elders served from 4 counters."""
    from sqlalchemy import insert

    from core.extensions import db
    from core.models import PersonCard
    from core.people.services import card_token
    from plugins.meals import services
    from plugins.meals.models import Booking, Menu

    org_id, canteen_id, _staff = sites[0]
    diners = [uid for i, uid in enumerate(ids) if i % CANTEENS == 0][:n]
    with app.app_context():
        day = local_today()
        menu = Menu(
            org_id=org_id,
            canteen_id=canteen_id,
            day=day,
            slot="lunch",
            dishes=["米饭", "青菜"],
            price=1200,
            capacity=n + 50,
            booked=len(diners),
            walk_ins=0,
            book_by=services.slot_start(day, "lunch"),
        )
        db.session.add(menu)
        db.session.flush()
        db.session.execute(
            insert(Booking),
            [
                {"org_id": org_id, "menu_id": menu.id, "user_id": uid, "status": "booked"}
                for uid in diners
            ],
        )
        codes = [card_token(db.session.get(PersonCard, cards[uid])) for uid in diners]
        menu_id = menu.id
        db.session.commit()
    staff_token = tokens["staff"][0]
    jobs = [
        (
            f"/api/v1/canteens/{canteen_id}/servings",
            {"person_code": code, "menu_id": menu_id},
            staff_token,
        )
        for code in codes
    ]
    run(port, [("/api/v1/bench/bare", None, None)] * 40, 4)  # warm up
    served = run(port, jobs, 4)
    bare = run(port, [("/api/v1/bench/bare", None, None)] * len(jobs), 4)
    show(f"lunch rush: {len(jobs)} servings, 4 counters", served)
    show("bare INSERT+commit, same load", bare)
    print(
        f"  serving/bare throughput ratio        {served['per_s'] / bare['per_s']:.0%}"
        f"   (latency p50 ratio {served['p50_ms'] / bare['p50_ms']:.1f}x)"
    )


def district_month(app, district_id: int, sites, ids, days: int) -> date:
    """Last month: one lunch a day for every elder at their community's canteen,
    bulk-inserted, subsidies posted with ``ledger.post_batch``."""
    from sqlalchemy import insert, select, text

    from core import ledger
    from core.extensions import db
    from core.models import Organization, User
    from plugins.meals import services
    from plugins.meals.models import Menu, Serving

    month = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    with app.app_context():
        started = time.perf_counter()
        people = db.session.execute(
            select(User.id, User.birth_date, User.hardship).where(User.id.in_(ids))
        ).all()
        policy = services.effective_policy(db.session.get(Organization, district_id))
        menus = {}
        for org_id, canteen_id, _s in sites:
            for d in range(days):
                day = month + timedelta(days=d)
                menus[(canteen_id, d)] = Menu(
                    org_id=org_id,
                    canteen_id=canteen_id,
                    day=day,
                    slot="lunch",
                    dishes=["饭"],
                    price=1200,
                    capacity=len(ids),
                    booked=0,
                    walk_ins=0,
                    book_by=services.slot_start(day, "lunch"),
                )
        db.session.add_all(menus.values())
        db.session.flush()
        rows = []
        for i, (uid, birth, hardship) in enumerate(people):
            org_id, canteen_id, staff = sites[i % CANTEENS]
            for d in range(days):
                day = month + timedelta(days=d)
                subsidy, tier = services.subsidy_for(
                    policy, birth_date=birth, hardship=hardship, day=day, price=1200
                )
                rows.append(
                    {
                        "org_id": org_id,
                        "canteen_id": canteen_id,
                        "menu_id": menus[(canteen_id, d)].id,
                        "user_id": uid,
                        "booking_id": None,
                        "day": day,
                        "slot": "lunch",
                        "price": 1200,
                        "subsidy": subsidy,
                        "to_pay": 1200 - subsidy,
                        "funded": True,
                        "tier_min_age": tier,
                        "fund_org_id": district_id,
                        "served_by_id": staff,
                    }
                )
        serving_ids = []
        for start in range(0, len(rows), 10_000):
            serving_ids += db.session.scalars(
                insert(Serving).returning(Serving.id), rows[start : start + 10_000]
            ).all()
        built = time.perf_counter() - started
        fund = services.org_account(district_id, "fund")
        tills = {c: services.canteen_account(c).id for _o, c, _s in sites}
        legs = [
            ledger.Leg(
                fund.id,
                tills[r["canteen_id"]],
                r["subsidy"],
                "餐补",
                key=f"meals:serving:{sid}",
                cause=("meals_serving", sid),
            )
            for sid, r in zip(serving_ids, rows, strict=True)
            if r["subsidy"]
        ]
        posted = ledger.post_batch(legs)
        db.session.execute(
            text(
                "UPDATE meals_serving s SET transfer_id = t.id FROM ledger_transfer t "
                "WHERE t.cause_type = 'meals_serving' AND t.cause_id = s.id AND s.day >= :first"
            ),
            {"first": month},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(
            f"\n  district month: {len(rows):,} servings in {len(menus)} menus built in "
            f"{built:.1f} s; {posted:,} subsidy transfers posted in "
            f"{time.perf_counter() - started - built:.1f} s"
        )
    return month


def settle(app, port: int, district_id: int, month: date, admin_token: str) -> None:
    from sqlalchemy import text

    from core.extensions import db
    from core.models import Organization
    from plugins.meals import services

    with app.app_context():
        district = db.session.get(Organization, district_id)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            result = services.settlement_of(district, month)
            times.append(time.perf_counter() - started)
        total = result["total"]
        first, after = month, (month + timedelta(days=32)).replace(day=1)
        ledger_paid = db.session.scalar(
            text(
                "SELECT coalesce(sum(t.amount), 0) FROM ledger_transfer t JOIN meals_serving s "
                "ON s.transfer_id = t.id WHERE s.day >= :first AND s.day < :after"
            ),
            {"first": first, "after": after},
        )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    http_times = []
    for _ in range(5):
        started = time.perf_counter()
        conn.request(
            "GET",
            f"/api/v1/orgs/{district_id}/meals/settlement?month={month:%Y-%m}",
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        resp = conn.getresponse()
        resp.read()
        http_times.append(time.perf_counter() - started)
        assert resp.status == 200, resp.status
    print(
        f"  settlement of the district, {month:%Y-%m}: {total['meals']:,} meals, "
        f"subsidy ¥{total['subsidy'] / 100:,.2f}, paid by diners "
        f"¥{total['paid_by_diners'] / 100:,.2f}"
    )
    print(
        f"  settlement in process: best {min(times) * 1000:.0f} ms, "
        f"median {sorted(times)[2] * 1000:.0f} ms;  over HTTP: best "
        f"{min(http_times) * 1000:.0f} ms, median {sorted(http_times)[2] * 1000:.0f} ms  "
        f"(goal < 1 s: {'met' if sorted(http_times)[2] < 1 else 'NOT met'})"
    )
    print(
        f"  settlement subsidy = the month's subsidy transfers in the ledger: "
        f"{total['subsidy']} vs {ledger_paid} fen"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rush", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    database_url = os.environ.get("JINDOU_BENCH_DATABASE_URL", DEFAULT_DB)
    print(
        f"preparing {args.elders} elders in {CANTEENS} canteens on "
        f"{database_url.rsplit('@', 1)[-1]} ..."
    )
    app, district_id, sites, ids, cards, tokens = prepare(database_url, args.elders)
    port = free_port()
    server = start_server(args.workers, port, database_url, args.threads)
    try:
        print(
            f"gunicorn {args.workers} workers x {args.threads} threads, "
            f"{os.cpu_count()} CPUs shared with PostgreSQL and this load generator"
        )
        lunch_rush(app, port, sites, ids, cards, tokens, args.rush)
        month = district_month(app, district_id, sites, ids, args.days)
        settle(app, port, district_id, month, tokens["admin"])
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
