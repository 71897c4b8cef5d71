"""Atomic checks, sends and counters under concurrency (otpd's security guarantees):
many threads, each on its own connection, released together by a barrier."""

import time
from collections import Counter

from harness import (assert_problem, new_email, posts_released_together, send_and_code, send_ok,
                     status_of, wrong_code)


def parallel_posts(server, key, requests, timeout=20.0):
    """POSTs each (path, body, headers) to `server` at the same moment (harness)."""
    return posts_released_together([(server, key, *r) for r in requests], timeout)


def test_parallel_right_checks_approve_exactly_once(server, acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    reqs = [("/v1/otp/verify", {"id": body["id"], "code": code}, None)] * 48
    results = parallel_posts(server, server.keys["acme"], reqs)
    statuses = Counter(s for s, _ in results)
    assert statuses[200] == 1, (statuses, [r for r in results if r[0] != 404][:5])
    assert statuses[404] == 47, statuses
    assert all(b.get("code") == "not_found" for s, b in results if s == 404)
    assert status_of(acme, body["id"])["status"] == "approved"


def test_parallel_wrong_guesses_never_exceed_the_limit(server, acme, acme_hook):
    body, code = send_and_code(acme, acme_hook, new_email())
    bad = wrong_code(code)
    reqs = [("/v1/otp/verify", {"id": body["id"], "code": bad}, None)] * 40
    results = parallel_posts(server, server.keys["acme"], reqs)
    statuses = Counter(s for s, _ in results)
    assert not any(s is None or s >= 500 for s in statuses), statuses
    assert set(statuses) <= {422, 429}, statuses
    remaining = sorted(b["attempts_remaining"] for s, b in results if s == 422)
    assert remaining == [1, 2, 3, 4], f"422 answers carried attempts_remaining {remaining} ({statuses})"
    assert all(b.get("code") == "max_attempts" for s, b in results if s == 429), results
    st = status_of(acme, body["id"])
    assert st["status"] == "max_attempts_reached" and st["attempts_remaining"] == 0, st
    assert_problem(acme.verify({"id": body["id"], "code": code}), 429, "max_attempts")


def test_parallel_sends_to_one_recipient_start_one_verification(server, acme_hook):
    to = new_email()
    reqs = [("/v1/otp/send", {"to": to}, None)] * 24
    results = parallel_posts(server, server.keys["acme"], reqs)
    statuses = Counter(s for s, _ in results)
    assert statuses[201] == 1, (statuses, results[:3])
    assert statuses[429] == 23, statuses
    assert all(b.get("code") == "resend_cooldown" for s, b in results if s == 429)
    vid = next(b["id"] for s, b in results if s == 201)
    acme_hook.wait_for(vid)
    time.sleep(0.5)
    assert [e["id"] for e in acme_hook.events_to(to)] == [vid]


def test_parallel_sends_with_one_idempotency_key(server, acme_hook):
    to = new_email()
    reqs = [("/v1/otp/send", {"to": to}, {"Idempotency-Key": "par-" + to})] * 12
    results = parallel_posts(server, server.keys["acme"], reqs)
    assert not any(s is None or s >= 500 for s, _ in results), results
    ids = {b["id"] for s, b in results if s == 201}
    assert len(ids) == 1, results
    time.sleep(1.0)
    assert len(acme_hook.events_to(to)) == 1


def test_parallel_traffic_on_many_verifications(server, acme, acme_hook):
    pairs = [send_and_code(acme, acme_hook, new_email()) for _ in range(24)]
    reqs = [("/v1/otp/verify", {"id": b["id"], "code": c}, None) for b, c in pairs]
    reqs += [("/v1/otp/send", {"to": new_email()}, None) for _ in range(24)]
    results = parallel_posts(server, server.keys["acme"], reqs)
    assert [s for s, _ in results[:24]] == [200] * 24, results[:24]
    assert [s for s, _ in results[24:]] == [201] * 24, results[24:]
    for b, _ in pairs:
        assert status_of(acme, b["id"])["status"] == "approved"
    send_ok(acme, new_email())
