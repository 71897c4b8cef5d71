"""A response validator written by others over the e2e traffic: Stoplight Prism's proxy
(`prism proxy docs/openapi.json UPSTREAM --errors`) in front of the otpd servers a test
starts, so that every answer the API clients get has been checked against docs/openapi.json.

Turned on by E2E_PRISM=1 (or pytest's --prism); tests/CMakeLists.txt runs the core API files
that way as the e2e_prism.* tests. Standard library only.

    client --(X-E2e-Upstream: PORT)--> prism proxy --> Relay --> otpd on 127.0.0.1:PORT

Prism takes a minute of CPU-seconds to start on a loaded machine, and every test starts its
own otpd processes; so one Prism serves the whole pytest process and forwards to a Relay (a
plain HTTP forwarder in this process) that picks the otpd by the X-E2e-Upstream header and
marks what it relays. An answer without the mark was made by Prism itself: a violation of the
document (with --errors, a response that breaks it becomes Prism's 500), a route or method the
document does not describe, or a request Prism could not forward.

Requests go through Prism when they are on otpd's own routes with GET or POST and Prism can
carry them unchanged; the rest go straight to otpd, see `Route.reason_direct`.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "openapi.json"
LAUNCHER = REPO / "tests" / "openapi" / "prism-proxy"

UPSTREAM_HEADER = "X-E2e-Upstream"
RELAYED_HEADER = "X-E2e-Relayed"
VIOLATIONS_HEADER = "sl-violations"
# Node's own limit on request headers is 16 KiB; otpd's is 8 KiB, and its 431 is what the
# tests expect to see, so Prism is started with room above it.
NODE_HEADER_LIMIT = 64 * 1024
# JavaScript numbers are doubles: larger integers would reach otpd changed.
JS_SAFE_INTEGER = 2**53 - 1
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "content-length", "host"}


def enabled(option: bool = False) -> bool:
    return option or os.environ.get("E2E_PRISM", "") not in ("", "0")


class OpenApiViolation(AssertionError):
    """otpd's answer and docs/openapi.json disagree (or Prism could not tell)."""


# --------------------------------------------------------------------------------------
# Which requests Prism can check
# --------------------------------------------------------------------------------------

_ID_SEGMENT = re.compile(r"^/v1/otp/[^/]+(/cancel)?$")
# What Prism's bearer check accepts (Node trims header values first).
_PRISM_BEARER = re.compile(r"^Bearer\s.+$")


class _NotPlainJson(ValueError):
    pass


def _reject_constant(name: str):
    raise _NotPlainJson(f"{name} is not JSON")


def _reject_float(text: str):
    # Prism parses and re-serialises JSON bodies: 6.0 would reach otpd as 6, 1e2 as 100.
    raise _NotPlainJson(f"number {text} would be re-written")


def _check_int(text: str) -> int:
    value = int(text)
    if abs(value) > JS_SAFE_INTEGER:
        raise _NotPlainJson(f"integer {text} is beyond JavaScript's precision")
    return value


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _NotPlainJson("a member name is repeated")
    return dict(pairs)


