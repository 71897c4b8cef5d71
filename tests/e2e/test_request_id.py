"""X-Request-Id on every response, echoed when the client sent one (the API reference (docs/api.md))."""

import json

from harness import new_email, parse_responses, raw_exchange


def _requests(server):
    acme = server.api("acme")
    anon = server.anon()
    return [
        ("send 201", lambda h: acme.send({"to": new_email()}, headers=h), 201),
        ("send 400", lambda h: acme.send({"to": 5}, headers=h), 400),
        ("send 415", lambda h: acme.post("/v1/otp/send", raw="{}", content_type="text/plain", headers=h), 415),
        ("send 401", lambda h: anon.send({"to": new_email()}, headers=h), 401),
        ("verify 404", lambda h: acme.verify({"id": "x" * 24, "code": "123456"}, headers=h), 404),
        ("route 404", lambda h: acme.get("/nope", headers=h), 404),
        ("method 405", lambda h: acme.get("/v1/otp/send", headers=h), 405),
        ("healthz", lambda h: anon.get("/healthz", headers=h), 200),
        ("readyz", lambda h: anon.get("/readyz", headers=h), 200),
        ("metrics", lambda h: anon.get("/metrics", headers=h), 200),
        ("openapi", lambda h: anon.get("/v1/openapi.json", headers=h), 200),
    ]


def test_request_id_echoed(mod_server):
    for i, (name, call, status) in enumerate(_requests(mod_server)):
        rid = f"test-req-{i}-0123456789abcdef"
        r = call({"X-Request-Id": rid})
        assert r.status == status, (name, r)
        assert r.header("X-Request-Id") == rid, (name, r.headers)
        if r.status >= 400:
            assert rid not in (r.json or {}).get("code", ""), name


def test_request_id_generated(mod_server):
    seen = set()
    for name, call, status in _requests(mod_server):
        r = call(None)
        assert r.status == status, (name, r)
        rid = r.header("X-Request-Id")
        assert rid and rid.strip(), (name, r.headers)
        seen.add(rid)
    assert len(seen) == len(_requests(mod_server)), f"request ids repeat: {seen}"


def test_request_id_on_transport_errors(mod_server):
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    body = json.dumps({"to": new_email(), "m": "x" * 17000}).encode()
    huge = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {mod_server.keys['acme']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    for req in (big, huge, b"\x00garbage\r\n\r\n"):
        data, _ = raw_exchange(mod_server.port, req, timeout=5)
        resps = parse_responses(data)
        assert resps, (req[:40], data[:200])
        assert resps[0].status in (400, 413, 431), data[:200]
        assert resps[0].header("x-request-id"), (req[:40], resps[0].headers)
