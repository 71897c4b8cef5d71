"""The original service's routes (GET /otp?email=, POST /otp) behind API Gateway, in both
payload formats: HTTP APIs pass the raw query string, REST APIs pass it decoded, and either
way a '+' in the address is kept literally, as API Gateway did for the original service."""

from __future__ import annotations

import json

import events


def compat_get_v2(function, raw_query: str):
    return function.invoke(events.http_v2("GET", "/otp", query=raw_query))


def compat_get_v1(function, pairs):
    return function.invoke(events.rest_v1("GET", "/otp", query=pairs))


def compat_post(function, fmt: str, email: str, otp):
    body = json.dumps({"email": email, "otp": otp})
    headers = [("Content-Type", "application/json")]
    if fmt == "2.0":
        return function.invoke(events.http_v2("POST", "/otp", headers=headers, body=body))
    return function.invoke(events.rest_v1("POST", "/otp", headers=headers, body=body))


def test_http_api_raw_query_keeps_plus(function):
    answer = compat_get_v2(function, "email=bob+tag%40example.com")
    assert answer.status == 200, answer
    assert answer.text == "otp send successfully"
    event = function.hook.wait_hits(lambda h: h.json and h.json.get("to") == "bob+tag@example.com")
    code = event[0].json["code"]
    assert len(code) == 6

    again = compat_get_v2(function, "email=bob+tag%40example.com")
    assert (again.status, again.text) == (409, "current otp not expired")

    wrong = compat_post(function, "2.0", "bob+tag@example.com", "000000" if code != "000000" else "111111")
    assert (wrong.status, wrong.text) == (403, "invalid otp")
    ok = compat_post(function, "2.0", "bob+tag@example.com", int(code) if code[0] != "0" else code)
    assert (ok.status, ok.text) == (200, "otp verified successfully")
    gone = compat_post(function, "2.0", "bob+tag@example.com", code)
    assert (gone.status, gone.text) == (404, "invalid otp")


def test_rest_api_decoded_query_is_encoded_again(function):
    # What API Gateway decoded: the address with a literal '+', among other parameters.
    pairs = [("lang", "de"), ("email", "carol+x@example.com"), ("note", "a b&c=d")]
    answer = compat_get_v1(function, pairs)
    assert answer.status == 200, answer
    assert answer.multi["content-type"] == [answer.headers["content-type"]]
    hits = function.hook.wait_hits(lambda h: h.json and h.json.get("to") == "carol+x@example.com")
    code = hits[0].json["code"]
    ok = compat_post(function, "1.0", "carol+x@example.com", code)
    assert (ok.status, ok.text) == (200, "otp verified successfully")


def test_compat_none_pending(function):
    answer = compat_post(function, "1.0", "nobody@example.com", "123456")
    assert (answer.status, answer.text) == (404, "invalid otp")
