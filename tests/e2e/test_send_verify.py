"""POST /v1/otp/send, the webhook event, POST /v1/otp/verify and GET /v1/otp/{id}: the happy
path and the shape of every field (the API reference (docs/api.md) and the README's Channels)."""

import re
import time

from harness import (URL_SAFE_ID, assert_json, delivery_status, new_email, new_phone, parse_time,
                     seconds_between, send_and_code, send_ok, status_of, wait_delivery)

EVENT_KEYS = {"type", "id", "tenant", "to", "channel", "code", "message", "locale", "expires_at"}


def test_send_then_verify_via_webhook(server, acme, acme_hook):
    to = new_email()
    local = to.split("@")[0]
    r = acme.send({"to": to})
    body = assert_json(r, 201)
    vid = body["id"]
    assert r.header("Location") == f"/v1/otp/{vid}"
    assert r.header("X-Request-Id")

    # id: opaque, URL-safe, <= 64 chars, long enough to carry >= 128 random bits
    assert isinstance(vid, str) and URL_SAFE_ID.match(vid) and 22 <= len(vid) <= 64, vid
    # to: masked, never the plain address
    assert body["to"] != to and "*" in body["to"], body
    assert local not in body["to"] and to not in r.text and local not in r.text, body
    assert body["channel"] == "webhook"
    assert body["status"] == "pending"
    assert body["attempts_remaining"] == 5
    assert delivery_status(body) in ("queued", "sent")
    for k in ("created_at", "expires_at", "resend_at"):
        parse_time(body[k])
    assert abs(seconds_between(body["created_at"], body["expires_at"]) - 300) <= 1, body
    assert abs(seconds_between(body["created_at"], body["resend_at"]) - 30) <= 1, body
    assert abs((parse_time(body["created_at"]).timestamp()) - time.time()) < 60, body

    # the webhook event: exact members, valid signature, fresh timestamp
    event = acme_hook.wait_for(vid)
    assert set(event) == EVENT_KEYS, event
    assert event["type"] == "otp.delivery"
    assert event["id"] == vid
    assert event["tenant"] == "acme"
    assert event["to"] == to
    assert event["channel"] == "webhook"
    code = event["code"]
    assert isinstance(code, str) and re.fullmatch(r"\d{6}", code), event
    assert isinstance(event["message"], str) and code in event["message"], event
    assert isinstance(event["locale"], str) and event["locale"], event
    assert abs((parse_time(event["expires_at"]) - parse_time(body["expires_at"])).total_seconds()) <= 1
    hit = acme_hook.hits_for(vid)[0]
    assert hit.method == "POST"
    assert hit.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    assert hit.sig_ok, hit.headers
    assert abs(hit.sig_t - time.time()) <= 60, hit.sig_t
    assert code not in r.text

    # GET while pending: never the code
    r = acme.status(vid)
    st = assert_json(r, 200)
    assert st["id"] == vid and st["status"] == "pending" and st["attempts_remaining"] == 5
    assert st["to"] == body["to"]
    assert code not in r.text and to not in r.text

    st = wait_delivery(acme, vid, "sent")

    r = acme.verify({"id": vid, "code": code})
    ok = assert_json(r, 200)
    assert ok["id"] == vid and ok["status"] == "approved", ok
    parse_time(ok["approved_at"])
    assert code not in r.text

    st = status_of(acme, vid)
    assert st["status"] == "approved"


def test_code_length_ttl_locale_metadata(acme, acme_hook):
    meta = {"user": "u-42", "n": 3, "nested": {"a": [1, 2, None, True]}}
    to = new_email()
    body, code = send_and_code(acme, acme_hook, to, code_length=8, ttl_seconds=60, locale="de",
                               metadata=meta)
    assert re.fullmatch(r"\d{8}", code), code
    assert abs(seconds_between(body["created_at"], body["expires_at"]) - 60) <= 1, body
    assert acme_hook.wait_for(body["id"])["locale"] == "de"
    st = status_of(acme, body["id"])
    assert st["metadata"] == meta, st
    assert code not in str(st)
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)


def test_code_length_bounds_and_ttl_bounds_accepted(acme, acme_hook):
    for length in (4, 10):
        _, code = send_and_code(acme, acme_hook, new_email(), code_length=length)
        assert re.fullmatch(rf"\d{{{length}}}", code), code
    for ttl in (30, 3600):
        body = send_ok(acme, new_email(), ttl_seconds=ttl)
        assert abs(seconds_between(body["created_at"], body["expires_at"]) - ttl) <= 1, body


def test_phone_recipient_is_masked(acme, acme_hook):
    to = new_phone()
    r = acme.send({"to": to})
    body = assert_json(r, 201)
    assert body["to"] != to and "*" in body["to"], body
    assert to not in r.text and to[1:] not in r.text and to[2:] not in r.text, r.text
    event = acme_hook.wait_for(body["id"])
    assert event["to"] == to
    st = acme.status(body["id"])
    assert to[2:] not in st.text


def test_ids_are_distinct(acme):
    ids = {send_ok(acme, new_email())["id"] for _ in range(12)}
    assert len(ids) == 12


def test_codes_are_digits_and_vary(acme, acme_hook):
    codes = [send_and_code(acme, acme_hook, new_email())[1] for _ in range(10)]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes), codes
    assert len(set(codes)) >= 8, codes  # a constant or counter code would fail this


def test_tenants_get_their_own_webhook(acme, globex, acme_hook, globex_hook):
    to = new_email()
    a = send_ok(acme, to)
    g = send_ok(globex, to)  # same recipient, other tenant: no cooldown across tenants
    ea = acme_hook.wait_for(a["id"])
    eg = globex_hook.wait_for(g["id"])  # signed with globex's own secret
    assert ea["tenant"] == "acme" and eg["tenant"] == "globex"
    assert acme_hook.hits_for(g["id"]) == [] and globex_hook.hits_for(a["id"]) == []
