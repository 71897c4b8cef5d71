"""End-to-end harness for otpd: starts the real binary, talks HTTP to it, fakes its peers.

Everything here is stdlib only (Python 3.11). Every wait has a deadline and every socket a
timeout, so a hung server fails a test instead of blocking the suite.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import http.client
import http.server
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import socketserver
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import openapi_proxy

# --------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
# URL-safe: RFC 3986 unreserved characters only.
URL_SAFE_ID = re.compile(r"^[A-Za-z0-9._~-]+$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

DEFAULT_TIMEOUT = 10.0


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_time(value: str) -> datetime:
    """Parses an RFC 3339 UTC timestamp ending in Z (fractions up to 9 digits)."""
    assert isinstance(value, str) and RFC3339_UTC.match(value), f"not RFC 3339 UTC: {value!r}"
    main, _, frac = value[:-1].partition(".")
    dt = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    if frac:
        dt = dt.replace(microsecond=int((frac + "000000")[:6]))
    return dt


def seconds_between(a: str, b: str) -> float:
    return (parse_time(b) - parse_time(a)).total_seconds()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Polls until predicate() is truthy; returns its value or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


_counter = itertools.count(random.randrange(10**6))
_run_tag = secrets.token_hex(3)


def new_email(domain: str = "example.com") -> str:
    """A fresh, distinctive recipient address (local part never a common word)."""
    return f"zq{_run_tag}u{next(_counter)}@{domain}"


def new_phone() -> str:
    """A fresh E.164 number under +1 415 (12 characters, as in PRODUCT's examples)."""
    n = next(_counter) % 10**7
    return f"+1415{n:07d}"


def wrong_code(code: str, alphabet: str = "digits") -> str:
    """A well-formed code of the same length that differs from `code` in its last symbol."""
    chars = "0123456789" if alphabet == "digits" else CROCKFORD
    last = code[-1].upper()
    return code[:-1] + chars[(chars.index(last) + 1) % len(chars)]


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


# --------------------------------------------------------------------------------------
# TOML writer (just enough for otpd's config)
# --------------------------------------------------------------------------------------

class Inline(dict):
    """A dict written as a TOML inline table ({ a = 1 }) instead of a [table]."""


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value)} as TOML")


def to_toml(doc: dict, _prefix: tuple = ()) -> str:
    lines: list[str] = []
    scalars = [(k, v) for k, v in doc.items() if not (isinstance(v, dict) and not isinstance(v, Inline))]
    tables = [(k, v) for k, v in doc.items() if isinstance(v, dict) and not isinstance(v, Inline)]
    if _prefix and (scalars or not tables):
        lines.append("[" + ".".join(_toml_key(p) for p in _prefix) + "]")
    for k, v in scalars:
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    if lines:
        lines.append("")
    for k, v in tables:
        lines.append(to_toml(v, _prefix + (k,)))
    return "\n".join(lines)


