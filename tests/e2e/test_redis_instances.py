"""Two otpd processes on one Redis, and two on a 3-master Redis Cluster: the instances keep no
state of their own, so every guarantee holds across them as it holds on one SQLite file."""

from __future__ import annotations

from collections import Counter

import pytest

from harness import (assert_json, assert_problem, assert_retry_after, new_email,
                     posts_released_together, send_and_code, send_ok, status_of, wrong_code)
from redis_support import RedisDeployment, redis_overrides


@pytest.fixture(scope="module", params=["standalone", "cluster"])
def deployment(request, tmp_path_factory):
    d = RedisDeployment(request.param, tmp_path_factory.mktemp("redis"))
    yield d
    d.stop()


def two_instances(stack, deployment, **policy):
    """Two otpd on the same store (a fresh key prefix), each with its own data dir."""
    url = deployment.url()
    return [stack.otpd(overrides=redis_overrides(url, **policy)) for _ in range(2)]


def parallel_posts(targets, timeout=20.0):
    """POSTs each (server, key, path, body) at the same moment (harness)."""
    return posts_released_together(targets, timeout)


def test_a_code_sent_through_one_instance_verifies_on_the_other(stack, deployment, acme_hook):
    a, b = two_instances(stack, deployment)
    body, code = send_and_code(a.api("acme"), acme_hook, new_email())
    # The other instance sees it at once, with its delivery recorded by the first.
    seen = status_of(b.api("acme"), body["id"])
    assert seen["status"] == "pending" and seen["attempts_remaining"] == 5, seen
    r = b.api("acme").verify({"id": body["id"], "code": code})
    assert assert_json(r, 200)["status"] == "approved"
    assert status_of(a.api("acme"), body["id"])["status"] == "approved"
    # Single use, whichever instance is asked.
    assert_problem(a.api("acme").verify({"id": body["id"], "code": code}), 404, "not_found")
    # By recipient too: a second code, sent through B, verified by address through A.
    to = new_email()
    second, code2 = send_and_code(b.api("acme"), acme_hook, to)
    r = a.api("acme").verify({"to": to, "code": code2})
    assert assert_json(r, 200)["id"] == second["id"]
    # Tenants stay apart across instances too.
    assert_problem(b.api("globex").status(second["id"]), 404, "not_found")


def test_the_cooldown_and_the_window_hold_across_instances(stack, deployment, acme_hook):
    a, b = two_instances(stack, deployment)
    to = new_email()
    send_ok(a.api("acme"), to)
    held = b.api("acme").send({"to": to})
    assert_problem(held, 429, "resend_cooldown")
    assert_retry_after(held, 1, 30)

    c, d = two_instances(stack, deployment, resend_cooldown_seconds=0, max_sends_per_window=2)
    to = new_email()
    send_ok(c.api("acme"), to)
    send_ok(d.api("acme"), to)
    full = c.api("acme").send({"to": to})
    assert_problem(full, 429, "send_limit")
    assert_retry_after(full, 1, 600)


def test_the_failure_budget_holds_across_instances(stack, deployment, acme_hook):
    a, b = two_instances(stack, deployment, failures_per_recipient_per_hour=3,
                         resend_cooldown_seconds=0)
    to = new_email()
    body, code = send_and_code(a.api("acme"), acme_hook, to)
    for server in (a, b, a):
        r = server.api("acme").verify({"id": body["id"], "code": wrong_code(code)})
        assert_problem(r, 422, "invalid_code")
    # Three wrong checks, through two instances, spend the budget of three: even the right
    # code is refused now, and so is a new code for the same recipient.
    spent = b.api("acme").verify({"id": body["id"], "code": code})
    assert_problem(spent, 429, "too_many_failures")
    assert_retry_after(spent, 1, 3600)
    assert_problem(a.api("acme").send({"to": to}), 429, "too_many_failures")


def test_an_idempotency_key_holds_across_instances(stack, deployment, acme_hook):
    a, b = two_instances(stack, deployment)
    to = new_email()
    first = send_ok(a.api("acme"), to, headers={"Idempotency-Key": "order-42"})
    replay = send_ok(b.api("acme"), to, headers={"Idempotency-Key": "order-42"})
    assert replay["id"] == first["id"]
    conflict = b.api("acme").send({"to": new_email()}, headers={"Idempotency-Key": "order-42"})
    assert_problem(conflict, 409, "idempotency_conflict")
    # The replay sent nothing: the one verification is the first one, still pending.
    assert status_of(b.api("acme"), first["id"])["status"] == "pending"
    acme_hook.wait_for(first["id"])


def test_48_right_checks_over_both_instances_approve_exactly_once(stack, deployment, acme_hook):
    a, b = two_instances(stack, deployment)
    body, code = send_and_code(a.api("acme"), acme_hook, new_email())
    key = a.keys["acme"]
    targets = [((a, b)[i % 2], key, "/v1/otp/verify", {"id": body["id"], "code": code})
               for i in range(48)]
    results = parallel_posts(targets)
    statuses = Counter(s for s, _ in results)
    assert statuses[200] == 1, (statuses, [r for r in results if r[0] not in (200, 404)][:5])
    assert statuses[404] == 47, statuses
    assert status_of(b.api("acme"), body["id"])["status"] == "approved"


def test_40_wrong_guesses_over_both_instances_never_exceed_the_attempt_limit(stack, deployment,
                                                                              acme_hook):
    a, b = two_instances(stack, deployment)
    body, code = send_and_code(a.api("acme"), acme_hook, new_email())
    key = a.keys["acme"]
    targets = [((a, b)[i % 2], key, "/v1/otp/verify", {"id": body["id"], "code": wrong_code(code)})
               for i in range(40)]
    results = parallel_posts(targets)
    statuses = Counter(s for s, _ in results)
    # Five attempts: four wrong guesses leave attempts, the fifth locks, the rest find it locked.
    assert statuses[422] == 4, statuses
    assert statuses[429] == 36, statuses
    remaining = sorted(b["attempts_remaining"] for s, b in results if s == 422)
    assert remaining == [1, 2, 3, 4], remaining
    assert all(b.get("code") == "max_attempts" for s, b in results if s == 429)
    final = status_of(b.api("acme"), body["id"])
    assert final["status"] == "max_attempts_reached" and final["attempts_remaining"] == 0, final
    # The right code is no use any more, on either instance.
    assert_problem(a.api("acme").verify({"id": body["id"], "code": code}), 429, "max_attempts")


def test_parallel_sends_to_one_recipient_over_both_instances_start_once(stack, deployment,
                                                                        acme_hook):
    a, b = two_instances(stack, deployment)
    to = new_email()
    key = a.keys["acme"]
    results = parallel_posts([((a, b)[i % 2], key, "/v1/otp/send", {"to": to}) for i in range(16)])
    statuses = Counter(s for s, _ in results)
    assert statuses[201] == 1, (statuses, results[:3])
    assert statuses[429] == 15, statuses
    assert all(b.get("code") == "resend_cooldown" for s, b in results if s == 429)
