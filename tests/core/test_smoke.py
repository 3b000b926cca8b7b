

def test_register_then_token_then_me(client, tree):
    r = client.post("/api/v1/auth/register", json={"phone": "13912345678", "name": "张三", "password": "12345678"})
    assert r.status_code == 201, r.json
    assert r.json["phone"] == "13912345678"
    assert "password" not in r.json
    r = client.post("/api/v1/auth/tokens", json={"phone": "13912345678", "password": "12345678"})
    assert r.status_code == 201
    token = r.json["token"]
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json["memberships"] == []
