"""POST /v1/otp/{id}/cancel in every state (the API reference (docs/api.md))."""

import secrets

from harness import assert_json, assert_problem, new_email, send_and_code, send_ok, status_of, wrong_code


def test_cancel_pending_then_again(acme):
    b = send_ok(acme, new_email())
    r = acme.cancel(b["id"])
    assert assert_json(r, 200)["status"] == "canceled"
    assert status_of(acme, b["id"])["status"] == "canceled"
    assert_problem(acme.cancel(b["id"]), 409, "not_pending")


def test_cancel_approved_is_409_already_approved(acme, acme_hook):
    b, code = send_and_code(acme, acme_hook, new_email())
    assert_json(acme.verify({"id": b["id"], "code": code}), 200)
    assert_problem(acme.cancel(b["id"]), 409, "already_approved")
    assert status_of(acme, b["id"])["status"] == "approved"


def test_cancel_expired_is_409_not_pending(server, acme):
    b = send_ok(acme, new_email())
    server.advance(301)
    assert_problem(acme.cancel(b["id"]), 409, "not_pending")
    assert status_of(acme, b["id"])["status"] == "expired"


def test_cancel_locked_is_409_not_pending(acme, acme_hook):
    b, code = send_and_code(acme, acme_hook, new_email())
    for _ in range(5):
        acme.verify({"id": b["id"], "code": wrong_code(code)})
    assert status_of(acme, b["id"])["status"] == "max_attempts_reached"
    assert_problem(acme.cancel(b["id"]), 409, "not_pending")


def test_cancel_unknown_is_404(acme):
    assert_problem(acme.cancel(secrets.token_urlsafe(24)), 404, "not_found")
