"""OpenAPI generated from the schemas, and the command line of API.md."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import User


def test_openapi_lists_every_api_route_with_schemas(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    assert len(spec["paths"]) == len(
        {r.replace("<int:", "{").replace("<", "{").replace(">", "}") for r in rules}
    )
    register = spec["paths"]["/api/v1/auth/register"]["post"]
    body = register["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Register"}
    schema = spec["components"]["schemas"]["Register"]
    assert set(schema["required"]) == {"phone", "name", "password"}
    assert "201" in register["responses"] and "400" in register["responses"]
    assert (
        spec["paths"]["/api/v1/orgs/{org_id}/plugins/{name}"]["put"]["parameters"][0]["name"]
        == "org_id"
    )


def test_create_admin_prints_the_id(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-admin",
            "--phone",
            "13700000000",
            "--name",
            "超级管理员",
            "--password",
            "long-password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.phone == "13700000000"))
    assert result.output.strip() == str(user.id) and user.is_platform_admin
    assert "long-password" not in result.output
    again = runner.invoke(
        args=[
            "create-admin",
            "--phone",
            "13700000000",
            "--name",
            "x",
            "--password",
            "long-password",
        ]
    )
    assert again.exit_code != 0 and "已注册" in again.output
    bad = runner.invoke(
        args=["create-admin", "--phone", "123", "--name", "x", "--password", "short"]
    )
    assert bad.exit_code != 0


def test_plugins_command_lists_installed_plugins(app):
    result = app.test_cli_runner().invoke(args=["plugins"])
    assert result.exit_code == 0
    lines = dict(line.split("\t", 1) for line in result.output.strip().splitlines())
    assert set(lines) == set(app.extensions["jindou_plugins"].names)
    assert "示例" in lines["sample"] and "Sample" in lines["sample"]


def test_demo_seeds_the_district_and_prints_logins(make_app, tmp_path, monkeypatch):
    from core import cli

    app = make_app()  # the plugins this run loads: the demo upgrades their branches too
    with app.app_context():
        monkeypatch.setattr(cli, "create_app", lambda: app)
        result = app.test_cli_runner().invoke(cli.demo, ["--no-serve"])
        assert result.exit_code == 0, result.output
        assert "13800000001" in result.output and "jindou2026" in result.output
        from core.models import Organization

        levels = db.session.scalars(select(Organization.level)).all()
        assert levels.count("district") == 1 and levels.count("subdistrict") == 2
        assert levels.count("community") == 4 and "group" in levels and "building" in levels
        _demo_elders()


def _demo_elders():
    """Two elders without phones (85, and 68 in hardship), with cards and a relative."""
    from core.models import User
    from core.people import services

    elders = db.session.scalars(select(User).where(User.phone.is_(None)).order_by(User.id)).all()
    assert [(services.age_of(e), e.hardship, e.password_hash) for e in elders] == [
        (85, False, None),
        (68, True, None),
    ]
    assert all(services.active_card(e) is not None for e in elders)
    volunteer = db.session.scalar(select(User).where(User.phone == "13900000001"))
    assert services.dependants_of(volunteer) == [elders[0]]


def test_spec_says_log_in_and_register_need_no_token(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/auth/register", "/api/v1/auth/tokens", "/api/v1/auth/password-reset"):
        assert paths[path]["post"]["security"] == [], path
    assert paths["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    # the registry's limits reach the spec (schemathesis checks answers against it)
    register = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Register"]
    assert register["properties"]["name"]["maxLength"] == 50
