"""The original deployment's shape: the real binary as a Lambda runtime, answering API Gateway
events (payload formats 2.0 and 1.0) on the DynamoDB store (AWS's DynamoDB Local), as
deploy/aws/template.yaml runs it: the table made beforehand, credentials from AWS_* variables."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import events
from harness import wrong_code

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support" / "dynamodb"))
from dynamodb_local import AWS_ENV, CountingProxy, DynamoDbLocal, new_table  # noqa: E402

FORMATS = ["2.0", "1.0"]


@pytest.fixture(scope="module")
def ddb():
    local = DynamoDbLocal.fixture_or_own()
    yield local
    local.stop()


def store_init(otpd_bin: str, workdir: pathlib.Path, store_url: str) -> None:
    """What CloudFormation does for Lambda: the table, made before the function runs."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "store-init.toml"
    config.write_text(f'store = "{store_url}"\nsecrets = ["{"s" * 16}"]\n')
    r = subprocess.run([otpd_bin, "store", "init", "--config", str(config)],
                       env={"PATH": "/usr/bin:/bin", **AWS_ENV}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def on_dynamodb(make_function, otpd_bin, ddb):
    """make(table=None, **kwargs): a function on a table of its own (or `table`), made first."""

    def make(table: str | None = None, init: bool = True, endpoint: str | None = None, **kwargs):
        table = table or new_table("otpd_lambda_")
        config = {"store": ddb.store_url(table, endpoint), **kwargs.pop("config", {})}
        f = make_function(config=config, env={**AWS_ENV, **kwargs.pop("env", {})}, start=False,
                          **kwargs)
        if init:
            store_init(otpd_bin, f.workdir, ddb.store_url(table))
        f.table = table
        f.start()
        return f

    return make


def problem(answer, status: int, code: str) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer.headers
    body = answer.json()
    assert body["code"] == code, body
    return body


@pytest.mark.parametrize("fmt", FORMATS)
def test_send_verify_status_cancel(on_dynamodb, fmt):
    function = on_dynamodb()
    sent = function.call(fmt, "POST", "/v1/otp/send", body={"to": "alice@example.com"})
    assert sent.status == 201, sent
    vid = sent.json()["id"]
    # Inline delivery: the code was out before the answer, and the store says so.
    code = function.code_for(vid)

    wrong = function.call(fmt, "POST", "/v1/otp/verify", body={"id": vid, "code": wrong_code(code)})
    assert problem(wrong, 422, "invalid_code")["attempts_remaining"] == 4
    status = function.call(fmt, "GET", f"/v1/otp/{vid}")
    assert status.status == 200, status
    assert status.json()["status"] == "pending"
    assert status.json()["delivery"]["status"] == "sent"

    ok = function.call(fmt, "POST", "/v1/otp/verify", body={"to": "alice@example.com", "code": code})
    assert ok.status == 200, ok
    assert ok.json() == {"id": vid, "status": "approved", "approved_at": ok.json()["approved_at"]}
    problem(function.call(fmt, "POST", "/v1/otp/verify", body={"id": vid, "code": code}), 404,
            "not_found")
    problem(function.call(fmt, "POST", f"/v1/otp/{vid}/cancel"), 409, "already_approved")
    problem(function.call(fmt, "GET", f"/v1/otp/{vid}", tenant="globex"), 404, "not_found")

    second = function.call(fmt, "POST", "/v1/otp/send", body={"to": "bob@example.com"}).json()
    canceled = function.call(fmt, "POST", f"/v1/otp/{second['id']}/cancel")
    assert canceled.status == 200, canceled
    assert canceled.json()["status"] == "canceled"
    problem(function.call(fmt, "POST", f"/v1/otp/{second['id']}/cancel"), 409, "not_pending")


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_and_limits(on_dynamodb, fmt):
    function = on_dynamodb()
    problem(function.call(fmt, "POST", "/v1/otp/send", body={"to": "x@example.com"}, tenant=None),
            401, "unauthorized")
    problem(function.call(fmt, "POST", "/v1/otp/send", body="{not json",
                          headers=[("Content-Type", "application/json")]), 400, "invalid_request")
    problem(function.call(fmt, "POST", "/v1/otp/verify", body={"id": "v_unknown", "code": "123456"}),
            404, "not_found")
    assert function.call(fmt, "POST", "/v1/otp/send", body={"to": "x@example.com"}).status == 201
    cooldown = function.call(fmt, "POST", "/v1/otp/send", body={"to": "x@example.com"})
    problem(cooldown, 429, "resend_cooldown")
    assert 1 <= int(cooldown.headers["retry-after"]) <= 30

    key = [("Idempotency-Key", "k-" + fmt)]
    first = function.call(fmt, "POST", "/v1/otp/send", body={"to": "y@example.com"}, headers=key)
    assert first.status == 201, first
    replay = function.call(fmt, "POST", "/v1/otp/send", body={"to": "y@example.com"}, headers=key)
    assert replay.status == 201 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    problem(function.call(fmt, "POST", "/v1/otp/send", body={"to": "z@example.com"}, headers=key),
            409, "idempotency_conflict")


@pytest.mark.parametrize("fmt", FORMATS)
def test_base64_request_bodies(on_dynamodb, fmt):
    function = on_dynamodb()
    answer = function.call(fmt, "POST", "/v1/otp/send", body=json.dumps({"to": "dan@example.com"}),
                           headers=[("Content-Type", "application/json")], base64_encoded=True)
    assert answer.status == 201, answer
    vid = answer.json()["id"]
    code = function.code_for(vid)
    ok = function.call(fmt, "POST", "/v1/otp/verify", body=json.dumps({"id": vid, "code": code}),
                       headers=[("Content-Type", "application/json")], base64_encoded=True)
    assert ok.status == 200, ok


def test_the_original_services_routes(on_dynamodb):
    function = on_dynamodb()
    answer = function.invoke(events.http_v2("GET", "/otp", query="email=bob+tag%40example.com"))
    assert (answer.status, answer.text) == (200, "otp send successfully")
    hits = function.hook.wait_hits(lambda h: h.json and h.json.get("to") == "bob+tag@example.com")
    code = hits[0].json["code"]
    again = function.invoke(events.rest_v1("GET", "/otp", query=[("email", "bob+tag@example.com")]))
    assert (again.status, again.text) == (409, "current otp not expired")

    def post(fmt, otp):
        body = json.dumps({"email": "bob+tag@example.com", "otp": otp})
        headers = [("Content-Type", "application/json")]
        make = events.http_v2 if fmt == "2.0" else events.rest_v1
        return function.invoke(make("POST", "/otp", headers=headers, body=body))

    assert (post("1.0", wrong_code(code)).status, post("2.0", wrong_code(code)).text) == \
        (403, "invalid otp")
    ok = post("2.0", code)
    assert (ok.status, ok.text) == (200, "otp verified successfully")
    gone = post("1.0", code)
    assert (gone.status, gone.text) == (404, "invalid otp")


def test_instances_share_the_table(on_dynamodb):
    """Two functions (two instances of one function, as Lambda scales out) on one table: a
    code sent through one is checked by the other, and the cooldown holds across them."""
    first = on_dynamodb()
    second = on_dynamodb(table=first.table, init=False)
    sent = first.call("2.0", "POST", "/v1/otp/send", body={"to": "carol@example.com"}).json()
    code = first.code_for(sent["id"])
    problem(second.call("2.0", "POST", "/v1/otp/send", body={"to": "carol@example.com"}), 429,
            "resend_cooldown")
    ok = second.call("1.0", "POST", "/v1/otp/verify", body={"id": sent["id"], "code": code})
    assert ok.status == 200, ok
    problem(first.call("2.0", "POST", "/v1/otp/verify", body={"id": sent["id"], "code": code}),
            404, "not_found")


def test_a_missing_table_is_an_init_error(on_dynamodb):
    function = on_dynamodb(init=False)
    assert function.wait_exit() != 0
    assert function.api.init_errors, "no init error posted to the Runtime API"
    error = function.api.init_errors[0].json()
    assert error["errorType"] == "otpd.StartError", error
    assert f'the DynamoDB table "{function.table}" does not exist' in error["errorMessage"], error


# What each DynamoDB operation needs in IAM: a transaction is authorised action by action.
IAM_OF = {"GetItem": "GetItem", "TransactGetItems": "GetItem", "PutItem": "PutItem",
          "UpdateItem": "UpdateItem", "DeleteItem": "DeleteItem", "Query": "Query",
          "DescribeTable": "DescribeTable", "DescribeTimeToLive": "DescribeTimeToLive"}
IAM_OF_ACTION = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}


