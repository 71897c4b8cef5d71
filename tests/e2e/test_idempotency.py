"""Idempotency-Key on POST /v1/otp/send (the API reference (docs/api.md))."""

import json
import time

from harness import assert_json, assert_problem, new_email, send_ok


def test_same_key_same_body_replays_first_response(acme, acme_hook):
    to = new_email()
    key = "idem-" + to
    body = {"to": to, "metadata": {"order": 1}}
    r1 = acme.send(body, headers={"Idempotency-Key": key})
    b1 = assert_json(r1, 201)
    acme_hook.wait_for(b1["id"])
    # within the cooldown: the key is checked before any limit, so this is a replay, not a 429
    r2 = acme.send(body, headers={"Idempotency-Key": key})
    assert r2.status == 201, r2
    assert r2.json == b1
    assert r2.header("Location") == r1.header("Location")
    time.sleep(1.0)
    assert len(acme_hook.events_to(to)) == 1, "a replay must send nothing"


def test_same_json_value_different_bytes_is_same_body(acme, acme_hook):
    to = new_email()
    key = "idem-ws-" + to
    raw1 = json.dumps({"to": to, "code_length": 6, "metadata": {"a": 1, "b": [1, 2]}})
    raw2 = '{ "metadata" : { "b" : [ 1 , 2 ] , "a" : 1 } ,\n  "code_length":6,"to":"%s" }' % to
    r1 = acme.post("/v1/otp/send", raw=raw1, headers={"Idempotency-Key": key})
    b1 = assert_json(r1, 201)
    r2 = acme.post("/v1/otp/send", raw=raw2, headers={"Idempotency-Key": key})
    assert r2.status == 201 and r2.json == b1, r2
    acme_hook.wait_for(b1["id"])
    time.sleep(0.5)
    assert len(acme_hook.events_to(to)) == 1


def test_same_key_different_body_is_409(acme):
    to = new_email()
    key = "idem-conflict-" + to
    b1 = send_ok(acme, to, headers={"Idempotency-Key": key})
    r = acme.send({"to": to, "code_length": 8}, headers={"Idempotency-Key": key})
    assert_problem(r, 409, "idempotency_conflict")
    r = acme.send({"to": new_email()}, headers={"Idempotency-Key": key})
    assert_problem(r, 409, "idempotency_conflict")
    # the original is untouched
    assert assert_json(acme.status(b1["id"]), 200)["status"] == "pending"


def test_error_responses_are_not_stored(server, acme, acme_hook):
    to = new_email()
    key = "idem-err-" + to
    # a 400, then the fixed request with the same key is evaluated afresh
    assert_problem(acme.send({"to": to, "code_length": 3}, headers={"Idempotency-Key": key}), 400,
                   "invalid_request")
    b = send_ok(acme, to, headers={"Idempotency-Key": key})
    acme_hook.wait_for(b["id"])
    # a 429, then the same request with the same key after the cooldown is evaluated afresh
    key2 = "idem-429-" + to
    r = acme.send({"to": to}, headers={"Idempotency-Key": key2})
    assert_problem(r, 429, "resend_cooldown")
    server.advance(31)
    b2 = send_ok(acme, to, headers={"Idempotency-Key": key2})
    assert b2["id"] != b["id"]
    acme_hook.wait_for(b2["id"])


def test_key_length_limit(acme):
    assert_problem(acme.send({"to": new_email()}, headers={"Idempotency-Key": "k" * 129}), 400, "invalid_request")
    send_ok(acme, new_email(), headers={"Idempotency-Key": "k" * 128})


def test_keys_are_per_tenant(acme, globex):
    to = new_email()
    key = "idem-shared-" + to
    a = send_ok(acme, to, headers={"Idempotency-Key": key})
    g = send_ok(globex, to, headers={"Idempotency-Key": key})  # never acme's stored response
    assert g["id"] != a["id"]
    assert_problem(globex.status(a["id"]), 404, "not_found")
    r = globex.send({"to": new_email()}, headers={"Idempotency-Key": "idem-other-" + to})
    assert r.status == 201  # another tenant's keys do not conflict


def test_replay_after_approval_sends_nothing(acme, acme_hook):
    to = new_email()
    key = "idem-approved-" + to
    b = send_ok(acme, to, headers={"Idempotency-Key": key})
    code = acme_hook.wait_for(b["id"])["code"]
    assert_json(acme.verify({"id": b["id"], "code": code}), 200)
    r = acme.send({"to": to}, headers={"Idempotency-Key": key})
    assert r.status == 201 and r.json["id"] == b["id"], r
    time.sleep(0.5)
    assert len(acme_hook.events_to(to)) == 1
