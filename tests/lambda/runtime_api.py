"""A Lambda Runtime API emulator (version 2018-06-01) for driving the real otpd binary.

It speaks the protocol a custom runtime sees inside Lambda: `GET /runtime/invocation/next`
blocks until an event is queued and answers it with the Lambda-Runtime-* headers; the
runtime posts `/invocation/{id}/response`, `/invocation/{id}/error` or `/init/error`.
Everything is recorded with the time it arrived, so tests can also measure cold start and
warm invocations (never assert on them: speed is measured, not tested).
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import queue
import socket
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime/"


@dataclasses.dataclass
class Result:
    kind: str  # "response" or "error"
    request_id: str
    body: bytes
    headers: dict
    received: float  # time.monotonic() when the runtime posted it

    def json(self):
        return json.loads(self.body)


@dataclasses.dataclass
class Invocation:
    request_id: str
    payload: bytes
    headers: dict
    queued: float = 0.0
    fetched: float = 0.0  # when the runtime's /next returned it


class RuntimeApi:
    """Serves one runtime process on a free loopback port."""

    def __init__(self, host: str = "127.0.0.1"):
        self.pending: "queue.Queue[Invocation]" = queue.Queue()
        self.invocations: dict[str, Invocation] = {}
        self.results: dict[str, Result] = {}
        self.init_errors: list[Result] = []
        self.next_calls = 0
        self.next_times: list[float] = []  # time.monotonic() of each /next, as it arrived
        self.connections = 0
        self.closing = threading.Event()
        self.cond = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's endpoint

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body leave in two writes: without this, Nagle's algorithm and
                # delayed ACKs add ~40 ms to every answer and the timings mean nothing.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with api.cond:
                    api.connections += 1

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the runtime went away (stopped by the test)
                    self.close_connection = True

            def do_GET(self):
                if self.path != PREFIX + "invocation/next":
                    self._reply(404, b'{"errorMessage":"not found"}')
                    return
                with api.cond:
                    api.next_calls += 1
                    api.next_times.append(time.monotonic())
                    api.cond.notify_all()
                while True:
                    if api.closing.is_set():
                        # What a runtime sees when Lambda is gone: it must exit.
                        self.close_connection = True
                        self._reply(500, b'{"errorMessage":"emulator closed"}')
                        return
                    try:
                        inv = api.pending.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                inv.fetched = time.monotonic()
                self._reply(200, inv.payload, inv.headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                now = time.monotonic()
                if self.path == PREFIX + "init/error":
                    with api.cond:
                        api.init_errors.append(Result("init_error", "", body, headers, now))
                        api.cond.notify_all()
                    self._reply(202, b'{"status":"OK"}')
                    return
                parts = self.path[len(PREFIX):].split("/")
                if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                    self._reply(404, b'{"errorMessage":"not found"}')
                    return
                request_id = parts[1]
                with api.cond:
                    if request_id not in api.invocations or request_id in api.results:
                        # Lambda answers a second post for one invocation, or an unknown id, so.
                        self._reply(400, b'{"errorMessage":"invalid request id"}')
                        return
                    api.results[request_id] = Result(parts[2], request_id, body, headers, now)
                    api.cond.notify_all()
                self._reply(202, b'{"status":"OK"}')

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def queue(self, event, *, trace_id: str | None = None, deadline_ms: int | None = None,
              timeout_s: float = 30.0) -> Invocation:
        """Queues an event (a dict, or raw bytes) the way Lambda hands it to /next."""
        request_id = str(uuid.uuid4())
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn":
                "arn:aws:lambda:eu-west-1:123456789012:function:otpd",
            "Lambda-Runtime-Trace-Id": trace_id or
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        }
        inv = Invocation(request_id, payload, headers, queued=time.monotonic())
        with self.cond:
            self.invocations[request_id] = inv
        self.pending.put(inv)
        return inv

    def wait_result(self, inv: Invocation, timeout: float = 15.0) -> Result:
        deadline = time.monotonic() + timeout
        with self.cond:
            while inv.request_id not in self.results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to invocation {inv.request_id} in {timeout}s")
                self.cond.wait(left)
            return self.results[inv.request_id]

    def invoke(self, event, timeout: float = 15.0, **kwargs) -> Result:
        return self.wait_result(self.queue(event, **kwargs), timeout)

    def wait_init_error(self, timeout: float = 15.0) -> Result:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.init_errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no init error posted")
                self.cond.wait(left)
            return self.init_errors[0]

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
