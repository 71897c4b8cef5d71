"""Every row of the verify outcome table (the API reference (docs/api.md), POST /v1/otp/verify)."""

import secrets

import pytest

from harness import (CROCKFORD, assert_json, assert_problem, new_email, seconds_between, send_and_code,
                     status_of, wrong_code)


def test_wrong_codes_count_down_then_lock(acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    vid = body["id"]
    bad = wrong_code(code)
    for left in (4, 3, 2, 1):
        r = acme.verify({"id": vid, "code": bad})
        p = assert_problem(r, 422, "invalid_code")
        assert p["attempts_remaining"] == left, p
        assert code not in r.text
        assert status_of(acme, vid)["attempts_remaining"] == left
    r = acme.verify({"id": vid, "code": bad})
    assert_problem(r, 429, "max_attempts")
    assert code not in r.text
    st = status_of(acme, vid)
    assert st["status"] == "max_attempts_reached" and st["attempts_remaining"] == 0, st
    # locked: even the right code is refused, and so is any other
    assert_problem(acme.verify({"id": vid, "code": code}), 429, "max_attempts")
    assert_problem(acme.verify({"id": vid, "code": bad}), 429, "max_attempts")
    assert status_of(acme, vid)["status"] == "max_attempts_reached"


def test_expired_counts_no_attempt(server, acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    vid = body["id"]
    assert_problem(acme.verify({"id": vid, "code": wrong_code(code)}), 422, "invalid_code")
    server.advance(301)
    assert_problem(acme.verify({"id": vid, "code": code}), 410, "expired")
    assert_problem(acme.verify({"id": vid, "code": wrong_code(code)}), 410, "expired")
    st = status_of(acme, vid)
    assert st["status"] == "expired" and st["attempts_remaining"] == 4, st


def test_expiry_is_checked_before_the_lock(server, acme, acme_hook):
    # order: nothing found -> 404, expired -> 410, locked -> 429
    body, code = send_and_code(acme, acme_hook, new_email())
    for _ in range(5):
        acme.verify({"id": body["id"], "code": wrong_code(code)})
    assert_problem(acme.verify({"id": body["id"], "code": code}), 429, "max_attempts")
    server.advance(301)
    assert_problem(acme.verify({"id": body["id"], "code": code}), 410, "expired")


def test_nothing_pending_is_checked_before_expiry(server, acme, acme_hook):
    approved, code1 = send_and_code(acme, acme_hook, new_email())
    assert_json(acme.verify({"id": approved["id"], "code": code1}), 200)
    canceled, code2 = send_and_code(acme, acme_hook, new_email())
    assert_json(acme.cancel(canceled["id"]), 200)
    server.advance(301)
    assert_problem(acme.verify({"id": approved["id"], "code": code1}), 404, "not_found")
    assert_problem(acme.verify({"id": canceled["id"], "code": code2}), 404, "not_found")


def test_tenant_policy_from_config(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"code_length": 8, "ttl_seconds": 120, "max_attempts": 3}}})
    api = srv.api("acme")
    body, code = send_and_code(api, stack.acme_hook, new_email())
    assert len(code) == 8 and code.isdigit(), code
    assert body["attempts_remaining"] == 3
    assert abs(seconds_between(body["created_at"], body["expires_at"]) - 120) <= 1, body
    for left in (2, 1):
        p = assert_problem(api.verify({"id": body["id"], "code": wrong_code(code)}), 422, "invalid_code")
        assert p["attempts_remaining"] == left
    assert_problem(api.verify({"id": body["id"], "code": wrong_code(code)}), 429, "max_attempts")


def test_not_expired_just_before_ttl(server, acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email(), ttl_seconds=60)
    server.advance(55)
    assert status_of(acme, body["id"])["status"] == "pending"
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)


def test_unknown_id_is_404(acme):
    vid = secrets.token_urlsafe(24)
    assert_problem(acme.verify({"id": vid, "code": "123456"}), 404, "not_found")
    assert_problem(acme.status(vid), 404, "not_found")
    assert_problem(acme.cancel(vid), 404, "not_found")


def test_unknown_recipient_is_404(acme):
    assert_problem(acme.verify({"to": new_email(), "code": "123456"}), 404, "not_found")


def test_code_is_single_use(acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)
    assert_problem(acme.verify({"id": body["id"], "code": code}), 404, "not_found")
    assert_problem(acme.verify({"id": body["id"], "code": wrong_code(code)}), 404, "not_found")
    assert status_of(acme, body["id"])["status"] == "approved"