def deep_merge(base: dict, override: dict) -> dict:
    """Returns base updated recursively with override; a None value deletes the key."""
    out = dict(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and not isinstance(v, Inline) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------------------

@dataclass
class Resp:
    status: int
    headers: list  # [(name, value)] as received
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"<Resp {self.status} {self.headers!r} {self.text[:600]!r}>"


class Api:
    """A keep-alive HTTP/1.1 client for one otpd, optionally with a tenant's API key."""

    def __init__(self, host: str, port: int, key: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.host, self.port, self.key, self.timeout = host, port, key, timeout
        self._conn: http.client.HTTPConnection | None = None
        self._used = False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None, *, headers: dict | None = None,
                raw: bytes | str | None = None, content_type: str | None = "application/json",
                auth: bool = True) -> Resp:
        hdrs = {}
        if auth and self.key is not None:
            hdrs["Authorization"] = f"Bearer {self.key}"
        payload = None
        if raw is not None:
            payload = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            payload = json.dumps(body).encode()
        if payload is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if headers:
            for k, v in headers.items():
                if v is None:
                    hdrs.pop(k, None)
                else:
                    hdrs[k] = v
        return self._exchange(method, path, payload, hdrs)

    def _exchange(self, method: str, path: str, payload: bytes | None, hdrs: dict) -> Resp:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self._used = False
            reused = self._used
            try:
                self._conn.request(method, path, body=payload, headers=hdrs)
                r = self._conn.getresponse()
                data = r.read()
                self._used = True
                resp = Resp(r.status, r.getheaders(), data)
                if r.will_close:
                    self.close()
                return resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server may close an idle keep-alive connection; retry once on a new one.
                self.close()
                if not reused or attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, **kw) -> Resp:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> Resp:
        return self.request("POST", path, body, **kw)

    # API shorthands
    def send(self, body: dict, **kw) -> Resp:
        return self.post("/v1/otp/send", body, **kw)

    def verify(self, body: dict, **kw) -> Resp:
        return self.post("/v1/otp/verify", body, **kw)

    def status(self, vid: str, **kw) -> Resp:
        return self.get(f"/v1/otp/{vid}", **kw)

    def cancel(self, vid: str, **kw) -> Resp:
        return self.post(f"/v1/otp/{vid}/cancel", None, **kw)


