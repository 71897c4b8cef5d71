"""Real Redis servers for the end-to-end tests of otpd on Redis: a standalone server or a
3-master Redis Cluster, started by tests/support/redis/redis_fixture.py on free loopback
ports and stopped with the test (or by the fixture's watchdog if pytest dies first).

Each test gets a key prefix of its own (the store URL's key_prefix), so tests can share
servers; tests that freeze, kill or restart a server start one of their own.
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "support" / "redis" / "redis_fixture.py"

# Every instance on one store must share these (otpd refuses a remote store without them).
SHARED_SECRETS = ["redis-e2e-secret-" + secrets.token_hex(8)]

_prefixes = itertools.count()


class RedisDeployment:
    """One running standalone server or Cluster."""

    def __init__(self, kind: str, workdir: pathlib.Path, *, appendonly: bool = False):
        self.kind = kind
        self.state_path = str(workdir / f"redis-{kind}-{secrets.token_hex(4)}.json")
        cmd = [sys.executable, str(FIXTURE), "start", kind, "--state", self.state_path,
               "--owner-pid", str(os.getpid())]
        if appendonly:
            cmd += ["--appendfsync", "always"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"redis_fixture.py start {kind} failed:\n{out.stdout}\n{out.stderr}")
        self._load()

    def _load(self) -> None:
        with open(self.state_path) as f:
            self.state = json.load(f)

    @property
    def ports(self) -> list[int]:
        return [n["port"] for n in self.state["nodes"]]

    def pid(self, node: int = 0) -> int:
        return self.state["nodes"][node]["pid"]

    def url(self, prefix: str | None = None, timeout_ms: int | None = None) -> str:
        """The store URL, with a fresh key prefix unless one is given."""
        if prefix is None:
            prefix = f"e2e{os.getpid()}-{next(_prefixes)}:"
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        base = f"redis-cluster://{hosts}" if self.kind == "cluster" else f"redis://{hosts}/0"
        query = f"?key_prefix={prefix}"
        if timeout_ms is not None:
            query += f"&timeout_ms={timeout_ms}"
        return base + query

    def cli(self, *args: str, node: int = 0) -> str:
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.ports[node]), *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout

    def freeze(self, node: int = 0) -> None:
        os.kill(self.pid(node), signal.SIGSTOP)

    def thaw(self, node: int = 0) -> None:
        os.kill(self.pid(node), signal.SIGCONT)

    def kill_node(self, node: int) -> None:
        self._fixture("kill-node", "--node", str(node))

    def start_node(self, node: int) -> None:
        self._fixture("start-node", "--node", str(node))
        self._load()

    def _fixture(self, *args: str) -> None:
        out = subprocess.run([sys.executable, str(FIXTURE), *args[:1], "--state", self.state_path,
                              *args[1:]], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"redis_fixture.py {args[0]} failed:\n{out.stdout}\n{out.stderr}")

    def stop(self) -> None:
        for node in range(len(self.ports)):
            try:
                os.kill(self.pid(node), signal.SIGCONT)  # a frozen server must die too
            except ProcessLookupError:
                pass
        subprocess.run([sys.executable, str(FIXTURE), "stop", "--state", self.state_path],
                       capture_output=True, timeout=60)


def redis_overrides(url: str, **tenant_policy) -> dict:
    """Config overrides putting an otpd of the e2e Stack on `url`, with the shared secrets;
    `tenant_policy` goes into tenant acme's table."""
    out = {"store": url, "secrets": SHARED_SECRETS}
    if tenant_policy:
        out["tenants"] = {"acme": dict(tenant_policy)}
    return out
