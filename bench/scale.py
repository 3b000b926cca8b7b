"""Kunming at full size: build a dataset at a scale factor and measure what grows.

    .venv/bin/python bench/scale.py build   --scale 0.1 --db postgresql://...
    .venv/bin/python bench/scale.py measure --db postgresql://... [--repeat 20] [--json out.json]
    .venv/bin/python bench/scale.py compare a.json b.json ...
    .venv/bin/python bench/scale.py ci      --scale 0.01 [--budget-seconds 300]

Scale 1.0 is 1,000,000 volunteers and ~10,000,000 ledger transfers; 0.1 and
0.01 are a tenth and a hundredth (the shape is described in scale_build.py
and scale_plugins.py). ``build`` drops every table of the database it is
given. ``measure`` MUTATES the dataset (its scans and the jobs it runs last):
measure a ``createdb -T`` clone if you want to keep the original.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from scale_common import Phases, make_app, reset_sequences


def build(scale: float, database_url: str, seed: int = 15, fk_checks: bool | None = None) -> dict:
    """Drop and rebuild ``database_url`` at ``scale``; the counts and phase times.
    Foreign keys are checked row by row at 0.01 and below (``fk_checks`` None)."""
    import scale_build as b
    import scale_plugins as p

    from core import ledger
    from core.extensions import db
    from core.models import utcnow

    if fk_checks is None:
        fk_checks = scale <= 0.01
    app = make_app(database_url, build_session=True, fk_checks=fk_checks)
    phase = Phases()
    with app.app_context():
        w = b.World(scale=scale, now=utcnow(), rng=random.Random(seed))
        with phase("schema (drop, upgrade heads)"):
            b.schema(app)
        with phase("organization tree"):
            b.tree(w)
        with phase("people and memberships"):
            b.people(w)
        with phase("points accounts"):
            b.points_accounts(w)
        with phase("volunteering + 金豆 awards"):
            b.volunteering(w)
        with phase("rewards and redemptions"):
            b.rewards(w)
        with phase("meals"):
            p.meals(w)
        with phase("elder vouchers"):
            vacuum("ANALYZE")  # issuance's anti-join plans need statistics (as autovacuum keeps)
            p.vouchers(w)
        with phase("patrol"):
            p.patrol(w)
        with phase("casework"):
            p.casework(w)
        with phase("sequences, ANALYZE"):
            reset_sequences()
            vacuum("ANALYZE")  # without statistics the summaries' plans take minutes
        with phase("summaries the daily jobs keep (points)"):
            p.points_summaries(w)
        with phase("VACUUM ANALYZE"):
            vacuum("VACUUM ANALYZE")
        with phase("jindou ledger check"):
            failures = ledger.failures()
        w.counts["ledger_transfers"] = db.session.scalar(
            db.select(db.func.count()).select_from(ledger.Transfer)
        )
        w.counts["ledger_accounts"] = db.session.scalar(
            db.select(db.func.count()).select_from(ledger.Account)
        )
        db.session.close()
        db.engine.dispose()
    total = time.perf_counter() - phase.start
    print(f"\nbuilt scale {scale} in {total:.0f} s")
    for name, n in w.counts.items():
        print(f"  {name:20} {n:>12,}")
    if failures:
        print("LEDGER CHECK FAILED:", *failures, sep="\n  ")
        raise SystemExit(1)
    print("  ledger check: ok")
    return {"scale": scale, "seconds": round(total, 1), "phases": phase.times, "counts": w.counts}


def vacuum(command: str) -> None:
    """``command`` (ANALYZE, VACUUM ANALYZE) outside a transaction."""
    from core.extensions import db

    db.session.close()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(command)


def run_measure(
    database_url: str,
    *,
    repeat: int,
    scans_n: int,
    jobs: bool,
    budget=None,
    per_op: float = 60,
    jobs_only: bool = False,
    only_jobs=None,
):
    import scale_measure

    app = make_app(database_url)
    report = scale_measure.measure(
        app,
        repeat=repeat,
        scans_n=scans_n,
        with_jobs=jobs,
        budget=budget,
        per_op=per_op,
        jobs_only=jobs_only,
        only_jobs=only_jobs,
    )
    print()
    print(scale_measure.table(report))
    return report


def save(report: dict, path: str | None) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(report, f, ensure_ascii=False, indent=1, default=str)
        print(f"wrote {path}")


def errors_in(report: dict) -> list[str]:
    return [f"{r['name']}: {r['statuses']} {r['note']}" for r in report["results"] if r["errors"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="drop and rebuild the dataset")
    p.add_argument("--scale", type=float, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--json", help="write the build's counts and timings here")
    p.add_argument(
        "--fk-checks", choices=("auto", "on", "off"), default="auto",
        help="check foreign keys row by row (auto: at 0.01 and below)",
    )  # fmt: skip
    m = sub.add_parser("measure", help="time reports, pages, per-person APIs, scans, then jobs")
    m.add_argument("--db", required=True)
    m.add_argument("--repeat", type=int, default=20)
    m.add_argument("--scans", type=int, default=50, help="volunteers scanning in and out")
    m.add_argument(
        "--no-jobs", action="store_true", help="leave the jobs out (no mutation but scans)"
    )
    m.add_argument(
        "--max-seconds-per-op", type=float, default=60,
        help="stop repeating an operation after this long (at least 3 runs)",
    )  # fmt: skip
    m.add_argument("--jobs-only", action="store_true", help="only the jobs (e.g. on a clone)")
    m.add_argument("--job", action="append", help="only jobs whose name contains this (repeatable)")
    m.add_argument("--json")
    c = sub.add_parser("compare", help="how each operation grows across scales")
    c.add_argument("files", nargs="+")
    ci = sub.add_parser("ci", help="build + measure with few repeats inside a time budget")
    ci.add_argument("--scale", type=float, default=0.01)
    ci.add_argument("--db", required=True)
    ci.add_argument("--budget-seconds", type=float, default=300)
    ci.add_argument("--json")
    args = parser.parse_args(argv)
    if args.command == "build":
        fk = {"auto": None, "on": True, "off": False}[args.fk_checks]
        save(build(args.scale, args.db, args.seed, fk), args.json)
    elif args.command == "measure":
        report = run_measure(
            args.db, repeat=args.repeat, scans_n=args.scans, jobs=not args.no_jobs,
            per_op=args.max_seconds_per_op, jobs_only=args.jobs_only,
            only_jobs=args.job,
        )  # fmt: skip
        save(report, args.json)
        return 1 if errors_in(report) else 0
    elif args.command == "compare":
        import scale_measure

        reports = []
        for name in args.files:
            with open(name) as f:
                reports.append(json.load(f))
        print(scale_measure.compare(reports))
    elif args.command == "ci":
        # Figures, not pass/fail: goals are for scale 1.0. Errors (a 4xx/5xx, a
        # failed job, a broken ledger) fail the run.
        t0 = time.perf_counter()
        built = build(args.scale, args.db)
        left = args.budget_seconds - (time.perf_counter() - t0)
        report = run_measure(
            args.db, repeat=3, scans_n=10, jobs=True, budget=max(left, 60), per_op=10
        )
        report["build"] = built
        report["seconds"] = round(time.perf_counter() - t0, 1)
        save(report, args.json)
        print(f"ci: {report['seconds']} s (budget {args.budget_seconds:.0f} s)")
        bad = errors_in(report)
        if bad:
            print("ERRORS:", *bad, sep="\n  ")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
