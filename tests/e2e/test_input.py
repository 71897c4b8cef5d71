"""Bad input of every kind gets a deliberate 4xx and changes nothing (the API reference (docs/api.md) and
security invariant 6). Uses one server for the module: nothing here moves the clock."""

import json

import pytest

from harness import assert_json, assert_problem, new_email, send_ok


@pytest.fixture(scope="module")
def api(mod_server):
    return mod_server.api("acme")


@pytest.fixture(scope="module")
def hook(mod_stack):
    return mod_stack.acme_hook


def assert_field_error(resp, field):
    p = assert_problem(resp, 400, "invalid_request")
    errors = p.get("errors")
    assert isinstance(errors, list) and errors, p
    for e in errors:
        assert isinstance(e, dict) and isinstance(e.get("field"), str) and isinstance(e.get("message"), str), p
        assert e["message"], p
    assert field in [e["field"] for e in errors], f"no error for field {field!r} in {p}"
    return p


def assert_nothing_sent(api, hook, to):
    """A valid send to `to` right after is accepted (no cooldown) and is the only delivery."""
    b = send_ok(api, to)
    hook.wait_for(b["id"])
    assert [e["id"] for e in hook.events_to(to)] == [b["id"]]


BAD_FIELDS = [
    ({"code_length": "6"}, "code_length"),
    ({"code_length": 3}, "code_length"),
    ({"code_length": 11}, "code_length"),
    ({"code_length": 6.5}, "code_length"),
    ({"code_length": -6}, "code_length"),
    ({"ttl_seconds": 10}, "ttl_seconds"),
    ({"ttl_seconds": 29}, "ttl_seconds"),
    ({"ttl_seconds": 3601}, "ttl_seconds"),
    ({"ttl_seconds": "300"}, "ttl_seconds"),
    ({"metadata": "x"}, "metadata"),
    ({"metadata": [1, 2]}, "metadata"),
    ({"metadata": 5}, "metadata"),
    ({"metadata": {"blob": "a" * 1100}}, "metadata"),
    ({"channel": "pigeon"}, "channel"),
    ({"channel": 5}, "channel"),
    ({"channel": "sms"}, "channel"),     # not configured for acme
    ({"channel": "email"}, "channel"),   # not configured for acme
    ({"channel": "console"}, "channel"),  # not configured for acme
    ({"locale": 5}, "locale"),
]


@pytest.mark.parametrize("extra,field", BAD_FIELDS, ids=[f"{f}={json.dumps(e[f])[:20]}" for e, f in BAD_FIELDS])
def test_bad_field_is_400_and_changes_nothing(api, hook, extra, field):
    to = new_email()
    r = api.send({"to": to, **extra})
    assert_field_error(r, field)
    assert to not in r.text
    assert_nothing_sent(api, hook, to)


BAD_TO = [123, None, "", "not-an-email", "alice@", "@example.com", "alice@@example.com",
          "alice smith@example.com", "alice@exa mple.com", "+0123456789", "+12", "+1234567890123456",
          "+1415abc0100", "14155550100", "+", ["a@example.com"], {"to": "a@example.com"}]


@pytest.mark.parametrize("to", BAD_TO, ids=[json.dumps(t) for t in BAD_TO])
def test_bad_recipient_is_400(api, to):
    assert_field_error(api.send({"to": to}), "to")


@pytest.mark.parametrize("body", [{}, {"channel": "webhook"}, {"code_length": 6}])
def test_missing_to_is_400(api, body):
    assert_field_error(api.send(body), "to")


def test_several_errors_are_all_reported(api):
    p = assert_problem(api.send({"to": new_email(), "code_length": 99, "ttl_seconds": 1}), 400, "invalid_request")
    fields = {e["field"] for e in p["errors"]}
    assert {"code_length", "ttl_seconds"} <= fields, p


@pytest.mark.parametrize("raw", [
    b"{", b'{"to": ', b'{"to": "a@example.com",}', b"{'to': 'a@example.com'}", b"nul",
    b'{"to": "a@example.com"} trailing', b"", b"\xff\xfe{}", b'{"to": "\xff@example.com"}',
])
def test_malformed_json_is_400(api, raw):
    assert_problem(api.post("/v1/otp/send", raw=raw), 400, "invalid_request")


@pytest.mark.parametrize("raw", [b"[]", b'["a@example.com"]', b'"a@example.com"', b"42", b"null", b"true"])
def test_json_not_an_object_is_400(api, raw):
    assert_problem(api.post("/v1/otp/send", raw=raw), 400, "invalid_request")
    assert_problem(api.post("/v1/otp/verify", raw=raw), 400, "invalid_request")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(api, hook, ctype):
    to = new_email()
    r = api.post("/v1/otp/send", raw=json.dumps({"to": to}), content_type=ctype)
    assert_problem(r, 415)
    r = api.post("/v1/otp/verify", raw=json.dumps({"to": to, "code": "123456"}), content_type=ctype)
    assert_problem(r, 415)
    assert_nothing_sent(api, hook, to)


def test_json_with_charset_is_accepted(api):
    to = new_email()
    r = api.post("/v1/otp/send", raw=json.dumps({"to": to}), content_type="application/json; charset=utf-8")
    assert_json(r, 201)


def test_body_just_under_16k_is_accepted(api):
    to = new_email()
    raw = json.dumps({"to": to}).encode()
    raw = raw[:-1] + b" " * (16 * 1024 - 100 - len(raw)) + b"}"
    assert_json(api.post("/v1/otp/send", raw=raw), 201)


def test_same_json_keys_with_unicode_escapes(api, hook):
    # JSON escapes are decoded before validation: "\u0040" is "@"
    to = new_email()
    raw = json.dumps({"to": to}).replace("@", "\\u0040")
    b = assert_json(api.post("/v1/otp/send", raw=raw), 201)
    assert hook.wait_for(b["id"])["to"] == to


def test_unknown_route_is_404(api):
    for method, path in [("GET", "/nope"), ("GET", "/v1/otp"), ("POST", "/v1/otp/send/extra"),
                         ("GET", "/v2/otp/send"), ("POST", "/v1/otp/abc/uncancel")]:
        r = api.request(method, path, {} if method == "POST" else None)
        assert_problem(r, 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/v1/otp/send", "POST"),
    ("PUT", "/v1/otp/send", "POST"),
    ("GET", "/v1/otp/verify", "POST"),
    ("DELETE", "/v1/otp/abcdefghijklmnopqrstuv", "GET"),
    ("POST", "/v1/otp/abcdefghijklmnopqrstuv", "GET"),
    ("GET", "/v1/otp/abcdefghijklmnopqrstuv/cancel", "POST"),
    ("POST", "/healthz", "GET"),
])
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    r = api.request(method, path, {} if method in ("POST", "PUT") else None)
    assert_problem(r, 405)
    allow = r.header("Allow")
    assert allow is not None, r
    assert allowed in [m.strip() for m in allow.split(",")], allow
    assert method not in [m.strip() for m in allow.split(",")], allow


def test_server_healthy_after_bad_input(mod_server, api):
    assert api.get("/healthz").status == 200
    assert mod_server.alive()
