"""kill -9 durability (PRODUCT.md security invariant 7 and section 5: the delivery queue lives
in the store, so a restart loses nothing)."""

import time

import pytest

from harness import assert_json, assert_problem, new_email, send_ok, status_of, wait_until, wrong_code


@pytest.mark.slow
def test_acknowledged_sends_attempts_and_approvals_survive_kill9(stack):
    srv = stack.otpd()
    api = srv.api("acme")
    hook = stack.acme_hook
    sent = [send_ok(api, new_email()) for _ in range(20)]
    codes = {b["id"]: hook.wait_for(b["id"])["code"] for b in sent}
    guessed = sent[0]["id"]
    for left in (4, 3):
        p = assert_problem(api.verify({"id": guessed, "code": wrong_code(codes[guessed])}), 422, "invalid_code")
        assert p["attempts_remaining"] == left
    approved = sent[1]["id"]
    assert_json(api.verify({"id": approved, "code": codes[approved]}), 200)

    srv.kill9()
    srv.restart()

    st = status_of(api, guessed)
    assert st["status"] == "pending" and st["attempts_remaining"] == 3, st
    st = status_of(api, approved)
    assert st["status"] == "approved", st
    assert_problem(api.verify({"id": approved, "code": codes[approved]}), 404, "not_found")
    for b in sent[2:]:
        ok = assert_json(api.verify({"id": b["id"], "code": codes[b["id"]]}), 200)
        assert ok["status"] == "approved"
    assert_json(api.verify({"id": guessed, "code": codes[guessed]}), 200)


@pytest.mark.slow
def test_queued_deliveries_survive_kill9(stack):
    hook = stack.acme_hook
    hook.default_status = 503  # transient: every delivery stays queued, to be retried
    srv = stack.otpd()
    api = srv.api("acme")
    sent = [send_ok(api, new_email()) for _ in range(10)]
    ids = {b["id"] for b in sent}
    wait_until(lambda: ids <= {h.json.get("id") for h in hook.hits if isinstance(h.json, dict)}, 15,
               message="a first (refused) delivery attempt of every send")
    srv.kill9()
    hook.default_status = 200
    srv.restart()
    deadline = time.monotonic() + 20
    for b in sent:
        event = hook.wait_for(b["id"], timeout=max(0.5, deadline - time.monotonic()))
        assert_json(api.verify({"id": b["id"], "code": event["code"]}), 200)


@pytest.mark.slow
def test_cooldown_survives_kill9(stack):
    srv = stack.otpd()
    api = srv.api("acme")
    to = new_email()
    send_ok(api, to)
    srv.kill9()
    srv.restart()
    assert_problem(api.send({"to": to}), 429, "resend_cooldown")
