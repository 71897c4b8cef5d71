"""The v1 API, the operations routes and the error model through API Gateway events
(payload formats 2.0 and 1.0) answered by the real binary as a Lambda runtime: the same
answers the HTTP listener gives."""

from __future__ import annotations

import base64
import json
import time

import pytest

import events
from harness import new_email, wrong_code

FORMATS = ["2.0", "1.0"]


def problem(answer, status: int, code: str) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer.headers
    body = answer.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


@pytest.mark.parametrize("fmt", FORMATS)
def test_send_verify_status_cancel(function, fmt):
    sent = function.call(fmt, "POST", "/v1/otp/send", body={"to": "alice@example.com"})
    assert sent.status == 201, sent
    body = sent.json()
    vid = body["id"]
    assert sent.headers["location"] == f"/v1/otp/{vid}"
    assert body["to"] == "a***@example.com"
    assert body["status"] == "pending"
    # Delivery is inline in Lambda mode: the webhook already has the code when the response
    # is posted (a frozen function would run nothing after it), and the answer says so.
    assert function.hook.hits_for(vid), "the response was posted before the delivery attempt"
    assert body["delivery"]["status"] == "sent", body
    code = function.code_for(vid)

    wrong = function.call(fmt, "POST", "/v1/otp/verify", body={"id": vid, "code": wrong_code(code)})
    assert problem(wrong, 422, "invalid_code")["attempts_remaining"] == 4

    status = function.call(fmt, "GET", f"/v1/otp/{vid}")
    assert status.status == 200, status
    assert status.json()["status"] == "pending"
    assert code not in status.text

    ok = function.call(fmt, "POST", "/v1/otp/verify", body={"id": vid, "code": code})
    assert ok.status == 200, ok
    assert ok.json()["status"] == "approved"
    again = function.call(fmt, "POST", "/v1/otp/verify", body={"id": vid, "code": code})
    problem(again, 404, "not_found")

    problem(function.call(fmt, "POST", f"/v1/otp/{vid}/cancel"), 409, "already_approved")
    # Another tenant's id answers 404, never 403.
    problem(function.call(fmt, "GET", f"/v1/otp/{vid}", tenant="globex"), 404, "not_found")

    second = function.call(fmt, "POST", "/v1/otp/send", body={"to": "bob@example.com"}).json()
    canceled = function.call(fmt, "POST", f"/v1/otp/{second['id']}/cancel")
    assert canceled.status == 200, canceled
    assert canceled.json()["status"] == "canceled"


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_model_is_the_listeners(function, fmt):
    problem(function.call(fmt, "POST", "/v1/otp/send", body={"to": "x@example.com"}, tenant=None),
            401, "unauthorized")
    problem(function.call(fmt, "GET", "/v1/nothing/here"), 404, "not_found")
    problem(function.call(fmt, "POST", "/v1/otp/send", body='{"to":"x@example.com"}',
                          headers=[("Content-Type", "text/plain")]), 415, "unsupported_media_type")
    problem(function.call(fmt, "POST", "/v1/otp/send", body="{not json",
                          headers=[("Content-Type", "application/json")]), 400, "invalid_request")
    problem(function.call(fmt, "POST", "/v1/otp/send", body={"to": "x@example.com", "ttl_second": 5}),
            400, "invalid_request")
    limited = function.call(fmt, "PUT", "/v1/otp/send", body={"to": "x@example.com"})
    assert limited.status == 405, limited


@pytest.mark.parametrize("fmt", FORMATS)
def test_body_and_header_limits(function, fmt):
    big = {"to": "carol@example.com", "metadata": {"pad": "x" * (16 * 1024)}}
    answer = function.call(fmt, "POST", "/v1/otp/send", body=big)
    assert "16384" in problem(answer, 413, "payload_too_large")["detail"]
    headers = [("X-Pad", "h" * (8 * 1024))]
    problem(function.call(fmt, "GET", "/healthz", headers=headers, tenant=None), 431,
            "headers_too_large")
    # Refused before the router: nothing was sent to carol.
    assert not function.hook.events_to("carol@example.com")


@pytest.mark.parametrize("fmt", FORMATS)
def test_base64_request_bodies(function, fmt):
    answer = function.call(fmt, "POST", "/v1/otp/send", body=json.dumps({"to": "dan@example.com"}),
                           headers=[("Content-Type", "application/json")], base64_encoded=True)
    assert answer.status == 201, answer
    assert function.code_for(answer.json()["id"])


