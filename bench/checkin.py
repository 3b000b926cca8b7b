"""Check-in benchmark: gunicorn (2 and 5 workers by default) on PostgreSQL.

For each worker count: N volunteers sign up over HTTP, then scan in and out
concurrently (POST /api/v1/scan with bearer tokens), first as fast as they
can (closed loop) and then paced at a fixed rate; the same loads run against
a bare endpoint doing one INSERT + commit. Prints scans/s, p50 and p99 and the
scan/bare ratio. Goals (issue 15): p99 < 100 ms at 200 scans/s; scans ≥ 50 % of
bare, both measured in the same run.

    .venv/bin/python bench/checkin.py [--volunteers 400] [--rates 200,50] [--clients 16]

Uses JINDOU_BENCH_DATABASE_URL (default: the jindou_vol test database), whose
tables it drops and rebuilds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/jindou_vol"
SECRET = "bench-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database_url: str, volunteers: int):
    """Fresh schema; a community with staff, volunteers and bearer tokens."""
    os.environ.update(JINDOU_DATABASE_URL=database_url, JINDOU_SECRET_KEY=SECRET)
    from flask_migrate import upgrade
    from sqlalchemy import MetaData, text

    from core import create_app
    from core.api import issue_token
    from core.extensions import db
    from core.models import Membership, Organization, OrgPlugin, User

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
        for name in app.extensions["jindou_plugins"].names:
            db.session.add(OrgPlugin(org_id=district.id, plugin=name, enabled=True))
        staff = User(phone="13800000000", name="社工", password_hash="-")
        db.session.add(staff)
        db.session.flush()
        db.session.add(Membership(user_id=staff.id, org_id=community.id, role="staff"))
        tokens = []
        for i in range(volunteers):
            user = User(phone=f"139{i:08d}", name=f"志愿者{i}", password_hash="-")
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, org_id=community.id, role="resident"))
            tokens.append(issue_token(user))
        staff_token = issue_token(staff)
        db.session.commit()
        return app, community.id, staff_token, tokens


def new_activity(app, org_id: int, capacity: int) -> int:
    from core.extensions import db
    from core.models import utcnow
    from plugins.volunteering.models import Activity

    with app.app_context():
        starts = utcnow() - timedelta(minutes=5)
        activity = Activity(
            org_id=org_id,
            title="压测活动",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            capacity=capacity,
            points=10,
            points_per_hour=6,
        )
        db.session.add(activity)
        db.session.commit()
        return activity.id


def codes(app, activity_id: int) -> dict[str, str]:
    """The tokens the staff screen shows now (same secret as the server)."""
    from core import qr

    with app.app_context():
        return {
            kind: qr.rotating_token(purpose, {"a": activity_id})[0]
            for kind, purpose in (("in", "checkin"), ("out", "checkout"))
        }


def start_server(workers: int, port: int, database_url: str, threads: int) -> subprocess.Popen:
    env = {**os.environ, "JINDOU_DATABASE_URL": database_url, "JINDOU_SECRET_KEY": SECRET}
    kind = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else ["-k", "sync"]
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(workers),
            *kind,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


class Client(threading.local):
    """One keep-alive connection per thread."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict | None, token: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self.conn.request("POST", path, json.dumps(body or {}), headers)
            response = self.conn.getresponse()
            response.read()
            return response.status
        except (http.client.HTTPException, OSError):
            self.conn.close()
            return 599


def run(
    port: int,
    jobs: list[tuple[str, dict | Callable[[], dict] | None, str | None]],
    clients: int,
    rate: float | None = None,
) -> dict:
    """Send ``jobs`` with ``clients`` threads; paced at ``rate``/s when given
    (latency then counts from the scheduled time, so queueing shows)."""
    queue: Queue = Queue()
    for i, job in enumerate(jobs):
        queue.put((i, job))
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    client = Client(port)
    start = time.perf_counter() + 0.05

    def worker():
        while True:
            try:
                i, (path, body, token) = queue.get_nowait()
            except Empty:
                return
            planned = start + i / rate if rate else None
            if planned:
                delay = planned - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent = planned or time.perf_counter()
            status = client.post(path, body() if callable(body) else body, token)
            took = time.perf_counter() - sent
            with lock:
                latencies.append(took)
                if status >= 300:
                    failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
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
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "failures": len(failures),
        "codes": sorted(set(failures))[:5],
    }