def test_canceled_is_404(acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    assert_json(acme.cancel(body["id"]), 200)
    assert_problem(acme.verify({"id": body["id"], "code": code}), 404, "not_found")
    assert status_of(acme, body["id"])["status"] == "canceled"


def test_other_tenants_id_is_404_never_403(acme, globex, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    vid = body["id"]
    assert_problem(globex.verify({"id": vid, "code": code}), 404, "not_found")
    assert_problem(globex.verify({"id": vid, "code": wrong_code(code)}), 404, "not_found")
    assert_problem(globex.status(vid), 404, "not_found")
    assert_problem(globex.cancel(vid), 404, "not_found")
    assert_problem(globex.verify({"to": acme_hook.wait_for(vid)["to"], "code": code}), 404, "not_found")
    st = status_of(acme, vid)  # untouched: no attempt counted, not canceled, not approved
    assert st["status"] == "pending" and st["attempts_remaining"] == 5, st
    assert_json(acme.verify({"id": vid, "code": code}), 200)


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "abcdef", "", "12.456", "１２３４５６"])
def test_malformed_code_is_400_and_counts_no_attempt(acme, acme_hook, typed):
    body, code = send_and_code(acme, acme_hook, new_email())
    r = acme.verify({"id": body["id"], "code": typed})
    assert_problem(r, 400, "invalid_request")
    assert code not in r.text
    assert status_of(acme, body["id"])["attempts_remaining"] == 5
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)


def test_malformed_request_is_checked_before_lookup(acme):
    # garbage code for an id that does not exist: malformed request comes first -> 400
    assert_problem(acme.verify({"id": secrets.token_urlsafe(24), "code": "not a code!"}), 400,
                   "invalid_request")


@pytest.mark.parametrize("payload", [
    {},
    {"code": "123456"},
    {"id": "abc"},
    {"id": 5, "code": "123456"},
    {"id": "abc", "code": None},
    {"to": 42, "code": "123456"},
])
def test_verify_missing_or_wrong_fields_is_400(acme, payload):
    assert_problem(acme.verify(payload), 400, "invalid_request")


def test_verify_by_to_uses_newest_verification(server, acme, acme_hook):
    to = new_email()
    first, code1 = send_and_code(acme, acme_hook, to)
    server.advance(31)
    second, code2 = send_and_code(acme, acme_hook, to)
    if code1 != code2:
        p = assert_problem(acme.verify({"to": to, "code": code1}), 422, "invalid_code")
        assert p["attempts_remaining"] == 4
        assert status_of(acme, second["id"])["attempts_remaining"] == 4
    ok = assert_json(acme.verify({"to": to, "code": code2}), 200)
    assert ok["id"] == second["id"] and ok["status"] == "approved"
    # newest is approved now ("whatever its state"): the same code by `to` is 404
    assert_problem(acme.verify({"to": to, "code": code2}), 404, "not_found")
    assert status_of(acme, first["id"])["status"] == "canceled"


def test_verify_by_to_newest_canceled_is_404(acme, acme_hook):
    to = new_email()
    body, code = send_and_code(acme, acme_hook, to)
    assert_json(acme.cancel(body["id"]), 200)
    assert_problem(acme.verify({"to": to, "code": code}), 404, "not_found")


@pytest.mark.parametrize("fmt", ["{a} {b}", "{a}-{b}", " {a}{b} ", "{a} - {b}", "{a[0]}-{a[1]}{a[2]} {b}"])
def test_spaces_and_hyphens_are_ignored(acme, acme_hook, fmt):
    body, code = send_and_code(acme, acme_hook, new_email())
    typed = fmt.format(a=code[:3], b=code[3:])
    assert_json(acme.verify({"id": body["id"], "code": typed}), 200)


@pytest.fixture
def alnum(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"alphabet": "alnum"}}})
    return srv, srv.api("acme")


def test_alnum_codes_lowercase_accepted(alnum, acme_hook):
    _, api = alnum
    body, code = send_and_code(api, acme_hook, new_email())
    assert len(code) == 6 and all(c in CROCKFORD for c in code), code
    assert_json(api.verify({"id": body["id"], "code": code.lower()}), 200)


def test_alnum_crockford_substitutions(alnum, acme_hook):
    _, api = alnum
    # Collect codes containing 0 and 1 (uniform over 32 symbols: ~27% of 10-char codes hold a 1).
    zero = one_i = one_l = None
    for _ in range(60):
        body, code = send_and_code(api, acme_hook, new_email(), code_length=10)
        assert all(c in CROCKFORD for c in code), code
        if zero is None and "0" in code:
            zero = (body["id"], code)
        elif one_i is None and "1" in code:
            one_i = (body["id"], code)
        elif one_l is None and "1" in code:
            one_l = (body["id"], code)
        if zero and one_i and one_l:
            break
    assert zero and one_i and one_l, "could not get codes containing 0 and 1 in 60 sends"
    vid, code = zero
    assert_json(api.verify({"id": vid, "code": code.replace("0", "O").lower()}), 200)
    vid, code = one_i
    assert_json(api.verify({"id": vid, "code": code.replace("1", "I")}), 200)
    vid, code = one_l
    assert_json(api.verify({"id": vid, "code": code.replace("1", "l")}), 200)


def test_alnum_wrong_code_counts(alnum, acme_hook):
    _, api = alnum
    body, code = send_and_code(api, acme_hook, new_email())
    p = assert_problem(api.verify({"id": body["id"], "code": wrong_code(code, "alnum")}), 422, "invalid_code")
    assert p["attempts_remaining"] == 4
    # 'U' is not in Crockford's alphabet: malformed, no attempt counted
    assert_problem(api.verify({"id": body["id"], "code": "UUUUUU"}), 400, "invalid_request")
    assert status_of(api, body["id"])["attempts_remaining"] == 4
