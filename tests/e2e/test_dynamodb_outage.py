"""A DynamoDB that stops answering (DynamoDB Local frozen with SIGSTOP): every call answers 503
`unavailable` with Retry-After once the store's timeout (2 s by default) has passed, /readyz
says 503, and after SIGCONT everything works again without a restart."""

from __future__ import annotations

import pathlib
import sys
import time

import pytest

from harness import assert_json, assert_problem, assert_retry_after, new_email, send_and_code

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support" / "dynamodb"))
from dynamodb_local import AWS_ENV, DynamoDbLocal, new_table  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def frozen_later():
    """A DynamoDB Local of this test's own: freezing the shared one would stall every other
    test."""
    local = DynamoDbLocal.start_own()
    yield local
    local.thaw()
    local.stop()


def test_a_frozen_dynamodb_is_503_within_the_timeout_then_recovers(stack, frozen_later):
    local = frozen_later
    srv = stack.otpd(overrides={"store": local.store_url(new_table()),
                                "secrets": ["e2e-dynamodb-secret-0123456789"]}, env=AWS_ENV)
    acme = srv.api("acme")
    to = new_email()
    body, code = send_and_code(acme, stack.acme_hook, to)

    local.freeze()
    try:
        for call in (lambda: acme.send({"to": new_email()}),
                     lambda: acme.verify({"id": body["id"], "code": code}),
                     lambda: acme.status(body["id"])):
            started = time.monotonic()
            r = call()
            elapsed = time.monotonic() - started
            assert_problem(r, 503, "unavailable")
            assert_retry_after(r)
            # Not a speed check: the store's deadline ends the wait, not the server.
            assert elapsed < 10, f"answered after {elapsed:.1f}s"
        ready = acme.get("/readyz")
        assert ready.status == 503, ready
    finally:
        local.thaw()

    # The same process, no restart: the code still verifies, and new sends go through.
    assert assert_json(acme.get("/readyz"), 200)
    assert_json(acme.verify({"id": body["id"], "code": code}), 200)
    send_and_code(acme, stack.acme_hook, new_email())
