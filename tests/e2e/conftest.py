"""pytest wiring for otpd's end-to-end suite: the --otpd option, the `slow` marker, and
fixtures that start real otpd processes with fake peers (webhook receiver, SMTP sink).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e --otpd=build/bin/otpd
"""

from __future__ import annotations

import os
import pathlib
import secrets

import pytest

import openapi_proxy
from harness import Otpd, Receiver, SmtpSink, deep_merge, sha256_hex

REPO = pathlib.Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption("--otpd", action="store",
                     default=os.environ.get("OTPD_BIN") or str(REPO / "build" / "bin" / "otpd"),
                     help="path to the otpd binary under test (default: $OTPD_BIN or build/bin/otpd)")
    parser.addoption("--prism", action="store_true", default=False,
                     help="send the API clients' requests through Stoplight Prism's proxy, which "
                          "checks every answer against docs/openapi.json (also: E2E_PRISM=1)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds of real time (kill -9, retries, timeouts); "
                                       "runs by default, deselect with -m 'not slow'")


@pytest.fixture(scope="session")
def otpd_bin(pytestconfig) -> str:
    path = pytestconfig.getoption("--otpd")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"otpd binary not found or not executable: {path} (use --otpd or $OTPD_BIN)")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def openapi_proxy_server(pytestconfig, tmp_path_factory):
    """The Prism proxy of this pytest process when E2E_PRISM=1 (or --prism), else None."""
    if not openapi_proxy.enabled(pytestconfig.getoption("--prism")):
        yield None
        return
    proxy = openapi_proxy.PrismProxy(tmp_path_factory.mktemp("prism"))
    yield proxy
    proxy.close()


class Stack:
    """Fake peers plus any number of otpd servers, all torn down together.

    The default config has two tenants: `acme` (webhook to `acme_hook`, secret whsec_test_0123456789)
    and `globex` (webhook to `globex_hook`, secret whsec_globex_0123456789), each with one API key.
    """

    def __init__(self, binary: str, tmp: pathlib.Path, proxy: openapi_proxy.PrismProxy | None = None):
        self.binary = binary
        self.tmp = tmp
        self.proxy = proxy
        self.receivers: list[Receiver] = []
        self.sinks: list[SmtpSink] = []
        self.servers: list[Otpd] = []
        self.acme_hook = self.receiver("whsec_test_0123456789")
        self.globex_hook = self.receiver("whsec_globex_0123456789")
        self.keys = {"acme": "sk_acme_" + secrets.token_hex(16),
                     "globex": "sk_globex_" + secrets.token_hex(16)}

    def receiver(self, secret: str = "whsec_test_0123456789") -> Receiver:
        r = Receiver(secret)
        self.receivers.append(r)
        return r

    def smtp_sink(self) -> SmtpSink:
        s = SmtpSink()
        self.sinks.append(s)
        return s

    def new_workdir(self) -> pathlib.Path:
        d = self.tmp / f"otpd{len(self.servers)}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def base_config(self, workdir: pathlib.Path) -> dict:
        data = str(workdir / "data")
        return {
            "listen": "127.0.0.1:0",
            "store": f"sqlite://{data}/otpd.db",
            "data_dir": data,
            "tenants": {
                "acme": {
                    "api_keys": [f"sha256:{sha256_hex(self.keys['acme'])}"],
                    "default_channel": "webhook",
                    "app_name": "Acme",
                    "channels": {"webhook": {"url": self.acme_hook.url, "secret": "whsec_test_0123456789"}},
                },
                "globex": {
                    "api_keys": [f"sha256:{sha256_hex(self.keys['globex'])}"],
                    "default_channel": "webhook",
                    "app_name": "Globex",
                    "channels": {"webhook": {"url": self.globex_hook.url, "secret": "whsec_globex_0123456789"}},
                },
            },
        }

    def otpd(self, *, overrides: dict | None = None, config: dict | None = None, keys: dict | None = None,
             start: bool = True, **kw) -> Otpd:
        """A server with the default config deep-merged with `overrides` (None deletes a key),
        or exactly `config` (listen port and paths are still filled in when absent)."""
        workdir = self.new_workdir()
        if config is None:
            config = self.base_config(workdir)
            if overrides:
                config = deep_merge(config, overrides)
            keys = self.keys if keys is None else keys
        else:
            data = str(workdir / "data")
            config = {"listen": "127.0.0.1:0", "store": f"sqlite://{data}/otpd.db", "data_dir": data,
                      **config}
        srv = Otpd(self.binary, str(workdir), config, keys=keys or {}, **kw)
        srv.proxy = self.proxy
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def close(self) -> None:
        problems = []
        for srv in self.servers:
            # Also those a test caught, or that were raised in a thread of the test's own.
            problems.extend(f"docs/openapi.json and otpd disagree (Prism): {v}"
                            for v in srv.openapi_violations)
            srv.openapi_violations.clear()
            if srv.proc is None:
                continue
            if srv.proc.poll() is not None and not srv.expect_dead:
                problems.append(f"otpd ({srv.workdir}) died during the test with exit code "
                                f"{srv.proc.returncode}; stderr tail:\n{srv.stderr_text()[-2000:]}")
            try:
                rc = srv.stop()
            except AssertionError as e:
                problems.append(str(e))
                rc = None
            if rc is not None and rc < 0 and rc not in (-15, -9):
                problems.append(f"otpd ({srv.workdir}) crashed on SIGTERM with signal {-rc}")
            err = srv.stderr_text()
            for marker in ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:"):
                if marker in err:
                    problems.append(f"sanitizer report in otpd stderr ({marker}):\n{err[-3000:]}")
                    break
        for r in self.receivers:
            r.close()
        for s in self.sinks:
            s.close()
        if problems:
            raise AssertionError("\n\n".join(problems))


@pytest.fixture
def stack(otpd_bin, tmp_path, openapi_proxy_server):
    s = Stack(otpd_bin, tmp_path, openapi_proxy_server)
    yield s
    s.close()


@pytest.fixture
def server(stack) -> Otpd:
    """A fresh otpd (test clock on) with tenants acme and globex."""
    return stack.otpd()


@pytest.fixture
def acme(server):
    return server.api("acme")


@pytest.fixture
def globex(server):
    return server.api("globex")


@pytest.fixture
def acme_hook(stack) -> Receiver:
    return stack.acme_hook


@pytest.fixture
def globex_hook(stack) -> Receiver:
    return stack.globex_hook


# A server shared by a module's tests, for tests that never move the clock and use fresh
# recipients (input validation, headers, operations): saves a start-up per test.
@pytest.fixture(scope="module")
def mod_stack(otpd_bin, tmp_path_factory, openapi_proxy_server):
    s = Stack(otpd_bin, tmp_path_factory.mktemp("mod"), openapi_proxy_server)
    yield s
    s.close()


@pytest.fixture(scope="module")
def mod_server(mod_stack) -> Otpd:
    return mod_stack.otpd()
