"""What a refusal says (the API reference (docs/api.md), RFC 9457): titles are the reason phrases of their
status lines, field errors are bounded, a verify's 404 says what became of a verification
whose id the caller holds, an approval returns the metadata, failed authentication is
throttled per address, and messages people read are not repeated or wrong."""

import http.client

from harness import assert_json, assert_problem, new_email, send_ok, wrong_code

REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict",
           410: "Gone", 413: "Content Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Content", 429: "Too Many Requests"}


def test_titles_are_the_reason_phrases_of_the_status_line(server):
    api = server.api("acme")
    b = send_ok(api, new_email())
    answers = [
        api.send({"to": "nobody"}),                                   # 400
        server.anon().send({"to": new_email()}),                      # 401
        api.status("v_unknownunknownunknownu"),                       # 404
        api.verify({"id": b["id"], "code": "000000"}),                 # 422 (200 one time in 10^6)
        api.send({"to": new_email()}, headers={"Content-Type": "text/plain"}),  # 415
        api.send({"to": new_email(), "metadata": {"x": "y" * 17000}}),           # 413
    ]
    for r in answers:
        if r.status == 200:
            continue
        p = r.json
        assert p["title"] == REASONS[r.status], (r.status, p)
        assert p["status"] == r.status


def test_unknown_fields_are_echoed_within_a_bound(server):
    # A 15 KB body of unknown names once produced an 80 KB answer.
    body = {"to": new_email()}
    body.update({f"field_{i:05d}": i for i in range(700)})
    r = server.api("acme").send(body)
    p = assert_problem(r, 400, "invalid_request")
    assert len(r.body) < 2048, len(r.body)
    assert len(p["errors"]) <= 11, p["errors"][:3]
    assert p["errors"][-1]["message"].startswith("and ") and p["errors"][-1]["message"].endswith(" more")


def test_error_texts_say_what_to_do(server):
    api = server.api("acme")
    p = assert_problem(api.send({"to": "4155550100"}), 400, "invalid_request")
    message = p["errors"][0]["message"]
    assert "+" in message and "E.164" in message and "+14155550100" in message, message
    p = assert_problem(api.send({"to": "nobody"}), 400, "invalid_request")
    message = p["errors"][0]["message"]
    # It once read "must be an email address or an E.164 phone number (not an email
    # address or an E.164 phone number)".
    assert message.count("E.164") == 1, message


def test_verify_404_says_what_became_of_the_verification(server, stack):
    api = server.api("acme")
    hook = stack.acme_hook
    b = send_ok(api, new_email(), metadata={"order": "42"})
    code = hook.wait_for(b["id"])["code"]
    ok = assert_json(api.verify({"id": b["id"], "code": code}), 200)
    assert ok["metadata"] == {"order": "42"}, ok
    p = assert_problem(api.verify({"id": b["id"], "code": code}), 404, "not_found")
    assert p["verification_status"] == "approved", p
    assert p["status"] == 404

    c = send_ok(api, new_email())
    assert_json(api.cancel(c["id"]), 200)
    p = assert_problem(api.verify({"id": c["id"], "code": "123456"}), 404, "not_found")
    assert p["verification_status"] == "canceled", p
    # By recipient, or for an id nobody holds, nothing more is said.
    p = assert_problem(api.verify({"id": "v_" + "x" * 22, "code": "123456"}), 404, "not_found")
    assert "verification_status" not in p


def test_failed_authentication_is_throttled_per_address(server):
    bad = server.api(key="sk_wrong_" + "0" * 20)
    # The bucket refills at 5 per second: how many failures it takes depends on how fast they
    # come (a loaded machine, or a proxy in between), so the answer checked is the first 429.
    statuses = []
    limited = None
    while limited is None and len(statuses) < 400:
        r = bad.send({"to": new_email()})
        statuses.append(r.status)
        limited = r if r.status == 429 else None
    assert statuses[0] == 401
    assert limited is not None, statuses
    assert set(statuses[:-1]) == {401}, statuses
    p = assert_problem(limited, 429, "rate_limited")
    assert int(limited.header("Retry-After")) >= 1
    # A valid key from the same address is never held back.
    assert server.api("acme").send({"to": new_email()}).status == 201
