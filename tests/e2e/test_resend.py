"""Resend, supersede, cooldown doubling and the per-recipient send window (the API reference (docs/api.md)
sections 2 and 3), driven by the test clock instead of sleeps."""

from harness import (assert_json, assert_problem, assert_retry_after, new_email, seconds_between,
                     send_and_code, send_ok, status_of)


def test_resend_within_cooldown_then_supersede(server, acme, acme_hook):
    to = new_email()
    first, code1 = send_and_code(acme, acme_hook, to)
    r = acme.send({"to": to})
    assert_problem(r, 429, "resend_cooldown")
    assert_retry_after(r, 1, 30)
    assert to not in r.text
    assert status_of(acme, first["id"])["status"] == "pending"  # a refused send changes nothing

    server.advance(31)
    second, code2 = send_and_code(acme, acme_hook, to)
    assert second["id"] != first["id"]
    assert status_of(acme, first["id"])["status"] == "canceled"
    assert_problem(acme.verify({"id": first["id"], "code": code1}), 404, "not_found")
    ok = assert_json(acme.verify({"id": second["id"], "code": code2}), 200)
    assert ok["status"] == "approved"
    assert len(acme_hook.events_to(to)) == 2


def test_cooldown_doubles_and_refusals_do_not_extend_it(server, acme):
    to = new_email()
    b1 = send_ok(acme, to)
    assert abs(seconds_between(b1["created_at"], b1["resend_at"]) - 30) <= 1, b1
    server.advance(31)
    b2 = send_ok(acme, to)
    assert abs(seconds_between(b2["created_at"], b2["resend_at"]) - 60) <= 1, b2
    server.advance(31)
    r = acme.send({"to": to})
    assert_problem(r, 429, "resend_cooldown")
    ra = assert_retry_after(r, 1, 30)
    assert 25 <= ra <= 30, ra  # 60 s cooldown, 31 s elapsed: about 29 s left
    server.advance(10)
    r = acme.send({"to": to})  # refused again; must not push the deadline out
    assert_problem(r, 429, "resend_cooldown")
    assert assert_retry_after(r, 1, 20) <= 20
    server.advance(20)
    b3 = send_ok(acme, to)
    assert abs(seconds_between(b3["created_at"], b3["resend_at"]) - 120) <= 1, b3


def test_sixth_send_in_window_is_send_limit(server, acme):
    to = new_email()
    for _ in range(5):
        b = send_ok(acme, to)
        assert_json(acme.cancel(b["id"]), 200)  # cancel lifts the cooldown, not the window count
    r = acme.send({"to": to})
    assert_problem(r, 429, "send_limit")
    assert_retry_after(r, 1, 600)
    server.advance(601)
    send_ok(acme, to)


def test_send_after_approval_not_held_back(acme, acme_hook):
    to = new_email()
    body, code = send_and_code(acme, acme_hook, to)
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)
    send_ok(acme, to)


def test_send_after_cancel_not_held_back(acme):
    to = new_email()
    b = send_ok(acme, to)
    assert_json(acme.cancel(b["id"]), 200)
    send_ok(acme, to)


def test_send_after_expiry_not_held_back(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"resend_cooldown_seconds": 120}}})
    api = srv.api("acme")
    to = new_email()
    send_ok(api, to, ttl_seconds=30)
    assert_problem(api.send({"to": to}), 429, "resend_cooldown")
    srv.advance(31)  # expired, cooldown (120 s) still running
    send_ok(api, to)


def test_cooldown_is_per_recipient_and_per_tenant(acme, globex):
    to = new_email()
    send_ok(acme, to)
    send_ok(acme, new_email())
    send_ok(globex, to)
    assert_problem(acme.send({"to": to}), 429, "resend_cooldown")


def test_recipient_identity_is_normalised(acme):
    # the same address typed with different case is the same recipient (email is lower-cased)
    to = new_email()
    send_ok(acme, to)
    assert_problem(acme.send({"to": to.upper()}), 429, "resend_cooldown")
