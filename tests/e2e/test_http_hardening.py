"""The HTTP transport under attack, over real sockets against the real binary: input that
never ends inside a chunked body, Transfer-Encoding that would smuggle a second request, and
a descriptor limit below the connection cap (security invariant 6: every buffer a client can
fill is bounded; bad input gets a clear 4xx; a new client is answered, never left hanging)."""

import select
import socket
import stat
import time

import pytest

from harness import Otpd, parse_responses, raw_exchange, read_all, wait_until

MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _assert_problem(resp, status: int, code: str) -> None:
    assert resp.status == status, resp
    assert (resp.header("content-type") or "").startswith("application/problem+json"), resp.headers
    assert resp.json and resp.json.get("code") == code, resp.body
    assert resp.header("x-request-id"), resp.headers


def _stream_until_refused(port: int, head: bytes, pid: int, total: int = 64 * MIB,
                          seconds: float = 15.0):
    """Sends `head`, then `total` bytes of 'a' that never end the line it opened, while
    sampling the server's RSS. Returns (bytes received, closed, peak VmRSS in KiB)."""
    peak = _status_kib(pid, "VmRSS")
    data, closed = b"", False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head)
        filler = b"a" * 65536
        deadline = time.monotonic() + seconds
        sent = 0
        while sent < total and time.monotonic() < deadline:
            try:
                s.sendall(filler)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                closed = True
                break
            sent += len(filler)
            peak = max(peak, _status_kib(pid, "VmRSS"))
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                data += chunk
        rest, rest_closed = read_all(s, timeout=5)
        peak = max(peak, _status_kib(pid, "VmRSS"))
    return data + rest, closed or rest_closed, peak


@pytest.mark.parametrize("opening", [b"1;x=", b"0\r\nX-T: "], ids=["chunk-extension", "trailer"])
def test_endless_chunk_line_is_refused_and_memory_stays_bounded(server, opening):
    """A chunk-size line (its extension) or a trailer field that never ends used to be
    buffered whole: one unauthenticated connection grew otpd by hundreds of MiB."""
    pid = server.proc.pid
    rss_before = _status_kib(pid, "VmRSS")
    hwm_before = _status_kib(pid, "VmHWM")
    head = (b"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + opening)
    data, closed, peak = _stream_until_refused(server.port, head, pid)

    grew_kib = max(peak - rss_before, _status_kib(pid, "VmHWM") - hwm_before)
    assert grew_kib < 16 * 1024, f"otpd grew by {grew_kib} KiB while a client streamed one line"
    resps = parse_responses(data)
    assert resps, data[:300]
    _assert_problem(resps[0], 400, "invalid_request")
    assert resps[0].header("connection") == "close"
    assert closed, "the connection should be closed after the refusal"
    assert server.alive()
    assert server.anon().get("/healthz").status == 200


SMUGGLED = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("coding", ["gzip", "xchunked", "identity", "chunked, gzip"])
def test_transfer_encoding_not_ending_in_chunked_is_400_and_closed(server, coding):
    """RFC 9112 6.3: the body's length is unknown, so it must not be read as the next request
    on a kept-alive connection (it used to get a second, 200 /metrics answer)."""
    key = server.keys["acme"]
    req = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
           f"Content-Type: application/json\r\nTransfer-Encoding: {coding}\r\n\r\n").encode() + SMUGGLED
    data, closed = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert [r.status for r in resps] == [400], data[:600]
    _assert_problem(resps[0], 400, "invalid_request")
    assert closed, "the connection should be closed after a request with an unknown length"


def test_transfer_encoding_with_content_length_is_400_and_closed(server):
    key = server.keys["acme"]
    req = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
           f"Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n"
           f"Content-Length: {len(SMUGGLED)}\r\n\r\n").encode() + SMUGGLED + SMUGGLED
    data, closed = raw_exchange(server.port, req, timeout=5)
    resps = parse_responses(data)
    assert [r.status for r in resps] == [400], data[:600]
    _assert_problem(resps[0], 400, "invalid_request")
    assert closed


def test_chunked_requests_still_work_on_a_kept_alive_connection(server):
    """The positive control: a plain chunked body is read, and the connection serves on."""
    body = b'{"to": "zq-hardening@example.com"}'
    key = server.keys["acme"]
    req = (f"POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
           f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    req += f"{len(body):x};note=1\r\n".encode() + body + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
    req += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, closed = raw_exchange(server.port, req, timeout=5)
    assert [r.status for r in parse_responses(data)] == [201, 200], data[:600]
    assert closed


def _nofile_wrapper(stack, nofile: int) -> str:
    """An executable that runs otpd with RLIMIT_NOFILE set to `nofile` (soft and hard)."""
    path = stack.tmp / f"otpd-nofile-{nofile}"
    path.write_text("#!/usr/bin/python3\nimport os, resource, sys\n"
                    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile}))\n"
                    f"os.execv({stack.binary!r}, [{stack.binary!r}] + sys.argv[1:])\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_new_client_is_answered_under_a_low_descriptor_limit(stack):
    """With RLIMIT_NOFILE 256 and the default max_connections (4096), 300 idle connections
    used to exhaust the descriptors: accept failed with EMFILE, and new clients hung. Now the
    cap is fitted under the limit at start, so a new client is answered (served, or refused
    with 503 and Retry-After) while they stay connected."""
    workdir = stack.new_workdir()
    srv = Otpd(_nofile_wrapper(stack, 256), str(workdir), stack.base_config(workdir),
               keys=stack.keys)
    stack.servers.append(srv)
    srv.start()

    idle = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, _ = read_all(s, timeout=5, until_close=False)
        resps = parse_responses(data)
        assert resps, "a new client got no answer while 300 idle connections were open"
        assert resps[0].status in (200, 503), data[:300]
        if resps[0].status == 503:
            _assert_problem(resps[0], 503, "unavailable")
            assert resps[0].header("retry-after") == "1"
    finally:
        for s in idle:
            s.close()
    assert srv.alive()
    wait_until(lambda: srv.anon().get("/healthz").status == 200, timeout=10,
               message="otpd serving again once the idle connections are gone")
    # The start-up log says which cap it chose, and why.
    log = srv.stderr_text()
    listening = [line for line in log.splitlines() if '"otpd listening"' in line]
    assert listening, log[-2000:]
    assert '"nofile":256' in listening[0], listening[0]
    assert "max_connections lowered to fit the file descriptor limit" in log, log[-2000:]
