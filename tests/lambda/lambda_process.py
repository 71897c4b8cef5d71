"""otpd started as a Lambda custom runtime against the Runtime API emulator, with a webhook
receiver for the codes it delivers. Shared by the tests and by measure.py."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))

import events  # noqa: E402
from harness import Receiver, deep_merge, sha256_hex, to_toml  # noqa: E402
from runtime_api import Result, RuntimeApi  # noqa: E402

SECRET = "lambda-test-secret-0123456789abcdef"


def _no_delay(receiver: Receiver) -> None:
    """The receiver answers in two writes; without TCP_NODELAY, Nagle's algorithm and delayed
    ACKs put ~40 ms into every delivery, and so into every send (delivery is inline)."""
    handler = receiver.server.RequestHandlerClass
    setup = handler.setup

    def setup_no_delay(h):
        setup(h)
        h.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    handler.setup = setup_no_delay


class Answer:
    """A proxy response document as API Gateway would read it."""

    def __init__(self, result: Result):
        assert result.kind == "response", f"expected a response, got {result.kind}: {result.body!r}"
        self.result = result
        self.doc = result.json()
        self.status = self.doc["statusCode"]
        self.headers = {k.lower(): v for k, v in self.doc.get("headers", {}).items()}
        self.multi = {k.lower(): v for k, v in (self.doc.get("multiValueHeaders") or {}).items()}
        raw = self.doc.get("body", "")
        self.bytes = base64.b64decode(raw) if self.doc.get("isBase64Encoded") else raw.encode()
        self.text = self.bytes.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.bytes)

    def __repr__(self):
        return f"Answer({self.status}, {self.text[:300]!r})"


class LambdaFunction:
    """The function: one runtime process, its Runtime API and its webhook receiver."""

    def __init__(self, binary: str, workdir: pathlib.Path, *, config: dict | None = None,
                 env: dict | None = None, argv0: str = "bootstrap", config_in_env: bool = False,
                 start: bool = True):
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.api = RuntimeApi()
        self.hook = Receiver("whsec_test_0123456789")
        _no_delay(self.hook)
        self.keys = {"acme": "sk_acme_" + secrets.token_hex(16),
                     "globex": "sk_globex_" + secrets.token_hex(16)}
        self.config = deep_merge(self.base_config(), config or {})
        toml = to_toml(self.config)
        self.env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": self.api.endpoint}
        if config_in_env:
            self.env["OTPD_CONFIG_TOML"] = toml
        else:
            path = workdir / "otpd.toml"
            path.write_text(toml)
            self.env["OTPD_CONFIG"] = str(path)
        self.env.update(env or {})
        self.argv0 = argv0
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.stderr_path = workdir / "stderr.log"
        if start:
            self.start()

    def base_config(self) -> dict:
        return {
            "store": f"sqlite://{self.workdir}/data/otpd.db",
            "secrets": [SECRET],
            "tenants": {
                "acme": {
                    "api_keys": [f"sha256:{sha256_hex(self.keys['acme'])}"],
                    "default_channel": "webhook",
                    "channels": {"webhook": {"url": self.hook.url, "secret": "whsec_test_0123456789"}},
                },
                "globex": {
                    "api_keys": [f"sha256:{sha256_hex(self.keys['globex'])}"],
                    "default_channel": "webhook",
                    "channels": {"webhook": {"url": self.hook.url, "secret": "whsec_test_0123456789"}},
                },
            },
            "compat": {"enabled": True, "tenant": "acme", "path": "/otp"},
        }

    def start(self, command: list[str] | None = None, **popen) -> None:
        self.started_at = time.monotonic()
        self.stderr = open(self.stderr_path, "ab")
        if command is None:
            command, popen = [self.argv0], {"executable": self.binary, **popen}
        self.proc = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr, **popen)

    def logs(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.api.close()
        self.hook.close()

    # ---- invocations

    def invoke(self, event, **kwargs) -> Answer:
        return Answer(self.api.invoke(event, **kwargs))

    def auth(self, tenant: str = "acme") -> tuple[str, str]:
        return ("Authorization", f"Bearer {self.keys[tenant]}")

    def call(self, fmt: str, method: str, path: str, *, body=None, tenant: str | None = "acme",
             headers=(), base64_encoded: bool = False) -> Answer:
        """A v1 API call in payload format `fmt` ("2.0" or "1.0")."""
        hdrs = list(headers)
        if tenant:
            hdrs.append(self.auth(tenant))
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.append(("Content-Type", "application/json"))
        if fmt == "2.0":
            event = events.http_v2(method, path, headers=hdrs, body=body,
                                   base64_encoded=base64_encoded)
        else:
            event = events.rest_v1(method, path, headers=hdrs, body=body,
                                   base64_encoded=base64_encoded)
        return self.invoke(event)

    def code_for(self, vid: str) -> str:
        return self.hook.wait_for(vid)["code"]
