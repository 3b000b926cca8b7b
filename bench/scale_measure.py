"""Measure a scale dataset in-process (Flask test client on PostgreSQL).

Every operation is an HTTP request with a bearer token of a person picked
from the data (the district's admin, a community's staff member, a
volunteer, an elder, a patrol member); its time is the server's time for
the request (no network). One warm-up, then ``repeat`` timed runs: p50, p95.
Then a check-in and a check-out scan per volunteer of a fresh activity, and
last the periodic jobs, each timed once through the services the CLI calls.
The scans and jobs change the data: measure a ``createdb -T`` clone to keep
the original.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

# Goals at scale 1.0 (issue 15), in milliseconds.
GOALS = {
    "district": 1000,  # a district's report (and its other reports and pages)
    "community": 200,  # a community's
    "person": 50,  # a per-person page or API, a scan
    "matrix": 300,  # the plugin matrix of a district
    "job": 60_000,  # each periodic job
}


@dataclass
class Result:
    name: str
    category: str
    times: list[float] = field(default_factory=list)  # ms
    statuses: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def p50(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def p95(self) -> float | None:
        if len(self.times) < 2:
            return self.p50
        return statistics.quantiles(self.times, n=20, method="inclusive")[18]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.statuses if s >= 400)

    def as_dict(self) -> dict:
        goal = GOALS[self.category]
        return dict(
            name=self.name,
            category=self.category,
            goal_ms=goal,
            p50_ms=round(self.p50, 1) if self.p50 is not None else None,
            p95_ms=round(self.p95, 1) if self.p95 is not None else None,
            met=self.p95 is not None and self.p95 < goal,
            runs=len(self.times),
            errors=self.errors,
            statuses=sorted(set(self.statuses)),
            note=self.note,
        )


@dataclass
class Cast:
    """Who and what the requests are about, picked from the data."""

    district: int
    community: int
    admin: int
    staff: int
    volunteer: int
    elder: int
    patroller: int
    activity: int
    month: str
    tokens: dict[str, str] = field(default_factory=dict)


def pick_cast() -> Cast:
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import Membership, Organization
    from core.times import local_today
    from plugins.elder_vouchers.models import Enrolment
    from plugins.patrol.models import Member, Shift
    from plugins.volunteering.models import Activity, Attendance

    s = db.session
    district = s.scalar(select(func.min(Organization.id)).where(Organization.level == "district"))
    # The first community whose volunteers have served (at some scales the first
    # community's activities are all upcoming ones).
    served = select(Attendance.id).where(Attendance.activity_id == Activity.id).exists()
    community = s.scalar(select(func.min(Activity.org_id)).where(served))
    cpath = s.get(Organization, community).path
    admin = s.scalar(
        select(func.min(Membership.user_id)).where(
            Membership.org_id == district, Membership.role == "admin"
        )
    )
    staff = s.scalar(
        select(func.min(Membership.user_id)).where(
            Membership.org_id == community, Membership.role == "staff"
        )
    )
    in_community = (
        select(Membership.user_id)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Organization.path.startswith(cpath), Membership.role == "resident")
    )
    volunteer = s.scalar(
        select(Attendance.user_id)
        .where(Attendance.user_id.in_(in_community))
        .group_by(Attendance.user_id)
        .order_by(func.count().desc(), Attendance.user_id)
        .limit(1)
    )
    elder = s.scalar(select(func.min(Enrolment.user_id)).where(Enrolment.user_id.in_(in_community)))
    patroller = s.scalar(
        select(func.min(Member.user_id))
        .join(Shift, Shift.id == Member.shift_id)
        .where(Shift.org_id == community)
    )
    activity = s.scalar(
        select(Activity.id)
        .where(Activity.org_id == community)
        .order_by(Activity.starts_at.desc())
        .limit(1)
    )
    today = local_today()
    last_month = (date(today.year, today.month, 1) - timedelta(days=1)).strftime("%Y-%m")
    for name, uid in (("volunteer", volunteer), ("elder", elder), ("patroller", patroller)):
        if uid is None:
            raise SystemExit(f"no {name} in community {community}: is this a scale dataset?")
    return Cast(
        district, community, admin, staff, volunteer, elder, patroller, activity, last_month
    )


def operations(c: Cast) -> list[tuple[str, str, str, str]]:
    """(name, category, who, path): the reads to time."""
    m = f"month={c.month}"
    ops = []
    for level, org, who in (("district", c.district, "admin"), ("community", c.community, "staff")):
        ops += [
            (f"{level} report API", level, who, f"/api/v1/orgs/{org}/report?{m}"),
            (f"{level} report page", level, who, f"/orgs/{org}/report?{m}"),
            (f"{level} organization page", level, who, f"/orgs/{org}"),
            (f"{level} 金豆管理 page", level, who, f"/points/orgs/{org}"),
            (f"{level} 光荣榜 page", level, who, f"/points/orgs/{org}/leaderboard"),
            (f"{level} 金豆 report page", level, who, f"/points/orgs/{org}/report?{m}"),
            (f"{level} meals settlement API", level, who,
             f"/api/v1/orgs/{org}/meals/settlement?{m}"),
            (f"{level} vouchers settlement API", level, who,
             f"/api/v1/orgs/{org}/vouchers/settlement?{m}"),
            (f"{level} vouchers anomalies API", level, who,
             f"/api/v1/orgs/{org}/vouchers/anomalies?{m}"),
            (f"{level} casework stats API", level, who, f"/api/v1/orgs/{org}/casework/stats"),
            (f"{level} casework queue API", level, who, f"/api/v1/orgs/{org}/cases"),
            (f"{level} patrol shifts API", level, who, f"/api/v1/orgs/{org}/patrol/shifts"),
            (f"{level} patrol incidents API", level, who,
             f"/api/v1/orgs/{org}/patrol/incidents?status=open"),
            (f"{level} redemption queue API", level, who,
             f"/api/v1/orgs/{org}/redemptions?status=pending"),
        ]  # fmt: skip
    ops.append(("district plugin matrix page", "matrix", "admin", f"/orgs/{c.district}/plugins"))
    ops += [
        # no database: what any request costs on this machine now (the load shows here)
        ("baseline: healthz", "person", "volunteer", "/healthz"),
        ("me API", "person", "volunteer", "/api/v1/me"),
        ("wallet API", "person", "volunteer", "/api/v1/points/wallet"),
        ("wallet history API", "person", "volunteer", "/api/v1/points/transfers"),
        ("my redemptions API", "person", "volunteer", "/api/v1/points/redemptions"),
        ("service record API", "person", "volunteer", "/api/v1/me/service-record"),
        ("activities list API", "person", "volunteer", f"/api/v1/orgs/{c.community}/activities"),
        ("activity API", "person", "volunteer", f"/api/v1/activities/{c.activity}"),
        ("my cases API", "person", "volunteer", "/api/v1/me/cases"),
        ("my vouchers API", "person", "elder", "/api/v1/vouchers/wallet"),
        ("wallet page", "person", "volunteer", "/points/wallet"),
        ("volunteering home page", "person", "volunteer", "/volunteering/"),
        ("service record page", "person", "volunteer", "/volunteering/record"),
        ("my cases page", "person", "volunteer", "/casework/me"),
        ("my vouchers page", "person", "elder", "/vouchers/me"),
        ("my patrols page", "person", "patroller", "/patrol/me"),
    ]
    return ops


def timed(client, method: str, path: str, token: str, body=None) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    resp = client.open(path, method=method, headers=headers, json=body)
    ms = (time.perf_counter() - t0) * 1000
    return ms, resp.status_code


def issue_tokens(c: Cast, extra: list[int]) -> dict[int, str]:
    from core.api import issue_token
    from core.extensions import db
    from core.models import User

    who = {"admin": c.admin, "staff": c.staff, "volunteer": c.volunteer, "elder": c.elder,
           "patroller": c.patroller}  # fmt: skip
    by_id = {}
    for uid in {*who.values(), *extra}:
        by_id[uid] = issue_token(db.session.get(User, uid))
    db.session.commit()
    c.tokens = {name: by_id[uid] for name, uid in who.items()}
    return by_id


def reads(app, c: Cast, repeat: int, deadline: float, per_op: float = 60) -> list[Result]:
    results = []
    client = app.test_client()
    for name, category, who, path in operations(c):
        r = Result(name, category, note=path)
        if time.perf_counter() > deadline:
            r.note = "skipped: over the time budget"
            results.append(r)
            continue
        timed(client, "GET", path, c.tokens[who])  # warm-up
        spent = 0.0
        for _ in range(repeat):
            ms, status = timed(client, "GET", path, c.tokens[who])
            r.times.append(ms)
            r.statuses.append(status)
            spent += ms / 1000
            if spent > per_op and len(r.times) >= 3:  # slow ones: fewer runs
                r.note = f"{path} ({len(r.times)} runs: time cap)"
                break
        results.append(r)
        print(f"  {name:34} p50 {r.p50:8.1f} ms  {'ERR ' + str(r.statuses) if r.errors else ''}",
              flush=True)  # fmt: skip
    return results


def scans(app, c: Cast, n: int) -> list[Result]:
    """A fresh activity on now at the community; ``n`` volunteers scan in, then out."""
    from sqlalchemy import insert, select

    from core import qr
    from core.extensions import db
    from core.models import Membership, Organization, utcnow
    from plugins.volunteering.models import Activity, Signup

    now = utcnow()
    path = db.session.get(Organization, c.community).path
    people = db.session.scalars(
        select(Membership.user_id)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Organization.path.startswith(path), Membership.role == "resident")
        .order_by(Membership.user_id.desc())
        .limit(n)
    ).all()
    aid = db.session.execute(
        insert(Activity)
        .values(org_id=c.community, title="扫码测速活动", category="其他", location="",
                description="", starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=3), capacity=max(n, 1), points=10,
                points_per_hour=6, created_by_id=c.staff, created_at=now, cancel_reason="")
        .returning(Activity.id)
    ).scalar_one()  # fmt: skip
    db.session.execute(
        insert(Signup),
        [dict(activity_id=aid, user_id=u, status="confirmed", queued_at=now, created_at=now)
         for u in people],
    )  # fmt: skip
    db.session.commit()
    tokens = issue_tokens(c, list(people))
    client = app.test_client()
    results = []
    for kind, purpose in (("check-in", "checkin"), ("check-out", "checkout")):
        r = Result(f"{kind} scan", "person", note="POST /api/v1/scan")
        for uid in people:
            code = qr.rotating_token(purpose, {"a": aid})[0]
            ms, status = timed(client, "POST", "/api/v1/scan", tokens[uid], {"token": code})
            r.times.append(ms)
            r.statuses.append(status)
        results.append(r)
        print(f"  {r.name:34} p50 {r.p50:8.1f} ms  {'ERR ' + str(r.statuses) if r.errors else ''}",
              flush=True)  # fmt: skip
    return results


def jobs(deadline: float, only: list[str] | None = None) -> list[Result]:
    """Each job once, as the CLI runs it (see each plugin's cli.py)."""
    from core.extensions import db
    from core.models import utcnow
    from core.times import local_now, local_today
    from plugins.casework import services as casework
    from plugins.elder_vouchers import services as vouchers
    from plugins.patrol import services as patrol
    from plugins.points import services as points
    from plugins.volunteering import services as volunteering

    today = local_today()
    this_month = date(today.year, today.month, 1)
    runs = [
        ("job: points expire", lambda: points.expire_all()),
        ("job: volunteering close-attendance", lambda: volunteering.close_attendance()),
        ("job: vouchers issue (this month)", lambda: [
            (p.id, o) for p, o in vouchers.issue_all(this_month)]),
        ("job: vouchers expire", lambda: vouchers.expire_all(local_now())),
        ("job: patrol close-shifts", lambda: patrol.close_shifts()),
        ("job: casework escalate", lambda: casework.escalate_overdue(utcnow())),
    ]  # fmt: skip
    results = []
    for name, run in runs:
        if only and not any(word in name for word in only):
            continue
        r = Result(name, "job")
        if time.perf_counter() > deadline:
            r.note = "skipped: over the time budget"
            results.append(r)
            print(f"  {name:34} skipped (time budget)", flush=True)
            continue
        t0 = time.perf_counter()
        try:
            outcome = run()
            db.session.commit()
            r.statuses.append(200)
            r.note = str(outcome)[:200]
        except Exception as err:  # a job that fails is a finding, not a crash of the bench
            db.session.rollback()
            r.statuses.append(500)
            r.note = f"{type(err).__name__}: {err}"[:200]
        r.times.append((time.perf_counter() - t0) * 1000)
        results.append(r)
        print(f"  {name:34} {r.times[0] / 1000:8.1f} s   {r.note}", flush=True)
    return results


def dataset_size() -> dict:
    from sqlalchemy import text

    from core.extensions import db

    counts = {}
    for table in ("organization", "user_account", "ledger_transfer", "volunteering_attendance",
                  "points_award", "meals_serving", "elder_vouchers_issuance", "patrol_shift",
                  "casework_case"):  # fmt: skip
        counts[table] = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    communities = db.session.execute(
        text("SELECT count(*) FROM organization WHERE level = 'community'")
    ).scalar()
    counts["scale"] = round(communities / 1000, 4)
    return counts


def measure(
    app,
    *,
    repeat: int,
    scans_n: int,
    with_jobs: bool,
    budget: float | None,
    per_op: float = 60,
    jobs_only: bool = False,
    only_jobs: list[str] | None = None,
) -> dict:
    deadline = time.perf_counter() + (budget or 1e9)
    with app.app_context():
        size = dataset_size()
        print(f"dataset: scale {size['scale']}, {size['ledger_transfer']:,} transfers", flush=True)
        results = []
        if not jobs_only:
            cast = pick_cast()
            issue_tokens(cast, [])
            results = reads(app, cast, repeat, deadline, per_op)
            if time.perf_counter() < deadline:
                results += scans(app, cast, scans_n)
        if with_jobs or jobs_only:
            results += jobs(deadline, only_jobs)
    return {
        "scale": size["scale"],
        "dataset": size,
        # 1-minute load average at the end: the machine is shared, figures are noisy
        "load_average": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [r.as_dict() for r in results],
    }


def table(report: dict) -> str:
    lines = [f"scale {report['scale']}: p50/p95 in ms (jobs: one run, s); goals are for 1.0",
             f"{'operation':36} {'p50':>9} {'p95':>9} {'goal':>8}  met?  errors"]  # fmt: skip
    for r in report["results"]:
        if r["p50_ms"] is None:
            lines.append(f"{r['name']:36} {'—':>9} {'—':>9} {'':>8}  {r['note']}")
            continue
        job = r["category"] == "job"
        unit = 1000 if job else 1

        def fmt(v, job=job, unit=unit):
            return f"{v / unit:8.1f}s" if job else f"{v:9.1f}"

        goal = f"{r['goal_ms'] / unit:.0f}{'s' if job else 'ms'}"
        lines.append(
            f"{r['name']:36} {fmt(r['p50_ms'])} {fmt(r['p95_ms'])} {goal:>8}  "
            f"{'yes ' if r['met'] else 'NO  '}  {r['errors'] or ''}"
        )
    return "\n".join(lines)


def compare(reports: list[dict]) -> str:
    reports = sorted(reports, key=lambda r: r["scale"])
    names = []
    for rep in reports:
        names += [r["name"] for r in rep["results"] if r["name"] not in names]
    head = "".join(f"{'@' + str(rep['scale']):>12}" for rep in reports)
    lines = [f"p50 in ms by scale (jobs: one run)\n{'operation':36}{head}{'growth':>9}"]
    for name in names:
        vals = []
        for rep in reports:
            hit = next((r for r in rep["results"] if r["name"] == name), None)
            vals.append(hit["p50_ms"] if hit else None)
        cells = "".join(f"{v:12.1f}" if v is not None else f"{'—':>12}" for v in vals)
        known = [v for v in vals if v]
        growth = f"{known[-1] / known[0]:8.1f}x" if len(known) >= 2 else ""
        lines.append(f"{name:36}{cells}{growth:>9}")
    return "\n".join(lines)
