"""The abuse controls of the README's Limits beyond cooldown and window: failure budget,
tenant send rate, daily cap, per-key request rate, SMS prefix allow/deny lists and velocity."""

import pytest

from harness import (assert_json, assert_problem, assert_retry_after, new_email, new_phone, send_and_code,
                     send_ok, wrong_code)


def test_failure_budget_spans_codes(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"failures_per_recipient_per_hour": 7}}})
    api = srv.api("acme")
    hook = stack.acme_hook
    to = new_email()
    b1, c1 = send_and_code(api, hook, to)
    for _ in range(5):
        r = api.verify({"id": b1["id"], "code": wrong_code(c1)})
        assert r.status in (422, 429), r
    srv.advance(31)
    # a new code must not buy fresh guesses past the budget (7 per hour)
    r = api.send({"to": to})
    if r.status == 429:
        assert_problem(r, 429, "too_many_failures")
        assert_retry_after(r)
        return
    b2 = assert_json(r, 201)
    c2 = hook.wait_for(b2["id"])["code"]
    statuses = []
    for _ in range(3):
        r = api.verify({"id": b2["id"], "code": wrong_code(c2)})
        statuses.append(r.status)
        if r.status == 429:
            assert_problem(r, 429, "too_many_failures")
            assert_retry_after(r)
            break
    assert statuses.count(422) <= 2, statuses  # 5 + 2 = 7 failures, then the budget is spent
    r = api.verify({"id": b2["id"], "code": c2})
    assert_problem(r, 429, "too_many_failures")
    assert_retry_after(r)
    # another recipient is not affected
    b3, c3 = send_and_code(api, hook, new_email())
    assert_json(api.verify({"id": b3["id"], "code": c3}), 200)


def test_tenant_send_rate_bucket(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"send_rate_per_second": 0.05}}})
    api = srv.api("acme")
    limited = None
    for _ in range(30):
        r = api.send({"to": new_email()})
        if r.status == 429:
            limited = r
            break
        assert r.status == 201, r
    assert limited is not None, "30 sends at once never hit a 0.05/s bucket"
    assert_problem(limited, 429, "rate_limited")
    assert_retry_after(limited)
    # globex has its own (unlimited) bucket
    send_ok(srv.api("globex"), new_email())


@pytest.fixture
def sms_stack(stack):
    twilio = stack.receiver()

    def make(**policy):
        return stack.otpd(overrides={"tenants": {"acme": {
            "default_channel": "sms",
            "channels": {"sms": {"provider": "twilio", "account_sid": "AC0123", "auth_token": "tok",
                                 "from": "+15005550006", "base_url": twilio.base_url}},
            **policy}}})
    return make, twilio


def test_daily_cap_per_channel(sms_stack):
    make, _ = sms_stack
    srv = make(daily_send_cap={"sms": 2})
    api = srv.api("acme")
    send_ok(api, new_phone())
    send_ok(api, new_phone())
    r = api.send({"to": new_phone()})
    assert_problem(r, 429, "daily_cap")
    assert_retry_after(r, 1, 86400)
    # other channels are not capped
    send_ok(api, new_email(), channel="webhook")


def test_sms_allow_and_deny_prefixes(sms_stack):
    make, twilio = sms_stack
    srv = make(sms_allow_prefixes=["+1", "+4420"], sms_deny_prefixes=["+1900"])
    api = srv.api("acme")
    for to in ("+33612345678", "+447911123456", "+19005550123"):
        r = api.send({"to": to})
        assert_problem(r, 403, "destination_not_allowed")
    send_ok(api, "+442071234567")
    allowed = new_phone()
    send_ok(api, allowed)
    # the allowed ones do reach Twilio, so the refused ones would have been seen there
    twilio.wait_twilio("+442071234567")
    twilio.wait_twilio(allowed)
    sent_to = [h.form.get("To") for h in twilio.hits if h.path.endswith("/Messages.json")]
    assert not any(t in sent_to for t in ("+33612345678", "+447911123456", "+19005550123")), sent_to


def test_sms_prefix_velocity(sms_stack):
    make, _ = sms_stack
    srv = make(sms_sends_per_prefix_per_minute=3)
    api = srv.api("acme")
    for _ in range(3):
        send_ok(api, new_phone())
    r = api.send({"to": new_phone()})
    assert_problem(r, 429, "prefix_rate_limited")
    assert_retry_after(r, 1, 60)
    srv.advance(61)
    send_ok(api, new_phone())


def test_per_key_request_rate(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"requests_per_second_per_key": 1}}})
    api = srv.api("acme")
    limited = None
    for _ in range(40):
        r = api.status("x" * 24)
        if r.status == 429:
            limited = r
            break
        assert r.status == 404, r
    assert limited is not None, "40 requests at once never hit a 1/s per-key rate"
    assert_problem(limited, 429, "rate_limited")
    assert_retry_after(limited)
    # another tenant's key is unaffected
    assert srv.api("globex").status("x" * 24).status == 404
