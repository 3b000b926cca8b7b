"""Fuzz the JSON API with schemathesis, in-process over WSGI.

Loads the app's own OpenAPI document (``/api/v1/openapi.json``), seeds a small
tree (a district with two communities, a staff member and a volunteer, every
plugin on), and sends generated requests to every operation with either
person's bearer token. Fails (exit 1) on any 5xx or a response that breaks its
documented schema, printing one line per distinct failure.

    .venv/bin/python scripts/fuzz_api.py [--examples 20] [--database-url URL] [--only SUBSTR]

Needs the ``test`` extra (schemathesis). A few minutes at most with the default.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

STATS: dict[int, int] = defaultdict(int)  # requests per status class
SKIP = {"auth.api_revoke_token"}  # would log the fuzzing person out mid-run


class Errors(logging.Handler):
    """Remembers the last exception the app logged, to name a 500's cause."""

    last: str = ""

    def emit(self, record):
        if record.exc_info:
            Errors.last = f"{record.exc_info[0].__name__}: {str(record.exc_info[1])[:160]}"


def build_app(database_url: str):
    from flask_migrate import upgrade

    from core import create_app
    from core.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "fuzz",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "JINDOU_SECURE_COOKIES": False,
        }
    )
    with app.app_context():
        db.drop_all()
        upgrade(revision="heads")
    return app


def seed(app) -> dict[str, int]:
    from core.extensions import db
    from core.models import Membership, Organization, OrgPlugin, User

    with app.app_context():

        def org(name, level, parent=None):
            o = Organization(name=name, level=level, parent_id=parent.id if parent else None)
            db.session.add(o)
            db.session.flush()
            o.path = f"{parent.path if parent else '/'}{o.id}/"
            return o

        district = org("盘龙区", "district")
        sub = org("联盟街道", "subdistrict", district)
        community = org("金星社区", "community", sub)
        org("东华社区", "community", sub)
        people = {}
        for key, phone, role, where in [
            ("staff", "13800000001", "staff", community),
            ("volunteer", "13800000002", "resident", community),
        ]:
            user = User(phone=phone, name=key)
            user.set_password("fuzz-password-1")
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, org_id=where.id, role=role))
            people[key] = user.id
        for name in app.extensions["jindou_plugins"].names:
            db.session.add(OrgPlugin(org_id=district.id, plugin=name, enabled=True))
        db.session.commit()
    return people


def fresh_token(app, user_id: int) -> dict:
    from core.api import issue_token
    from core.extensions import db
    from core.models import User

    with app.app_context():
        token = issue_token(db.session.get(User, user_id))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def fuzz(app, people, examples: int, only: str | None) -> dict:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: dict[tuple, list[str]] = defaultdict(list)
    for result in schema.get_all_operations():
        operation = result.ok()
        name = operation.definition.raw.get("operationId", "")
        label = f"{operation.method.upper()} {operation.path}"
        if name.rsplit(".", 1)[0] in SKIP or (only and only not in label):
            continue

        run = _fuzzer(app, people, operation, label, examples, failures)
        run()
    return failures


def _fuzzer(app, people, operation, label, examples, failures):
    """One hypothesis test for ``operation`` (a factory: @given allows no defaults)."""
    # Valid and invalid bodies alike: a bad input must be a 4xx, never a 5xx.
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, who=st.sampled_from(sorted(people)), small_ids=st.booleans(), data=st.data())
    def run(case, who, small_ids, data):
        if small_ids and case.path_parameters:  # hit rows that exist, not only 404s
            case.path_parameters = {k: data.draw(st.integers(1, 4)) for k in case.path_parameters}
        headers = fresh_token(app, people[who])
        Errors.last = ""
        response = case.call(headers=headers)
        STATS[response.status_code // 100] += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance], headers=headers
            )
        except (Exception, BaseExceptionGroup) as err:  # schemathesis groups failures
            cause = Errors.last or str(err).strip().splitlines()[0][:160]
            key = (label, response.status_code, cause)
            if len(failures[key]) < 1:
                body = response.content[:200] if response.content else b""
                failures[key].append(
                    f"{who}: {case.method} {case.formatted_path} "
                    f"body={case.body!r:.120} -> {body!r}"
                )

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="examples per operation")
    parser.add_argument("--database-url", help="an empty database (default: temporary SQLite)")
    parser.add_argument("--only", help="fuzz only operations whose 'METHOD /path' contains this")
    args = parser.parse_args()
    logging.getLogger("jindou").addHandler(Errors())
    logging.getLogger("jindou").propagate = False
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/fuzz.db"
        app = build_app(url)
        app.logger.addHandler(Errors())
        failures = fuzz(app, seed(app), args.examples, args.only)
    for (label, status, cause), samples in sorted(failures.items()):
        print(f"FAIL {label} -> {status}: {cause}")
        for sample in samples:
            print(f"     e.g. {sample}")
    print(
        f"requests by status class: {dict(sorted(STATS.items()))}; "
        f"{len(failures)} distinct failure(s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