def posts_released_together(targets, timeout: float = 20.0) -> list:
    """POSTs each (server, key, path, body) or (server, key, path, body, headers) on its own
    connection: every connection is opened first, then a barrier releases all the requests
    at the same moment. Returns [(status, parsed body)] in order; (None, error) for a
    transport failure. Fails when a request hangs past `timeout`."""
    results: list = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def worker(i, server, key, path, body, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        try:
            conn.connect()
            barrier.wait(timeout)
            hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {key}",
                    **(headers or {})}
            conn.request("POST", path, body=json.dumps(body), headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = data
            results[i] = (r.status, parsed)
        except Exception as e:  # noqa: BLE001 - reported as a result
            results[i] = (None, repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i, *t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout + 5
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "requests hung"
    return results


def assert_json(resp: Resp, status: int) -> dict:
    assert resp.status == status, f"expected {status}, got {resp!r}"
    assert media_type(resp.header("Content-Type")) == "application/json", resp
    body = resp.json
    assert isinstance(body, dict), resp
    return body


def assert_problem(resp: Resp, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem+json error with the given status and `code` member."""
    assert resp.status == status, f"expected {status} {code or ''}, got {resp!r}"
    assert media_type(resp.header("Content-Type")) == "application/problem+json", resp
    body = resp.json
    assert isinstance(body, dict), resp
    assert body.get("status") == status, resp
    assert isinstance(body.get("title"), str) and body["title"], resp
    assert isinstance(body.get("type"), str) and body["type"], resp
    assert isinstance(body.get("code"), str) and body["code"], resp
    if code is not None:
        assert body["code"] == code, f"expected code {code!r}, got {resp!r}"
    return body


def assert_retry_after(resp: Resp, low: int = 1, high: int | None = None) -> int:
    ra = resp.header("Retry-After")
    assert ra is not None and re.fullmatch(r"\d+", ra.strip()), f"Retry-After missing/invalid: {resp!r}"
    value = int(ra)
    assert value >= low, f"Retry-After {value} < {low}"
    if high is not None:
        assert value <= high, f"Retry-After {value} > {high}"
    return value


def delivery_status(body: dict) -> str:
    d = body.get("delivery")
    assert isinstance(d, dict) and isinstance(d.get("status"), str), f"no delivery.status in {body}"
    return d["status"]


# --------------------------------------------------------------------------------------
# Raw sockets
# --------------------------------------------------------------------------------------

def raw_exchange(port: int, data: bytes, *, timeout: float = 5.0, host: str = "127.0.0.1",
                 until_close: bool = True) -> tuple[bytes, bool]:
    """Sends bytes, reads until the peer closes (or `timeout`). Returns (received, closed)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s, timeout=timeout, until_close=until_close)


def read_all(s: socket.socket, *, timeout: float = 5.0, until_close: bool = True) -> tuple[bytes, bool]:
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return buf, False
        except ConnectionResetError:
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk
        if not until_close and complete_responses(buf):
            return buf, False


@dataclass
class RawResponse:
    status: int
    headers: dict  # lower-case name -> value (last wins)
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def parse_responses(data: bytes) -> list[RawResponse]:
    """Parses consecutive HTTP/1.1 responses (Content-Length or chunked bodies)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        assert m, f"not an HTTP response: {lines[0]!r}"
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body += rest[:size]
                rest = rest[size + 2:]
        else:
            n = int(headers.get("content-length", "0"))
            body, rest = rest[:n], rest[n:]
        out.append(RawResponse(int(m.group(1)), headers, body))
        data = rest
    return out


def complete_responses(data: bytes) -> int:
    try:
        return len(parse_responses(data))
    except Exception:  # noqa: BLE001 - partial data
        return 0


# --------------------------------------------------------------------------------------
# Webhook receiver (also a fake Twilio endpoint)
# --------------------------------------------------------------------------------------

@dataclass
class Hit:
    method: str
    path: str
    headers: dict  # lower-case -> value
    body: bytes
    status: int  # what we answered
    received_wall: float
    received_mono: float
    sig_ok: bool | None = None
    sig_t: int | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode(), keep_blank_values=True).items()}


def verify_signature(secret: str, header: str | None, body: bytes) -> tuple[bool, int | None]:
    """Checks `X-Otpd-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    if not header:
        return False, None
    t = None
    sigs = []
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t":
            t = v
        elif k == "v1":
            sigs.append(v)
    if t is None or not re.fullmatch(r"\d+", t) or not sigs:
        return False, None
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    ok = any(hmac.compare_digest(expected, s.lower()) for s in sigs)
    return ok, int(t)


class Receiver:
    """An HTTP server on a free loopback port recording every request it gets.

    Webhook POSTs are answered from `script` (a list of statuses used in order), then with
    `default_status`. Twilio-style Messages.json POSTs get a 201 JSON answer by default.
    """

    def __init__(self, secret: str = "whsec_test_0123456789"):
        self.secret = secret
        self.hits: list[Hit] = []
        self.script: list[int] = []
        self.default_status = 200
        self.extra_headers: dict = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return body
                        body += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                body = self._read_body()
                is_twilio = self.path.endswith("/Messages.json")
                with receiver.cond:
                    if receiver.script:
                        status = receiver.script.pop(0)
                    elif is_twilio and receiver.default_status == 200:
                        status = 201
                    else:
                        status = receiver.default_status
                    hit = Hit(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              body, status, time.time(), time.monotonic())
                    if not is_twilio and self.command == "POST":
                        hit.sig_ok, hit.sig_t = verify_signature(
                            receiver.secret, self.headers.get("X-Otpd-Signature"), body)
                    receiver.hits.append(hit)
                    receiver.cond.notify_all()
                if is_twilio and 200 <= status < 300:
                    payload = json.dumps({"sid": "SM" + secrets.token_hex(16), "status": "queued"}).encode()
                    ctype = "application/json"
                else:
                    payload, ctype = b"ok" if status < 400 else b"error", "text/plain"
                self.send_response(status)
                for k, v in receiver.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + "/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hits_for(self, vid: str) -> list[Hit]:
        with self.cond:
            return [h for h in self.hits if isinstance(h.json, dict) and h.json.get("id") == vid]

    def events_to(self, to: str) -> list[dict]:
        with self.cond:
            return [h.json for h in self.hits
                    if isinstance(h.json, dict) and h.json.get("to") == to and 200 <= h.status < 300]

    def wait_hits(self, predicate: Callable[[Hit], bool], count: int = 1,
                  timeout: float = DEFAULT_TIMEOUT) -> list[Hit]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [h for h in self.hits if predicate(h)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s: {len(found)}/{count} matching requests; "
                        f"all received: {[(h.method, h.path, h.status, h.body[:200]) for h in self.hits]}")
                self.cond.wait(left)

    def wait_for(self, vid: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The webhook event for verification `vid` that we accepted (2xx); checks signatures."""
        hits = self.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("id") == vid
                              and 200 <= h.status < 300, 1, timeout)
        for h in self.hits_for(vid):
            assert h.sig_ok, f"bad X-Otpd-Signature {h.headers.get('x-otpd-signature')!r} for {h.body!r}"
        return hits[0].json

    def wait_twilio(self, to: str, timeout: float = DEFAULT_TIMEOUT) -> Hit:
        return self.wait_hits(lambda h: h.path.endswith("/Messages.json") and h.form.get("To") == to
                              and 200 <= h.status < 300, 1, timeout)[0]


# --------------------------------------------------------------------------------------
# SMTP sink
# --------------------------------------------------------------------------------------

@dataclass
class Mail:
    mail_from: str
    rcpt_to: list
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def texts(self) -> list[str]:
        out = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                out.append(part.get_content())
        return out


class SmtpSink:
    """A minimal plain SMTP server (no STARTTLS, no AUTH) that records every message."""

    def __init__(self):
        self.mails: list[Mail] = []
        self.cond = threading.Condition()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def reply(self, line: str):
                self.wfile.write((line + "\r\n").encode())
                self.wfile.flush()

            def handle(self):
                self.reply("220 sink.test ESMTP")
                mail_from, rcpts = "", []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("latin-1").rstrip("\r\n")
                    verb = cmd[:4].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        self.wfile.flush()
                    elif verb == "HELO":
                        self.reply("250 sink.test")
                    elif verb == "MAIL":
                        mail_from = re.sub(r"^MAIL FROM:\s*", "", cmd, flags=re.I).split()[0].strip("<>")
                        rcpts = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(re.sub(r"^RCPT TO:\s*", "", cmd, flags=re.I).split()[0].strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        lines = []
                        while True:
                            dl = self.rfile.readline()
                            if not dl or dl in (b".\r\n", b".\n"):
                                break
                            lines.append(dl[1:] if dl.startswith(b"..") else dl)
                        with sink.cond:
                            sink.mails.append(Mail(mail_from, rcpts, b"".join(lines)))
                            sink.cond.notify_all()
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, rcpt: str, timeout: float = DEFAULT_TIMEOUT) -> Mail:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.mails:
                    if rcpt in m.rcpt_to:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {rcpt} within {timeout}s; got {self.mails!r}")
                self.cond.wait(left)


# --------------------------------------------------------------------------------------
# The otpd process
# --------------------------------------------------------------------------------------

class ServerExited(AssertionError):
    pass


def run_to_exit(args: list, *, timeout: float = 15.0, env: dict | None = None,
                cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs a short-lived otpd command; fails (after killing it) if it does not exit in time."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"{args} did not exit within {timeout}s; stderr: {err.decode(errors='replace')[-2000:]}")
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(errors="replace"),
                                       err.decode(errors="replace"))


class Otpd:
    """One otpd server process on a free loopback port, with its config, data dir and output.

    `config` is a dict written as TOML; `listen` is filled in from the port picked at start.
    `keys` maps tenant -> plaintext API key (the config holds only the hashes).
    """

    def __init__(self, binary: str, workdir: str, config: dict, *, keys: dict | None = None,
                 test_clock: bool = True, env: dict | None = None, init_store: bool = True,
                 host: str = "127.0.0.1", extra_args: list | None = None, config_via_env: bool = False):
        self.binary = binary
        self.workdir = workdir
        self.config = config
        self.keys = keys or {}
        self.test_clock = test_clock
        self.env = env
        self.init_store = init_store
        self.host = host
        self.extra_args = extra_args or []
        self.config_via_env = config_via_env
        self.data_dir = config.get("data_dir", os.path.join(workdir, "data"))
        self.config_path = os.path.join(workdir, "otpd.toml")
        self.stdout_path = os.path.join(workdir, "stdout.log")
        self.stderr_path = os.path.join(workdir, "stderr.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.expect_dead = False
        self._apis: list[Api] = []
        self._started_once = False
        # Set by the e2e fixtures when E2E_PRISM=1: the API clients then go through Prism.
        self.proxy: openapi_proxy.PrismProxy | None = None
        self.openapi_violations: list[str] = []

    # --- lifecycle ---------------------------------------------------------------------

    def write_config(self) -> None:
        with open(self.config_path, "w") as f:
            f.write(to_toml(self.config))

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
        env.pop("AWS_LAMBDA_RUNTIME_API", None)  # would switch otpd into Lambda mode
        if self.config_via_env:
            env["OTPD_CONFIG"] = self.config_path
        if self.env:
            env.update(self.env)
        return env

    def store_init(self) -> subprocess.CompletedProcess:
        return run_to_exit([self.binary, "store", "init", "--config", self.config_path],
                           timeout=30, env=self._env(), cwd=self.workdir)

    def serve_args(self) -> list:
        args = [self.binary, "serve"]
        if not self.config_via_env:
            args += ["--config", self.config_path]
        if self.test_clock:
            args.append("--unsafe-test-clock")
        return args + self.extra_args

    def start(self, timeout: float = 15.0, keep_config: bool = False) -> "Otpd":
        """Picks a free port, writes the config (unless keep_config: then self.port and the
        written config are used as they are), runs `store init` before the first start, then
        `serve`, and waits for /healthz."""
        last_error = None
        for _ in range(3):  # a picked free port can be taken in between: retry on bind failure
            if not keep_config:
                self.port = free_port()
                listen_host = self.config.get("listen", "127.0.0.1:0").rsplit(":", 1)[0]
                self.config["listen"] = f"{listen_host}:{self.port}"
                self.write_config()
            os.makedirs(self.data_dir, exist_ok=True)
            if self.init_store and not self._started_once:
                r = self.store_init()
                assert r.returncode == 0, f"otpd store init failed ({r.returncode}): {r.stdout}\n{r.stderr}"
            args = self.serve_args()
            self._err_offset = os.path.getsize(self.stderr_path) if os.path.exists(self.stderr_path) else 0
            with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                             env=self._env(), cwd=self.workdir, start_new_session=True)
            self.expect_dead = False
            try:
                self.wait_healthy(timeout)
                self._started_once = True
                return self
            except ServerExited as e:
                last_error = e
                tail = self.stderr_text()[self._err_offset:].lower()
                if keep_config or ("in use" not in tail and "bind" not in tail):
                    raise
        raise last_error  # type: ignore[misc]

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerExited(f"otpd exited with {self.proc.returncode} before becoming healthy; "
                                   f"stderr:\n{self.stderr_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"otpd not healthy within {timeout}s; stderr:\n{self.stderr_text()[-3000:]}")
            time.sleep(0.03)

    def _close_apis(self) -> None:
        for a in self._apis:
            a.close()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        self._close_apis()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.expect_dead = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"otpd did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def kill9(self) -> None:
        self._close_apis()
        self.expect_dead = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self, timeout: float = 15.0) -> "Otpd":
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # --- talking to it -----------------------------------------------------------------

    def api(self, tenant: str | None = "acme", key: str | None = None) -> Api:
        if key is None and tenant is not None:
            key = self.keys.get(tenant)
        a = _BoundApi(self, key)
        self._apis.append(a)
        return a

    def anon(self) -> Api:
        return self.api(tenant=None)

    def advance(self, seconds: float) -> str:
        """Moves otpd's clock forward through the --unsafe-test-clock endpoint."""
        key = next(iter(self.keys.values()), None)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=DEFAULT_TIMEOUT)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request("POST", "/_test/clock", body=json.dumps({"advance_seconds": seconds}), headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        assert r.status == 200, f"POST /_test/clock -> {r.status} {data[:300]!r}"
        now = json.loads(data)["now"]
        parse_time(now)
        return now

    # --- output ------------------------------------------------------------------------

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self) -> str:
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def console_messages(self) -> list[dict]:
        out = []
        for line in self.stdout_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def console_message(self, vid: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
        return wait_until(lambda: next((m for m in self.console_messages() if m.get("id") == vid), None),
                          timeout, message=f"console delivery of {vid} on stdout; stdout:\n"
                                           f"{self.stdout_text()[-1500:]}")


class _BoundApi(Api):
    """An Api that follows its server across restarts (new port). When the server has an
    OpenAPI proxy (E2E_PRISM=1), the requests Prism can check go through it."""

    def __init__(self, server: Otpd, key: str | None):
        super().__init__(server.host, server.port, key)
        self._server = server
        self._via: Api | None = None

    def close(self) -> None:
        super().close()
        if self._via is not None:
            self._via.close()

    def request(self, *a, **kw) -> Resp:
        if self.port != self._server.port:
            self.close()
            self.port = self._server.port
        return super().request(*a, **kw)

    def _exchange(self, method: str, path: str, payload: bytes | None, hdrs: dict) -> Resp:
        proxy = self._server.proxy
        if proxy is None or self.host != "127.0.0.1" or openapi_proxy.Route.reason_direct(
                method, path, payload, hdrs, self._server.config) is not None:
            return super()._exchange(method, path, payload, hdrs)
        if self._via is None or self._via.port != proxy.port:
            self._via = Api("127.0.0.1", proxy.port, timeout=self.timeout)
        resp = self._via._exchange(method, path, payload,
                                   {**hdrs, openapi_proxy.UPSTREAM_HEADER: str(self.port)})
        findings = proxy.findings(method, path, resp.status, resp.headers, resp.body)
        if findings:
            self._server.openapi_violations.extend(findings)
            raise openapi_proxy.OpenApiViolation("docs/openapi.json and otpd disagree (Prism):\n"
                                                 + "\n".join(findings))
        return Resp(resp.status, proxy.strip(resp.headers), resp.body)


# --------------------------------------------------------------------------------------
# Flows used by many tests
# --------------------------------------------------------------------------------------

def send_ok(api: Api, to: str, **fields) -> dict:
    headers = fields.pop("headers", None)
    r = api.send({"to": to, **fields}, headers=headers)
    body = assert_json(r, 201)
    assert r.header("Location") == f"/v1/otp/{body['id']}", r
    return body


def send_and_code(api: Api, receiver: Receiver, to: str, **fields) -> tuple[dict, str]:
    """Sends through the webhook channel and returns (send response body, code)."""
    body = send_ok(api, to, **fields)
    event = receiver.wait_for(body["id"])
    return body, event["code"]


def wait_delivery(api: Api, vid: str, want: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
    last = {}

    def check():
        nonlocal last
        r = api.status(vid)
        last = assert_json(r, 200)
        return last if delivery_status(last) == want else None

    try:
        return wait_until(check, timeout, interval=0.1, message=f"delivery.status {want!r}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last GET: {last}") from None


def status_of(api: Api, vid: str) -> dict:
    return assert_json(api.status(vid), 200)


def start_fails(stack, *, overrides=None, replace=None, env=None, raw_toml=None, timeout=10.0):
    """Initialises a store with a good config, then runs `serve` with a bad one and expects a
    non-zero exit (not a hang). Returns the CompletedProcess."""
    srv = stack.otpd(start=False)
    srv.port = free_port()
    srv.config["listen"] = f"127.0.0.1:{srv.port}"
    srv.write_config()
    init = srv.store_init()
    assert init.returncode == 0, init.stderr
    if raw_toml is not None:
        text = raw_toml
    else:
        cfg = replace(srv.config) if replace else deep_merge(srv.config, overrides or {})
        text = to_toml(cfg)
    with open(srv.config_path, "w") as f:
        f.write(text)
    srv.test_clock = False  # --unsafe-test-clock is refused off loopback: it must not be the reason
    full_env = srv._env()
    if env:
        full_env.update(env)
    r = run_to_exit(srv.serve_args(), timeout=timeout, env=full_env, cwd=srv.workdir)
    assert r.returncode != 0, f"otpd started with a bad config; stderr: {r.stderr[-1500:]}"
    assert r.stderr.strip(), "no message on stderr"
    return r
