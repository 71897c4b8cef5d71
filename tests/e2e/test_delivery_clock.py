"""Delivery retries follow otpd's clock: with --unsafe-test-clock, moving the clock forward
brings due retries forward too (they still run on real time when nobody moves it, see
test_delivery.py)."""

from __future__ import annotations

import json

from harness import new_email, send_ok, wait_delivery, wait_until


def retries_logged(srv, vid: str) -> int:
    count = 0
    for line in srv.stderr_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "delivery will be retried" and entry.get("id") == vid:
            count += 1
    return count


def test_moving_the_test_clock_brings_due_retries_forward(stack):
    srv = stack.otpd()
    acme, hook = srv.api("acme"), stack.acme_hook
    hook.script = [500] * 5
    b = send_ok(acme, new_email(), ttl_seconds=3600)
    # Five failures back off about 1, 2, 4, 8 and 16 s (at least half that, with jitter). Each
    # jump of 20 s, once the retry is scheduled, makes it due at once: none of the waits below
    # lasts as long as the backoff it skips.
    for retry in range(1, 6):
        wait_until(lambda: retries_logged(srv, b["id"]) >= retry, 3.5, message=f"retry {retry}")
        srv.advance(20)
    hook.wait_for(b["id"], timeout=3.5)
    assert [h.status for h in hook.hits_for(b["id"])] == [500] * 5 + [200]
    wait_delivery(acme, b["id"], "sent")