def test_the_function_needs_exactly_the_actions_the_template_grants(on_dynamodb, ddb):
    from test_template import load_template

    proxy = CountingProxy(ddb.port)
    try:
        # Two secrets: a send then reads and checks the recipient under both hashes.
        function = on_dynamodb(endpoint=proxy.endpoint,
                               config={"secrets": ["lambda-new-secret-0123456789",
                                                   "lambda-old-secret-0123456789"]})
        sent = function.call("2.0", "POST", "/v1/otp/send", body={"to": "iam@example.com"},
                             headers=[("Idempotency-Key", "iam-1")]).json()
        code = function.code_for(sent["id"])
        function.call("2.0", "POST", "/v1/otp/verify", body={"id": sent["id"], "code": "000000"})
        function.call("2.0", "POST", "/v1/otp/verify", body={"to": "iam@example.com", "code": code})
        second = function.call("2.0", "POST", "/v1/otp/send", body={"to": "iam2@example.com"}).json()
        function.call("2.0", "POST", f"/v1/otp/{second['id']}/cancel")
        function.call("2.0", "GET", "/readyz", tenant=None)
        used = set()
        for operation, body in proxy.take():
            if operation == "TransactWriteItems":
                for action in json.loads(body)["TransactItems"]:
                    used |= {IAM_OF_ACTION[kind] for kind in action}
            else:
                assert operation in IAM_OF, f"{operation} is not granted by the template"
                used.add(IAM_OF[operation])
    finally:
        proxy.close()

    granted = set()
    for policy in load_template()["Resources"]["Function"]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            if isinstance(statement, dict) and statement.get("Sid") == "CodesTable":
                granted = {a.split(":", 1)[1] for a in statement["Action"]}
    # Every action used is granted, and every one granted is used (least privilege).
    assert used == granted, (sorted(used), sorted(granted))
