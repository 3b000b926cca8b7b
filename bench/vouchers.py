"""Home-care vouchers benchmark on PostgreSQL (127.0.0.1 only, bounded).

1. Monthly issuance for N enrolled elders (default 100,000) in one call of
   the service (set-based: INSERT ... SELECT for wallets and issuance rows,
   ``ledger.post_batch`` for the money), timed; then replayed (issues nothing).
   Goal: < 10 s for 100,000.
2. Visits over HTTP (gunicorn, 2 workers x 4 threads): open at the door
   (POST /providers/{id}/visits, a hold) then finish (POST /visits/{id}/finish,
   the hold posted), paced at a fixed rate; p50/p99 of the open + finish pair,
   counted from the scheduled time so queueing shows. Goal: p99 < 200 ms at 50/s.

    .venv/bin/python bench/vouchers.py [--elders 100000] [--visits 1000] [--rate 50] [--jobs-only]

Uses JINDOU_BENCH_DATABASE_URL (default: the jindou_vouchers test database),
whose tables it drops and rebuilds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from checkin import SECRET, Client, free_port, start_server, stop_server  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/jindou_vouchers"
MONTH = date(2026, 11, 1)


def prepare(database_url: str, elders: int, workers: int):
    """Fresh schema; a district, a community with a provider and its workers,
    ``elders`` elders of 80+ enrolled in a funded programme (bulk inserts)."""
    if "127.0.0.1" not in database_url and "localhost" not in database_url:
        raise SystemExit("this benchmark only runs against a local database")
    os.environ.update(JINDOU_DATABASE_URL=database_url, JINDOU_SECRET_KEY=SECRET)
    from flask_migrate import upgrade
    from sqlalchemy import MetaData, insert, select, text

    from core import create_app
    from core.api import issue_token
    from core.extensions import db
    from core.models import Membership, Organization, OrgPlugin, User
    from plugins.elder_vouchers import services
    from plugins.elder_vouchers.models import Enrolment

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
        community = Organization(name="金星社区", level="community", parent_id=district.id)
        db.session.add(community)
        db.session.flush()
        community.path = f"{district.path}{community.id}/"
        db.session.add(OrgPlugin(org_id=district.id, plugin="elder_vouchers", enabled=True))
        admin = User(phone="13800000000", name="区管理员", password_hash="-")
        db.session.add(admin)
        db.session.flush()
        db.session.add(Membership(user_id=admin.id, org_id=district.id, role="admin"))
        db.session.commit()
        t0 = time.perf_counter()
        db.session.execute(
            insert(User),
            [
                {
                    "phone": f"139{i:08d}",
                    "name": f"老人{i}",
                    "password_hash": "-",
                    "birth_date": date(1940, 1, 1),
                }
                for i in range(elders)
            ],
        )
        elder_ids = db.session.scalars(
            select(User.id).where(User.phone.like("139%")).order_by(User.id)
        ).all()
        db.session.execute(
            insert(Membership),
            [{"user_id": u, "org_id": community.id, "role": "resident"} for u in elder_ids],
        )
        programme = services.create_programme(
            admin, district, name="居家养老服务券", monthly_amount=20000, min_age=80
        )
        db.session.execute(
            insert(Enrolment),
            [{"programme_id": programme.id, "user_id": u, "active": True} for u in elder_ids],
        )
        db.session.commit()
        services.deposit(admin, programme, amount=20000 * elders, key="bench")
        provider = services.create_provider(
            admin, community, name="康乐家政", services=[{"name": "助浴", "price": 5000}]
        )
        tokens = []
        for i in range(workers):
            worker = User(phone=f"137{i:08d}", name=f"服务员{i}", password_hash="-")
            db.session.add(worker)
            db.session.flush()
            services.add_worker(admin, provider, worker.phone)
            tokens.append(issue_token(worker))
        db.session.commit()
        print(f"  prepared {elders} elders in {time.perf_counter() - t0:.1f} s")
        return (
            app,
            admin.id,
            programme.id,
            provider.id,
            services.services_of(provider)[0].id,
            elder_ids,
            tokens,
        )


def issuance(app, admin_id: int, programme_id: int) -> None:
    from core.extensions import db
    from core.models import User
    from plugins.elder_vouchers import services
    from plugins.elder_vouchers.models import Programme

    with app.app_context():
        for label in ("issuance", "replay"):
            t0 = time.perf_counter()
            result = services.issue(
                db.session.get(User, admin_id), db.session.get(Programme, programme_id), MONTH
            )
            took = time.perf_counter() - t0
            print(
                f"  {label:<8} issued {result['issued']:>7}  skipped {result['skipped']:>7}"
                f"  in {took:6.2f} s"
            )
            db.session.remove()


def expiry(app) -> None:
    """Runs after the visits: what they spent stays, the rest of November lapses."""
    from core.times import start_of_day
    from plugins.elder_vouchers import services

    with app.app_context():
        for label in ("expiry", "replay"):
            t0 = time.perf_counter()
            people, fen = services.expire_all(start_of_day(date(2026, 12, 1)))
            took = time.perf_counter() - t0
            print(f"  {label:<8} lapsed {people:>7} people  {fen:>12} fen  in {took:6.2f} s")


def visits(
    app,
    port: int,
    provider_id: int,
    service_id: int,
    programme_id: int,
    elder_ids: list[int],
    tokens: list[str],
    n: int,
    rate: float,
) -> dict:
    """Each client thread is one worker (one open visit at a time): open + finish."""
    import json

    from core import qr

    with app.app_context():
        codes = [qr.person_code(u).token for u in elder_ids[:n]]
    latencies, failures, lock = [], [], threading.Lock()
    start = time.perf_counter() + 0.1

    def worker(k: int):
        client, token = Client(port), tokens[k]
        for i in range(k, n, len(tokens)):
            planned = start + i / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = {"person_code": codes[i], "service_id": service_id, "programme_id": programme_id}
            client.conn.request(
                "POST",
                f"/api/v1/providers/{provider_id}/visits",
                json.dumps(body),
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            answer = client.conn.getresponse()
            opened = json.loads(answer.read() or b"{}")
            status = answer.status
            if status == 201:
                status = client.post(
                    f"/api/v1/visits/{opened['id']}/finish", {"person_code": codes[i]}, token
                )
            with lock:
                latencies.append(time.perf_counter() - planned)
                if status >= 300:
                    failures.append(status)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "n": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "failures": len(failures),
        "codes": sorted(set(failures))[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--workers", type=int, default=16, help="provider workers = clients")
    parser.add_argument("--jobs-only", action="store_true", help="issuance and expiry, no HTTP")
    args = parser.parse_args()
    database_url = os.environ.get("JINDOU_BENCH_DATABASE_URL", DEFAULT_DB)
    print(f"preparing on {database_url.rsplit('@', 1)[-1]}, {os.cpu_count()} CPUs shared ...")
    app, admin_id, programme_id, provider_id, service_id, elder_ids, tokens = prepare(
        database_url, args.elders, args.workers
    )
    issuance(app, admin_id, programme_id)
    if args.jobs_only:
        expiry(app)
        return
    port = free_port()
    server = start_server(2, port, database_url, 4)
    try:
        visits(
            app, port, provider_id, service_id, programme_id, elder_ids[-50:], tokens, 50, args.rate
        )  # warm up (other elders than the measured ones)
        r = visits(
            app,
            port,
            provider_id,
            service_id,
            programme_id,
            elder_ids,
            tokens,
            min(args.visits, len(elder_ids) - 50),
            args.rate,
        )
        extra = f"  failures {r['failures']} {r['codes']}" if r["failures"] else ""
        print(
            f"  visits open+finish paced at {args.rate:.0f}/s: {r['n']} visits "
            f"{r['per_s']:.1f}/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms{extra}"
        )
    finally:
        stop_server(server)
    expiry(app)


if __name__ == "__main__":
    main()
