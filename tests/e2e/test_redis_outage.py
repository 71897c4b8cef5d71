"""otpd when Redis stops answering: a frozen server (SIGSTOP) makes every request answer 503
`unavailable` with Retry-After (no hang, no crash) and /readyz 503 while /healthz stays 200;
thawed, everything works again without restarting otpd, and codes sent before still verify.
A Cluster node killed: only what lives on its slots answers 503 until it is back."""

from __future__ import annotations

from collections import Counter

import pytest

from harness import (assert_json, assert_problem, assert_retry_after, new_email, send_and_code,
                     send_ok, status_of, wait_until)
from redis_support import RedisDeployment, redis_overrides

pytestmark = pytest.mark.slow

# Short, so the test does not wait long for each timeout; otpd's default is 2000.
TIMEOUT_MS = 1000


def unavailable(resp) -> None:
    assert_problem(resp, 503, "unavailable")
    assert_retry_after(resp, 1)


def test_a_frozen_redis_answers_503_and_otpd_recovers_by_itself(stack, tmp_path, acme_hook):
    redis = RedisDeployment("standalone", tmp_path)
    try:
        url = redis.url(timeout_ms=TIMEOUT_MS)
        a, b = (stack.otpd(overrides=redis_overrides(url)) for _ in range(2))
        before, code = send_and_code(a.api("acme"), acme_hook, new_email())
        other = send_ok(a.api("acme"), new_email())

        redis.freeze()
        for server in (a, b):
            api = server.api("acme")
            unavailable(api.send({"to": new_email()}))
            unavailable(api.verify({"id": before["id"], "code": code}))
            unavailable(api.verify({"to": new_email(), "code": "123456"}))
            unavailable(api.status(before["id"]))
            unavailable(api.cancel(other["id"]))
            assert server.anon().get("/readyz").status == 503
            assert server.anon().get("/healthz").status == 200
            assert server.alive()

        redis.thaw()
        api = b.api("acme")
        wait_until(lambda: api.send({"to": new_email()}).status == 201, 15,
                   message="a send after the thaw")
        # The checks that failed during the outage counted nothing: the code still works.
        assert assert_json(api.verify({"id": before["id"], "code": code}), 200)["status"] == "approved"
        assert status_of(a.api("acme"), other["id"])["status"] == "pending"
        for server in (a, b):
            wait_until(lambda: server.anon().get("/readyz").status == 200, 15, message="/readyz 200")
    finally:
        redis.stop()


def test_a_killed_cluster_node_fails_only_its_own_slots_until_it_is_back(stack, tmp_path,
                                                                         acme_hook):
    # AOF with fsync on every write: the node comes back with what it had.
    cluster = RedisDeployment("cluster", tmp_path, appendonly=True)
    try:
        server = stack.otpd(overrides=redis_overrides(cluster.url(timeout_ms=TIMEOUT_MS)))
        api = server.api("acme")
        sent = [send_and_code(api, acme_hook, new_email()) for _ in range(24)]

        cluster.kill_node(0)
        seen = Counter()
        for body, _ in sent:
            r = api.status(body["id"])
            if r.status == 503:
                unavailable(r)
                seen["down"] += 1
            else:
                assert assert_json(r, 200)["status"] == "pending"
                seen["up"] += 1
        # A verification read needs its index entry's slot and its recipient's: with one
        # master of three gone, some reads need it and some do not.
        assert seen["down"] > 0 and seen["up"] > 0, seen
        sends = Counter(api.send({"to": new_email()}).status for _ in range(24))
        assert set(sends) <= {201, 503} and sends[201] > 0, sends
        assert server.alive()

        cluster.start_node(0)

        def all_readable():
            return all(api.status(body["id"]).status == 200 for body, _ in sent)

        wait_until(all_readable, 30, interval=0.2, message="every verification readable again")
        for body, code in sent:
            r = api.verify({"id": body["id"], "code": code})
            assert assert_json(r, 200)["status"] == "approved"
    finally:
        cluster.stop()
