"""The opt-in compatibility facade for the original service (the API reference (docs/api.md),
"Compatibility facade"): GET {path}?email= sends, POST {path} verifies, answers in plain text."""

import urllib.parse

import pytest

from harness import new_email


def text_of(r):
    return r.text.strip().strip('"')


@pytest.fixture
def compat(stack):
    srv = stack.otpd(overrides={"compat": {"enabled": True, "tenant": "acme", "path": "/otp"}})
    return srv, srv.anon(), stack.acme_hook


def send(api, addr):
    return api.get("/otp?email=" + urllib.parse.quote(addr, safe="@"))


def verify(api, addr, otp):
    return api.post("/otp", {"email": addr, "otp": otp})


def as_number(code):
    return int(code) if not code.startswith("0") else code


def test_send_and_verify(compat):
    srv, api, hook = compat
    addr = new_email()
    r = send(api, addr)
    assert r.status == 200 and text_of(r) == "otp send successfully", r
    event = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == addr)[0].json
    assert event["tenant"] == "acme" and len(event["code"]) == 6 and event["code"].isdigit()
    r = send(api, addr)
    assert r.status == 409 and text_of(r) == "current otp not expired", r
    r = verify(api, addr, as_number(event["code"]))
    assert r.status == 200 and text_of(r) == "otp verified successfully", r
    r = verify(api, addr, event["code"])  # single use
    assert r.status == 404 and text_of(r) == "invalid otp", r


def test_code_as_string_and_wrong_code(compat):
    srv, api, hook = compat
    addr = new_email()
    assert send(api, addr).status == 200
    code = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == addr)[0].json["code"]
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    r = verify(api, addr, wrong)
    assert r.status == 403 and text_of(r) == "invalid otp", r
    r = verify(api, addr, code)
    assert r.status == 200 and text_of(r) == "otp verified successfully", r


def test_nothing_pending_is_404(compat):
    _, api, _ = compat
    r = verify(api, new_email(), "123456")
    assert r.status == 404 and text_of(r) == "invalid otp", r


def test_expired_is_401_and_a_new_send_is_allowed(compat):
    srv, api, hook = compat
    addr = new_email()
    assert send(api, addr).status == 200
    code = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == addr)[0].json["code"]
    srv.advance(301)
    r = verify(api, addr, code)
    assert r.status == 401 and text_of(r) == "otp expired", r
    r = send(api, addr)
    assert r.status == 200 and text_of(r) == "otp send successfully", r


def test_attempt_limit_still_applies(compat):
    _, api, hook = compat
    addr = new_email()
    assert send(api, addr).status == 200
    code = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == addr)[0].json["code"]
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    for _ in range(5):
        r = verify(api, addr, wrong)
        assert r.status == 403 and text_of(r) == "invalid otp", r
    r = verify(api, addr, code)  # locked: the right code no longer works
    assert r.status == 403 and text_of(r) == "invalid otp", r


def test_email_query_decoding(compat):
    _, api, hook = compat
    n = new_email().split("@")[0]
    # %2B decodes to '+', and a literal '+' stays '+' (not a space), as API Gateway does
    r = api.get(f"/otp?email={n}a%2Btag%40example.com")
    assert r.status == 200, r
    r = api.get(f"/otp?email={n}b+tag@example.com")
    assert r.status == 200, r
    for addr in (f"{n}a+tag@example.com", f"{n}b+tag@example.com"):
        hook.wait_hits(lambda h, a=addr: isinstance(h.json, dict) and h.json.get("to") == a)


def test_rate_limit_is_429_too_many_requests(compat):
    _, api, hook = compat
    addr = new_email()
    for i in range(5):
        r = send(api, addr)
        assert r.status == 200, (i, r)
        code = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == addr, count=i + 1)[-1].json["code"]
        assert verify(api, addr, code).status == 200
    r = send(api, addr)  # 6th send inside the 10-minute window
    assert r.status == 429 and text_of(r) == "too many requests", r
    ra = r.header("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, r.headers


def test_compat_disabled_by_default(server):
    r = server.anon().get("/otp?email=" + new_email())
    assert r.status == 404, r


def test_send_without_query_string_is_refused_and_server_survives(compat):
    # Found by fuzz_router: a target with no '?' once crashed the process in parse_query.
    srv, api, hook = compat
    for target in ("/otp", "/otp?", "/otp?email="):
        r = api.get(target)
        assert r.status == 400, (target, r)
    assert api.get("/healthz").status == 200
