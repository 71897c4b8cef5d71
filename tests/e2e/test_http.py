"""The HTTP/1.1 transport: limits, malformed requests, keep-alive, pipelining, slow clients
(the API reference (docs/api.md) "Limits" and otpd's security guarantees), over raw sockets."""

import json
import select
import socket
import threading
import time

import pytest

from harness import Api, media_type, new_email, parse_responses, raw_exchange, read_all


def _post_send_bytes(server, body: bytes, extra_headers: str = "") -> bytes:
    key = server.keys["acme"]
    return (f"POST /v1/otp/send HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra_headers}\r\n").encode() + body


def _assert_problem_raw(resp, status, code=None):
    assert resp.status == status, resp
    assert media_type(resp.header("content-type")) == "application/problem+json", resp.headers
    body = resp.json
    assert isinstance(body, dict) and body.get("status") == status, resp.body
    if code:
        assert body.get("code") == code, resp.body
    assert resp.header("x-request-id"), resp.headers


def test_body_over_16k_is_413(server):
    to = new_email()
    body = json.dumps({"to": to, "metadata": {"pad": "x" * 17000}}).encode()
    head, _, payload = _post_send_bytes(server, body).partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head + b"\r\n\r\n")
        # A server may answer from Content-Length alone; only send the body if it waits for it.
        ready, _, _ = select.select([s], [], [], 1.0)
        if not ready:
            try:
                s.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass
        data, _ = read_all(s, timeout=5, until_close=False)
    resps = parse_responses(data)
    assert resps, data
    _assert_problem_raw(resps[0], 413, "payload_too_large")
    # nothing was created: the same recipient can be sent to at once
    api = server.api("acme")
    assert api.send({"to": to}).status == 201
    assert api.get("/healthz").status == 200


def test_headers_over_8k_are_431(server):
    req = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    data, _ = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert resps, data
    _assert_problem_raw(resps[0], 431, "headers_too_large")
    # many small headers adding up past 8 KiB count too
    req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        f"X-H{i}: {'b' * 90}\r\n".encode() for i in range(100)) + b"\r\n"
    data, _ = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert resps and resps[0].status == 431, data[:300]
    assert server.anon().get("/healthz").status == 200


def test_headers_under_8k_are_fine(server):
    r = server.anon().get("/healthz", headers={"X-Pad": "p" * 6000})
    assert r.status == 200, r


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02\x03garbage\r\n\r\n",
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",  # a TLS ClientHello
])
def test_garbage_is_400_and_closed(server, garbage):
    data, closed = raw_exchange(server.port, garbage, timeout=5)
    assert data.startswith(b"HTTP/1.1 400") or data.startswith(b"HTTP/1.0 400"), data[:200]
    assert closed, "connection should be closed after a malformed request"
    resps = parse_responses(data)
    assert resps and resps[0].status == 400
    assert server.anon().get("/healthz").status == 200
    assert server.alive()


def test_keep_alive_serves_many_requests_on_one_connection(server):
    api = server.anon()
    for _ in range(20):
        assert api.get("/healthz").status == 200
    conn = api._conn
    assert conn is not None and conn.sock is not None  # never closed by the server in between


def test_pipelined_requests_answered_in_order(server):
    reqs = b"".join(
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-{i}\r\n\r\n".encode() for i in range(5))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(reqs)
        deadline = time.monotonic() + 5
        data = b""
        while len(parse_responses(data)) < 5 and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    resps = parse_responses(data)
    assert [r.status for r in resps] == [200] * 5, data[:500]
    assert [r.header("x-request-id") for r in resps] == [f"pipe-{i}" for i in range(5)]


def test_chunked_request_body_is_accepted(server):
    body = json.dumps({"to": new_email()}).encode()
    chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:7], body[7:])) + b"0\r\n\r\n"
    key = server.keys["acme"]
    req = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
           f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode() + chunks
    data, _ = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert resps and resps[0].status == 201, data[:500]


def test_oversized_chunked_body_is_413(server):
    key = server.keys["acme"]
    part = b" " * 4096
    chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"
    req = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
           f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + chunks
    data, _ = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert resps, data
    _assert_problem_raw(resps[0], 413, "payload_too_large")


def test_connection_close_is_honoured(server):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, closed = raw_exchange(server.port, req, timeout=5)
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    assert closed


def test_many_idle_connections_do_not_block_others(server):
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(50)]
    try:
        api = Api("127.0.0.1", server.port, server.keys["acme"], timeout=5)
        assert api.get("/healthz").status == 200
        assert api.send({"to": new_email()}).status == 201
        api.close()
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow
def test_slow_clients_are_timed_out(server):
    """Headers not complete within 10 s -> closed (a 408 may precede the close); a trickle of
    bytes does not keep the connection open past that either."""
    results = {}

    def idle():
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            start = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            data, closed = read_all(s, timeout=20)
            results["idle"] = (closed, time.monotonic() - start, data)

    def trickle():
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            start = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            closed, data = False, b""
            for i in range(20):
                try:
                    s.sendall(f"X-T{i}: y\r\n".encode())
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                r, _, _ = select.select([s], [], [], 1.0)
                if r:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    data += chunk
                    if not chunk:
                        closed = True
                        break
            results["trickle"] = (closed, time.monotonic() - start, data)

    threads = [threading.Thread(target=idle), threading.Thread(target=trickle)]
    for t in threads:
        t.start()
    # while they hang, the server keeps serving others
    assert server.anon().get("/healthz").status == 200
    for t in threads:
        t.join(30)
    for name in ("idle", "trickle"):
        closed, elapsed, data = results[name]
        assert closed, f"{name} connection not closed after {elapsed:.1f}s"
        assert 8 <= elapsed <= 16, f"{name} connection closed after {elapsed:.1f}s (expected ~10 s)"
        if data:
            assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert server.anon().get("/healthz").status == 200
