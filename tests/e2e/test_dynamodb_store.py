"""otpd serve on the DynamoDB store (AWS's DynamoDB Local): `otpd store init` and the start-up
check, the API on it, what a call costs in round trips, what is at rest, and two instances on
one table keeping every guarantee between them (otpd's security guarantees)."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from harness import (assert_json, assert_problem, assert_retry_after, new_email,
                     posts_released_together, run_to_exit, send_and_code, send_ok, status_of, wait_delivery, wrong_code)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support" / "dynamodb"))
from dynamodb_local import AWS_ENV, CountingProxy, DynamoDbLocal, new_table  # noqa: E402

SECRETS = ["e2e-dynamodb-secret-0123456789"]


@pytest.fixture(scope="module")
def ddb():
    local = DynamoDbLocal.fixture_or_own()
    yield local
    local.stop()


def on_dynamodb(stack, ddb, table: str, endpoint: str | None = None, **kw):
    """An otpd of the default test stack on `table` (created by `store init` on first start)."""
    return stack.otpd(overrides={"store": ddb.store_url(table, endpoint), "secrets": SECRETS},
                      env=AWS_ENV, **kw)


# ---- the table ---------------------------------------------------------------------------

def store_init(srv, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`otpd store init`; one that does not end in time fails with its threads' stacks (when
    gdb is there), which say where it waits."""
    proc = subprocess.Popen([srv.binary, "store", "init", "--config", srv.config_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=srv._env(),
                            cwd=srv.workdir, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        trace = ""
        if shutil.which("gdb"):
            trace = subprocess.run(["gdb", "-batch", "-p", str(proc.pid), "-ex",
                                    "thread apply all bt 30"], capture_output=True, text=True,
                                   timeout=60).stdout
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"store init did not end in {timeout}s:\n{err.decode()[-3000:]}\n"
                             f"{trace[-20000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

def test_serve_needs_the_table_and_store_init_makes_it(stack, ddb):
    table = new_table()
    srv = on_dynamodb(stack, ddb, table, start=False, init_store=False)
    srv.port = 0
    srv.config["listen"] = "127.0.0.1:0"
    srv.write_config()
    r = run_to_exit(srv.serve_args(), timeout=20, env=srv._env(), cwd=srv.workdir)
    assert r.returncode != 0, r.stderr
    assert f'the DynamoDB table "{table}" does not exist: run `otpd store init`' in r.stderr, r.stderr

    init = store_init(srv)
    assert init.returncode == 0, init.stderr
    client = ddb.client()
    described = client.describe_table(TableName=table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == \
        {"pk": "HASH", "sk": "RANGE"}
    assert {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]} == \
        {"pk": "S", "sk": "S"}
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "GlobalSecondaryIndexes" not in described
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at_ttl"}
    # Again: nothing to do, and no error.
    assert store_init(srv).returncode == 0

    srv.start()
    assert srv.api("acme").get("/readyz").status == 200


def test_serve_names_ttl_that_is_off(stack, ddb):
    table = new_table()
    client = ddb.client()
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
    srv = on_dynamodb(stack, ddb, table, start=False, init_store=False)
    srv.config["listen"] = "127.0.0.1:0"
    srv.write_config()
    r = run_to_exit(srv.serve_args(), timeout=20, env=srv._env(), cwd=srv.workdir)
    assert r.returncode != 0, r.stderr
    assert "has TTL off: run `otpd store init`" in r.stderr, r.stderr


# ---- the API on it -----------------------------------------------------------------------

def test_send_verify_status_cancel(stack, ddb):
    srv = on_dynamodb(stack, ddb, new_table())
    acme = srv.api("acme")
    to = new_email()
    body, code = send_and_code(acme, stack.acme_hook, to)
    assert_problem(acme.verify({"id": body["id"], "code": wrong_code(code)}), 422, "invalid_code")
    assert status_of(acme, body["id"])["attempts_remaining"] == 4
    assert_json(acme.verify({"to": to, "code": code}), 200)
    assert_problem(acme.verify({"id": body["id"], "code": code}), 404, "not_found")
    assert wait_delivery(acme, body["id"], "sent")["status"] == "approved"
    # Another tenant sees nothing of it.
    assert_problem(srv.api("globex").status(body["id"]), 404, "not_found")

    other = new_email()
    second = send_ok(acme, other)
    assert_problem(acme.send({"to": other}), 429, "resend_cooldown")
    assert assert_json(acme.cancel(second["id"]), 200)["status"] == "canceled"
    assert_problem(acme.cancel(second["id"]), 409, "not_pending")
    # Only a pending code holds a new send back: after approval or cancel, none.
    assert send_ok(acme, other)["id"] != second["id"]
    assert send_ok(acme, to)["id"] != body["id"]


def test_nothing_in_plain_at_rest(stack, ddb):
    table = new_table()
    srv = on_dynamodb(stack, ddb, table)
    acme = srv.api("acme")
    to = new_email("plain-check.example")
    body, code = send_and_code(acme, stack.acme_hook, to)
    assert_problem(acme.verify({"id": body["id"], "code": wrong_code(code)}), 422, "invalid_code")
    items = ddb.items(table)
    kinds = Counter(item["sk"]["S"][0] if item["pk"]["S"][0] in "qx" else item["pk"]["S"][0]
                    for item in items)
    assert kinds["v"] == 1 and kinds["r"] == 1, kinds
    dumped = json.dumps(items)
    # The recipient only masked ("z***@plain-check.example"), the code only hashed.
    assert to.split("@")[0] not in dumped
    assert dumped.count("plain-check.example") == dumped.count("***@plain-check.example")
    assert f'"{code}"' not in dumped and f":{code}" not in dumped
    for item in items:
        assert "expires_at_ttl" in item, item["pk"]


def api_calls(calls) -> Counter:
    """The requests an API call made: not the worker's queue polls, leases and outcomes,
    nor the sweeper's."""
    out = Counter()
    for operation, body in calls:
        if operation == "Query":
            continue
        if operation == "TransactWriteItems" and (b"SET dlv" in body or b"SET due" in body):
            continue
        out[operation] += 1
    return out


def test_each_call_costs_one_read_and_at_most_one_write_round_trip(stack, ddb):
    proxy = CountingProxy(ddb.port)
    try:
        srv = on_dynamodb(stack, ddb, new_table(), endpoint=proxy.endpoint)
        acme = srv.api("acme")
        to = new_email()
        proxy.take()
        # A send reads the recipient's aggregate (one item: a GetItem), and with an
        # idempotency key its record too (one TransactGetItems), then commits once.
        body, code = send_and_code(acme, stack.acme_hook, to)
        assert api_calls(proxy.take()) == {"GetItem": 1, "TransactWriteItems": 1}
        wait_delivery(acme, body["id"], "sent")
        proxy.take()
        assert_json(acme.send({"to": new_email()}, headers={"Idempotency-Key": new_table()}), 201)
        assert api_calls(proxy.take()) == {"TransactGetItems": 1, "TransactWriteItems": 1}

        proxy.take()
        assert_problem(acme.verify({"id": body["id"], "code": wrong_code(code)}), 422,
                       "invalid_code")
        assert api_calls(proxy.take()) == {"GetItem": 1, "TransactWriteItems": 1}
        status_of(acme, body["id"])
        assert api_calls(proxy.take()) == {"GetItem": 1}
        # By recipient: its aggregate, then the newest verification.
        assert_json(acme.verify({"to": to, "code": code}), 200)
        assert api_calls(proxy.take()) == {"GetItem": 2, "TransactWriteItems": 1}

        second = send_ok(acme, new_email())
        proxy.take()
        assert_json(acme.cancel(second["id"]), 200)
        assert api_calls(proxy.take()) == {"GetItem": 1, "TransactWriteItems": 1}
    finally:
        proxy.close()


def test_a_refused_send_writes_nothing(stack, ddb):
    proxy = CountingProxy(ddb.port)
    try:
        srv = on_dynamodb(stack, ddb, new_table(), endpoint=proxy.endpoint)
        acme = srv.api("acme")
        to = new_email()
        send_ok(acme, to)
        proxy.take()
        refused = acme.send({"to": to})
        assert_problem(refused, 429, "resend_cooldown")
        assert_retry_after(refused)
        assert api_calls(proxy.take()) == {"GetItem": 1}
    finally:
        proxy.close()


# ---- two instances on one table ----------------------------------------------------------

@pytest.fixture
def pair(stack, ddb):
    table = new_table()
    return on_dynamodb(stack, ddb, table), on_dynamodb(stack, ddb, table)


def parallel_posts(servers, key, path, body, n, timeout=30.0):
    """n POSTs released together, alternating between `servers` (harness)."""
    return posts_released_together(
        [(servers[i % len(servers)], key, path, body) for i in range(n)], timeout)


def test_a_code_sent_through_one_instance_verifies_on_the_other(stack, pair):
    a, b = pair
    to = new_email()
    body, code = send_and_code(a.api("acme"), stack.acme_hook, to)
    assert status_of(b.api("acme"), body["id"])["status"] == "pending"
    assert_problem(b.api("acme").verify({"id": body["id"], "code": wrong_code(code)}), 422,
                   "invalid_code")
    assert status_of(a.api("acme"), body["id"])["attempts_remaining"] == 4
    ok = assert_json(b.api("acme").verify({"to": to, "code": code}), 200)
    assert ok["id"] == body["id"]
    assert_problem(a.api("acme").verify({"id": body["id"], "code": code}), 404, "not_found")


def test_concurrent_right_checks_over_both_approve_exactly_once(stack, pair):
    a, b = pair
    body, code = send_and_code(a.api("acme"), stack.acme_hook, new_email())
    results = parallel_posts(pair, stack.keys["acme"], "/v1/otp/verify",
                             {"id": body["id"], "code": code}, 48)
    statuses = Counter(s for s, _ in results)
    assert statuses[200] == 1, (statuses, [r for r in results if r[0] != 404][:5])
    assert statuses[404] == 47, statuses
    assert status_of(b.api("acme"), body["id"])["status"] == "approved"


def test_concurrent_wrong_guesses_over_both_never_exceed_the_limit(stack, pair):
    a, b = pair
    body, code = send_and_code(a.api("acme"), stack.acme_hook, new_email())
    results = parallel_posts(pair, stack.keys["acme"], "/v1/otp/verify",
                             {"id": body["id"], "code": wrong_code(code)}, 40)
    statuses = Counter(s for s, _ in results)
    assert set(statuses) <= {422, 429}, (statuses, [r for r in results if r[0] not in (422, 429)][:3])
    remaining = sorted(r["attempts_remaining"] for s, r in results if s == 422)
    assert remaining == [1, 2, 3, 4], (remaining, statuses)
    st = status_of(b.api("acme"), body["id"])
    assert st["status"] == "max_attempts_reached" and st["attempts_remaining"] == 0, st
    assert_problem(a.api("acme").verify({"id": body["id"], "code": code}), 429, "max_attempts")


def test_concurrent_sends_over_both_start_one_verification(stack, pair):
    to = new_email()
    results = parallel_posts(pair, stack.keys["acme"], "/v1/otp/send", {"to": to}, 16)
    statuses = Counter(s for s, _ in results)
    assert statuses[201] == 1, statuses
    assert statuses[429] == 15, statuses
    assert all(r["code"] == "resend_cooldown" for s, r in results if s == 429)


def test_cooldown_and_idempotency_hold_across_instances(stack, pair):
    a, b = pair
    to = new_email()
    first = send_ok(a.api("acme"), to)
    refused = b.api("acme").send({"to": to})
    assert_problem(refused, 429, "resend_cooldown")
    assert 1 <= assert_retry_after(refused) <= 30

    key = "idem-" + new_email().split("@")[0]
    body = {"to": new_email()}
    r1 = a.api("acme").send(body, headers={"Idempotency-Key": key})
    created = assert_json(r1, 201)
    r2 = b.api("acme").send(body, headers={"Idempotency-Key": key})
    replayed = assert_json(r2, 201)
    assert replayed["id"] == created["id"]
    assert r2.header("Idempotent-Replayed") == "true"
    assert_problem(b.api("acme").send({"to": new_email()}, headers={"Idempotency-Key": key}),
                   409, "idempotency_conflict")
    assert first["id"] != created["id"]
