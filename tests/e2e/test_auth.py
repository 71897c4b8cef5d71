"""Authentication and tenant scoping (the API reference (docs/api.md), "Authentication and tenants")."""

import secrets

import pytest

from harness import Api, assert_json, assert_problem, new_email, send_ok


def _calls(api: Api, vid: str):
    return [
        ("send", lambda h: api.send({"to": new_email()}, headers=h)),
        ("verify", lambda h: api.verify({"id": vid, "code": "123456"}, headers=h)),
        ("status", lambda h: api.status(vid, headers=h)),
        ("cancel", lambda h: api.cancel(vid, headers=h)),
    ]


@pytest.mark.parametrize("authorization", [
    None,                                  # missing
    "Bearer sk_unknown_" + "0" * 32,       # unknown key
    "Bearer ",                             # empty key
    "Bearer",                              # no key at all
    "Basic YWNtZTpzZWNyZXQ=",              # wrong scheme
    "sk_acme_without_scheme",              # malformed
])
def test_bad_authorization_is_401(server, authorization):
    api = server.anon()
    vid = send_ok(server.api("acme"), new_email())["id"]
    for name, call in _calls(api, vid):
        r = call({"Authorization": authorization} if authorization is not None else None)
        assert_problem(r, 401, "unauthorized")
        assert r.header("X-Request-Id"), name


def test_key_hash_is_not_a_key(server):
    # the config holds sha256:<hex>; presenting the hash itself must not authenticate
    from harness import sha256_hex
    api = server.api(key=sha256_hex(server.keys["acme"]))
    assert_problem(api.send({"to": new_email()}), 401, "unauthorized")
    api = server.api(key="sha256:" + sha256_hex(server.keys["acme"]))
    assert_problem(api.send({"to": new_email()}), 401, "unauthorized")


def test_key_of_one_tenant_is_scoped_to_it(acme, globex):
    a = send_ok(acme, new_email())
    g = send_ok(globex, new_email())
    assert_json(acme.status(a["id"]), 200)
    assert_json(globex.status(g["id"]), 200)
    assert_problem(acme.status(g["id"]), 404, "not_found")
    assert_problem(globex.status(a["id"]), 404, "not_found")


def test_auth_checked_before_body(server):
    api = server.anon()
    assert_problem(api.post("/v1/otp/send", raw=b"{not json"), 401, "unauthorized")


def test_operations_need_no_key(server):
    api = server.anon()
    for path in ("/healthz", "/readyz", "/metrics", "/v1/openapi.json"):
        r = api.get(path)
        assert r.status == 200, (path, r)


def test_random_keys_never_authenticate(server):
    api = server.anon()
    for _ in range(5):
        r = api.send({"to": new_email()}, headers={"Authorization": "Bearer " + secrets.token_urlsafe(24)})
        assert_problem(r, 401, "unauthorized")