class Screen:
    """The staff screen at the door: the codes of the current window, shown anew
    when the window turns (on a busy machine a phase may outlast a window, and
    expired codes would measure cheap refusals instead of scans)."""

    def __init__(self, app, activity_id: int):
        self.app, self.activity_id = app, activity_id
        self.lock = threading.Lock()
        self.window: int | None = None
        self.shown: dict[str, str] = {}

    def body(self, kind: str) -> dict:
        window = int(time.time() // 30)  # the checkin/checkout window (core.qr.PURPOSES)
        with self.lock:
            if window != self.window:
                self.shown, self.window = codes(self.app, self.activity_id), window
            return {"token": self.shown[kind]}


def scan_jobs(app, activity_id: int, tokens: list[str]) -> list:
    """Everyone scans in, then everyone scans out, each with the code on the screen."""
    screen = Screen(app, activity_id)
    return [("/api/v1/scan", partial(screen.body, "in"), t) for t in tokens] + [
        ("/api/v1/scan", partial(screen.body, "out"), t) for t in tokens
    ]


def show(label: str, r: dict) -> None:
    extra = f"  failures {r['failures']} {r['codes']}" if r["failures"] else ""
    print(
        f"  {label:<34} {r['n']:>5} req  {r['per_s']:>7.1f}/s  p50 {r['p50_ms']:6.1f} ms"
        f"  p99 {r['p99_ms']:6.1f} ms{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=400)
    parser.add_argument("--rates", default="200,50", help="paced runs, scans per second")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", default="2,5")
    parser.add_argument("--threads", type=int, default=4, help="per worker; 1 = sync workers")
    args = parser.parse_args()
    database_url = os.environ.get("JINDOU_BENCH_DATABASE_URL", DEFAULT_DB)
    n, rates = args.volunteers, [float(r) for r in args.rates.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    groups = len(worker_counts) * (1 + len(rates))  # fresh volunteers for every run: all
    print(f"preparing {n * groups} volunteers on {database_url.rsplit('@', 1)[-1]} ...")
    app, org_id, _staff_token, tokens = prepare(database_url, n * groups)
    chunks = iter([tokens[i : i + n] for i in range(0, len(tokens), n)])  # activities overlap
    for workers in worker_counts:
        port = free_port()
        server = start_server(workers, port, database_url, args.threads)
        try:
            print(
                f"\ngunicorn {workers} workers x {args.threads} threads, {args.clients} clients, "
                f"{os.cpu_count()} CPUs shared with PostgreSQL and this load generator"
            )
            runs = [(new_activity(app, org_id, n), next(chunks)) for _ in range(1 + len(rates))]
            for i, (activity_id, group) in enumerate(runs):
                r = run(
                    port,
                    [(f"/api/v1/activities/{activity_id}/signups", None, t) for t in group],
                    args.clients,
                )
                if i == 0:
                    show("sign-ups (one activity, locked)", r)
            run(port, [("/api/v1/bench/bare", None, None)] * 50, args.clients)  # warm up
            jobs = scan_jobs(app, *runs[0])
            scans = run(port, jobs, args.clients)
            bare = run(port, [("/api/v1/bench/bare", None, None)] * len(jobs), args.clients)
            show("scans, as fast as possible", scans)
            show("bare INSERT+commit, same load", bare)
            print(f"  scan/bare throughput ratio           {scans['per_s'] / bare['per_s']:.0%}")
            for rate, (activity_id, group) in zip(rates, runs[1:], strict=True):
                jobs = scan_jobs(app, activity_id, group)
                paced = run(port, jobs, max(args.clients, 32), rate=rate)
                paced_bare = run(
                    port,
                    [("/api/v1/bench/bare", None, None)] * len(jobs),
                    max(args.clients, 32),
                    rate=rate,
                )
                show(f"scans paced at {rate:.0f}/s", paced)
                show(f"bare paced at {rate:.0f}/s", paced_bare)
                if rate == rates[0]:
                    ok = paced["p99_ms"] < 100 and scans["per_s"] >= 0.5 * bare["per_s"]
                    print(
                        f"  goals (p99 < 100 ms at {rate:.0f}/s, >= 50% of bare): "
                        f"{'met' if ok else 'NOT met'}"
                    )
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