def test_operations_routes(function):
    for path in ("/healthz", "/readyz"):
        answer = function.call("2.0", "GET", path, tenant=None)
        assert answer.status == 200, answer
    function.call("2.0", "POST", "/v1/otp/send", body={"to": "erin@example.com"})
    metrics = function.call("2.0", "GET", "/metrics", tenant=None)
    assert metrics.status == 200
    assert 'otpd_http_requests_total{route="/v1/otp/send",status="201"} 1' in metrics.text
    assert 'otpd_deliveries_total{channel="webhook",outcome="sent"} 1' in metrics.text
    openapi = function.call("1.0", "GET", "/v1/openapi.json", tenant=None)
    assert openapi.status == 200
    assert openapi.json()["openapi"].startswith("3.1")
    head = function.call("2.0", "HEAD", "/healthz", tenant=None)
    assert head.status == 200 and head.bytes == b""


def test_request_ids_and_multi_value_headers(function):
    # 1.0 with a repeated header: the first X-Request-Id is echoed, in both header maps.
    event = events.rest_v1("GET", "/healthz", headers=[("X-Request-Id", "first-id"),
                                                        ("X-Request-Id", "second-id")])
    answer = function.invoke(event)
    assert answer.headers["x-request-id"] == "first-id"
    assert answer.multi["x-request-id"] == ["first-id"]
    # 2.0 without one: a fresh id, and no cookies member since otpd sets none.
    answer = function.invoke(events.http_v2("GET", "/healthz", cookies=["a=1", "b=2"]))
    assert len(answer.headers["x-request-id"]) == 16
    assert "cookies" not in answer.doc
    assert "multiValueHeaders" not in answer.doc
    assert answer.doc["isBase64Encoded"] is False


def test_codes_never_reach_logs_or_other_answers(function):
    sent = function.call("2.0", "POST", "/v1/otp/send", body={"to": "frank@example.com"}).json()
    code = function.code_for(sent["id"])
    function.call("2.0", "POST", "/v1/otp/verify", body={"id": sent["id"], "code": code})
    logs = function.logs()
    assert "request" in logs
    assert code not in logs
    assert "frank@example.com" not in logs
    assert function.keys["acme"] not in logs


def test_one_kept_alive_connection_to_the_runtime_api(function):
    for _ in range(5):
        assert function.call("2.0", "GET", "/healthz", tenant=None).status == 200
    assert function.api.invoke(b"{malformed").kind == "error"  # error posts reuse it too
    assert function.call("1.0", "GET", "/healthz", tenant=None).status == 200
    assert function.api.connections == 1


def retry_due_in(function, vid: str) -> float:
    """Seconds until the retry of `vid` is due, from its "delivery will be retried" log line."""
    for line in function.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "delivery will be retried" and entry.get("id") == vid:
            return entry["retry_in_ms"] / 1000
    raise AssertionError(f"no retry logged for {vid}:\n{function.logs()[-2000:]}")


def test_a_transient_failure_stays_queued_and_the_tenants_next_send_retries_it(function):
    function.hook.script = [500]
    first = function.call("2.0", "POST", "/v1/otp/send", body={"to": new_email()})
    assert first.status == 201, first
    vid = first.json()["id"]
    assert first.json()["delivery"]["status"] == "queued"
    assert [h.status for h in function.hook.hits_for(vid)] == [500]
    due = time.monotonic() + retry_due_in(function, vid)

    # Once it is due, another tenant's sends leave it alone: each send catches up on its own
    # tenant's queue only.
    time.sleep(max(0.0, due - time.monotonic()) + 0.05)
    other = function.call("2.0", "POST", "/v1/otp/send", body={"to": new_email()}, tenant="globex")
    assert other.json()["delivery"]["status"] == "sent", other
    assert [h.status for h in function.hook.hits_for(vid)] == [500]

    # acme's next send attempts it too, before answering.
    again = function.call("2.0", "POST", "/v1/otp/send", body={"to": new_email()})
    assert again.json()["delivery"]["status"] == "sent", again
    assert [h.status for h in function.hook.hits_for(vid)] == [500, 200]
    status = function.call("2.0", "GET", f"/v1/otp/{vid}")
    assert status.json()["delivery"]["status"] == "sent", status
    code = function.code_for(vid)
    assert function.call("2.0", "POST", "/v1/otp/verify", body={"id": vid, "code": code}).status == 200
