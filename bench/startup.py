"""Start-up cost and per-request SQL of one worker (figures, not pass/fail).

    .venv/bin/python bench/startup.py            # SQLite in a temp dir
    JINDOU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/startup.py

Prints: time to import and ``create_app()`` with all plugins (in a fresh
process), the RSS of that process after its first request, and the SQL
statements one authenticated plugin request costs for the district and for a
building five levels down (goal: the same number).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, time, resource
t0 = time.perf_counter()
from core import create_app
app = create_app()
t1 = time.perf_counter()
client = app.test_client()
client.get("/login")
rss_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
print(json.dumps({"create_app_s": t1 - t0, "rss_mb": rss_kb / 1024}))
"""


def startup(env) -> dict:
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["create_app_s"])
    return runs[len(runs) // 2]


def statements_per_request(env) -> dict:
    os.environ.update(env)
    from flask_migrate import upgrade
    from sqlalchemy import event

    from core import create_app
    from core.api import issue_token
    from core.extensions import db
    from core.models import Membership, Organization, OrgPlugin, User

    app = create_app()
    manager = app.extensions["jindou_plugins"]
    with app.app_context():
        upgrade(revision="heads")
        parent, orgs = None, []
        for level in ("district", "subdistrict", "community", "group", "building"):
            org = Organization(name=f"bench-{level}", level=level, parent_id=parent and parent.id)
            db.session.add(org)
            db.session.flush()
            org.path = f"{parent.path if parent else '/'}{org.id}/"
            orgs.append(org)
            parent = org
        user = User(phone="13300000000", name="bench", is_platform_admin=False)
        user.set_password("bench-password")
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, org_id=orgs[0].id, role="admin"))
        for name in manager.names:
            db.session.add(OrgPlugin(org_id=orgs[0].id, plugin=name, enabled=True))
        token = issue_token(user)
        db.session.commit()
        ids = {"district": orgs[0].id, "building": orgs[-1].id}
    # a GET route of a plugin that names only the organization, else a core one
    rule = next(
        (
            r.rule
            for r in app.url_map.iter_rules()
            if r.endpoint.split(".")[0] in manager.names
            and set(r.arguments) == {"org_id"}
            and "GET" in r.methods
            and r.rule.startswith("/api/")
        ),
        "/api/v1/orgs/<int:org_id>/plugins",
    )
    counts = {}
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        engine = db.engine
    for level, org_id in ids.items():
        url = rule.replace("<int:org_id>", str(org_id))
        client.get(url, headers=headers)
        seen: list[str] = []

        def listener(conn, cursor, statement, *rest, seen=seen):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        status = client.get(url, headers=headers).status_code
        event.remove(engine, "before_cursor_execute", listener)
        counts[level] = (len(seen), status)
    return {
        "route": rule,
        **{k: v[0] for k, v in counts.items()},
        "status": {k: v[1] for k, v in counts.items()},
    }


def main():
    tmp = tempfile.mkdtemp()
    env = dict(os.environ)
    env.setdefault("JINDOU_DATABASE_URL", f"sqlite:///{tmp}/bench.db")
    env.setdefault("JINDOU_SECRET_KEY", "bench")
    s = startup(env)
    print(
        f"create_app() with all plugins, fresh process (median of 5): {s['create_app_s']:.2f} s"
        "  (goal < 1.5 s)"
    )
    print(f"RSS of one worker after its first request: {s['rss_mb']:.0f} MB  (goal < 100 MB)")
    q = statements_per_request(env)
    print(
        f"SQL statements for one authenticated request to {q['route']}: "
        f"district {q['district']}, building {q['building']}  (goal: equal)  {q['status']}"
    )


if __name__ == "__main__":
    main()
