"""kill -9 durability (otpd's security guarantees and the README's Channels: the delivery queue lives
in the store, so a restart loses nothing)."""

import time

import pytest

from harness import assert_json, assert_problem, delivery_status, new_email, send_ok, status_of, wrong_code


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
    # The webhook URL refuses connections (a transient failure, retried), so every delivery
    # sits in the queue when otpd is killed; restarted with a live URL, all go out.
    dead = stack.receiver()
    dead_url = dead.url
    dead.close()
    srv = stack.otpd(test_clock=False,  # retries on real time
                     overrides={"tenants": {"acme": {"channels": {"webhook": {"url": dead_url}}}}})
    api = srv.api("acme")
    sent = [send_ok(api, new_email()) for _ in range(10)]
    time.sleep(0.5)
    for b in sent:
        assert delivery_status(status_of(api, b["id"])) == "queued"
    srv.kill9()
    srv.config["tenants"]["acme"]["channels"]["webhook"]["url"] = stack.acme_hook.url
    srv.restart()
    # A retry that came due just before the kill may have been taken by the killed process:
    # that job stays leased for its attempt (20 s) and goes out when the lease has passed.
    # So the wait is the lease plus a margin; a deadline equal to the lease failed under load.
    deadline = time.monotonic() + 20 + 15
    for b in sent:
        event = stack.acme_hook.wait_for(b["id"], timeout=max(0.5, deadline - time.monotonic()))
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
