"""DynamoDB Local for the pytest suites (tests/e2e, tests/lambda): the CTest fixture's instance
when OTPD_DYNAMODB_LOCAL_STATE names its directory, else one started for the session; private
instances for tests that freeze theirs. Each is started and stopped by ./dynamodb-local (next
to this file). Also: a table name per test, otpd's store URL for it, the AWS variables otpd
needs, botocore for looking at what otpd wrote, and a proxy that counts otpd's requests.

Stdlib and python3-botocore only."""

from __future__ import annotations

import http.client
import http.server
import os
import pathlib
import secrets
import shutil
import signal
import socketserver
import subprocess
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
SCRIPT = HERE / "dynamodb-local"
REGION = "us-east-1"
# DynamoDB Local keeps one database per access key and region: every process of a test uses
# these, so that they all see the same tables.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDLOCAL",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def new_table(prefix: str = "otpd_e2e_") -> str:
    return prefix + secrets.token_hex(6)


class DynamoDbLocal:
    def __init__(self, state_dir: str, owned: bool):
        self.state_dir = state_dir
        self.owned = owned
        with open(os.path.join(state_dir, "port")) as f:
            self.port = int(f.read().strip())
        with open(os.path.join(state_dir, "pid")) as f:
            self.pid = int(f.read().strip())

    @classmethod
    def start_own(cls) -> "DynamoDbLocal":
        """A new instance, stopped by stop() (or, if this process dies, by the script's
        watchdog)."""
        state = tempfile.mkdtemp(prefix="otpd-dynamodb-local-")
        r = subprocess.run([str(SCRIPT), "start", state, str(os.getpid())], capture_output=True,
                           text=True, timeout=900)
        if r.returncode != 0:
            shutil.rmtree(state, ignore_errors=True)
            raise RuntimeError(f"DynamoDB Local did not start: {r.stderr[-2000:]}")
        return cls(state, owned=True)

    @classmethod
    def fixture_or_own(cls) -> "DynamoDbLocal":
        state = os.environ.get("OTPD_DYNAMODB_LOCAL_STATE")
        if state and os.path.exists(os.path.join(state, "port")):
            return cls(state, owned=False)
        return cls.start_own()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_url(self, table: str, endpoint: str | None = None, **params) -> str:
        query = "&".join([f"region={REGION}", f"endpoint={endpoint or self.endpoint}"] +
                         [f"{k}={v}" for k, v in params.items()])
        return f"dynamodb://{table}?{query}"

    def freeze(self) -> None:
        """SIGSTOP, and wait until every thread of the JVM has stopped: a thread running at
        that moment may still answer a request or two."""
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 30
        tasks = pathlib.Path(f"/proc/{self.pid}/task")
        while True:
            states = []
            for task in tasks.iterdir():
                try:
                    stat = (task / "stat").read_text()
                except OSError:
                    continue
                states.append(stat[stat.rindex(")") + 2])
            if states and all(state == "T" for state in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"DynamoDB Local did not stop: {states}")
            time.sleep(0.005)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if not self.owned:
            return
        subprocess.run([str(SCRIPT), "stop", self.state_dir], capture_output=True, timeout=60)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def client(self):
        """A botocore DynamoDB client of this instance, to look at what otpd stored."""
        import botocore.session  # python3-botocore; imported here so that the rest needs none

        session = botocore.session.get_session()
        return session.create_client("dynamodb", region_name=REGION, endpoint_url=self.endpoint,
                                     aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                                     aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"])

    def items(self, table: str) -> list[dict]:
        """Every item of `table` (a Scan: for tests only)."""
        client = self.client()
        out, start = [], None
        while True:
            kwargs = {"TableName": table, "ConsistentRead": True}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = client.scan(**kwargs)
            out.extend(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return out


class CountingProxy:
    """Forwards otpd's DynamoDB requests to DynamoDB Local on `target_port` and records each
    one's operation (X-Amz-Target without its prefix) and body: how many round trips an API
    call costs. DynamoDB Local does not check signatures, so a Host that differs from the
    signed one is no matter."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.calls: list[tuple[str, bytes]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                with proxy.lock:
                    proxy.calls.append((operation, body))
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def take(self) -> list[tuple[str, bytes]]:
        """The (operation, body) of every request since the last take(), in order."""
        with self.lock:
            calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