def _is_json_type(content_type: str | None) -> bool:
    """What Prism's body parser (type-is: application/json, application/*+json) reads as JSON."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class Route:
    """Whether one request can be checked by Prism, and if not, why it goes direct."""

    @staticmethod
    def reason_direct(method: str, target: str, payload: bytes | None, headers: dict,
                      config: dict) -> str | None:
        path = target.split("?", 1)[0]
        if method not in ("GET", "POST"):
            # The document describes GET and POST on every route (one of them a 405); other
            # methods answer 405 as its path descriptions say, with no operation to check.
            return f"method {method}"
        compat = config.get("compat") or {}
        routes = {"/v1/otp/send", "/v1/otp/verify", "/v1/openapi.json"}
        if not config.get("admin_listen"):
            routes |= {"/healthz", "/readyz", "/metrics"}
        if compat.get("enabled") and compat.get("path", "/otp") == "/otp":
            routes.add("/otp")  # the document describes the facade at its default path
        if path not in routes and not _ID_SEGMENT.match(path):
            return f"not a route of otpd: {path}"
        names = {k.lower() for k in headers}
        auth = next((str(v).strip() for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth is not None and not _PRISM_BEARER.match(auth):
            # Prism's security check (on even without request validation) answers 401 itself
            # to an Authorization header that fits no scheme of the document: otpd's own 401
            # to such a header could not be seen through it.
            return "an Authorization header that is not Bearer <key>"
        if names & {"host", "expect", "transfer-encoding", "connection"}:
            return "headers Prism would not pass on as they are"
        if sum(len(k) + len(str(v)) + 4 for k, v in headers.items()) > NODE_HEADER_LIMIT - 1024:
            return "headers beyond Node's limit"
        if not payload:
            return None
        if method == "GET":
            return "a GET with a body (Prism refuses to forward one)"
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return "a body that is not UTF-8"
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        if not _is_json_type(ctype):
            return None  # forwarded as text, byte for byte
        try:
            value = json.loads(text, parse_constant=_reject_constant, parse_float=_reject_float,
                               parse_int=_check_int, object_pairs_hook=_no_duplicates)
        except (ValueError, RecursionError) as e:
            return f"a JSON body Prism would not forward unchanged ({e})"
        if not isinstance(value, (dict, list)):
            # Prism forwards a top-level string unquoted and drops false, 0 and null.
            return "a JSON body that is not an object or an array"
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "a JSON string with a lone surrogate (Node would send U+FFFD)"
        return None


# --------------------------------------------------------------------------------------
# The relay between Prism and the otpd servers
# --------------------------------------------------------------------------------------

class Relay:
    """Forwards each request to the otpd named by X-E2e-Upstream, unchanged, and returns its
    answer unchanged plus the X-E2e-Relayed mark."""

    def __init__(self):
        self.errors: list[str] = []
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                port = self.headers.get(UPSTREAM_HEADER, "")
                headers = [(k, v) for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != UPSTREAM_HEADER.lower()]
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
                    try:
                        conn.putrequest(self.command, self.path, skip_accept_encoding=True)
                        for k, v in headers:
                            conn.putheader(k, v)
                        if body is not None or self.command == "POST":
                            conn.putheader("Content-Length", str(len(body or b"")))
                        conn.endheaders(body)
                        r = conn.getresponse()
                        data = r.read()
                        status, answer = r.status, r.getheaders()
                    finally:
                        conn.close()
                except (OSError, ValueError, http.client.HTTPException) as e:
                    message = f"relay: {self.command} {self.path} to otpd port {port!r}: {e!r}"
                    relay.errors.append(message)
                    status, answer, data = 502, [("Content-Type", "text/plain")], message.encode()
                self.send_response_only(status)
                for k, v in answer:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header(RELAYED_HEADER, "1")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------
# Prism
# --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrismProxy:
    """One `prism proxy DOCUMENT RELAY --errors` for the whole pytest process."""

    # Loading Prism costs about 1.5 s of CPU; on a shared two-core machine under load it has
    # taken 7 s of wall time, and an `npm ci` may come first.
    START_DEADLINE = 300.0

    def __init__(self, workdir: pathlib.Path, document: pathlib.Path = DOCUMENT):
        self.document = document
        self.relay = Relay()
        self.log_path = workdir / "prism.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        for _ in range(3):  # a free port can be taken in between
            self.port = _free_port()
            env = dict(os.environ)
            env["NODE_OPTIONS"] = f"--max-http-header-size={NODE_HEADER_LIMIT}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(LAUNCHER), "run", str(self.document), f"http://127.0.0.1:{self.relay.port}",
                     str(self.port)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True)
            deadline = time.monotonic() + self.START_DEADLINE
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:  # Prism listens once the document is loaded
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.1)
            if self.proc.poll() is None:
                self._stop()
                raise AssertionError(f"Prism did not start within {self.START_DEADLINE}s:\n"
                                     f"{self.log_text()[-3000:]}")
            if "EADDRINUSE" not in self.log_text():
                break
        raise AssertionError(f"Prism exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)

    def close(self) -> None:
        self._stop()
        self.relay.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def findings(self, method: str, target: str, status: int, headers: list, body: bytes) -> list[str]:
        """What Prism said about one exchange: [] when the answer is otpd's and matches."""
        found = []
        names = {k.lower(): v for k, v in headers}
        raw = names.get(VIOLATIONS_HEADER.lower())
        if raw is not None:
            try:
                for v in json.loads(raw):
                    found.append(f"{v.get('severity')} at {'.'.join(map(str, v.get('location', [])))}: "
                                 f"{v.get('message')}")
            except ValueError:
                found.append(f"violations: {raw[:2000]}")
        if RELAYED_HEADER.lower() not in names:
            found.append(f"answered by Prism, not otpd: {status} {body[:3000].decode(errors='replace')}")
        if self.relay.errors:
            found.extend(self.relay.errors)
            self.relay.errors.clear()
        if not self.alive():
            found.append(f"Prism exited:\n{self.log_text()[-2000:]}")
        return [f"{method} {target} -> {status}: {f}" for f in found]

    @staticmethod
    def strip(headers: list) -> list:
        """The answer's headers as otpd sent them (without the relay's mark)."""
        return [(k, v) for k, v in headers if k.lower() != RELAYED_HEADER.lower()]
