"""deploy/nginx/otpd.conf, the documented TLS reverse proxy, run for real: nginx with a
throwaway self-signed certificate and the recipe as shipped (only ports, certificate paths
and log paths substituted), a real otpd behind it, HTTPS requests through it."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from harness import free_port, new_email, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
RECIPE = REPO / "deploy" / "nginx" / "otpd.conf"


def _nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not path:
        pytest.skip("nginx is not installed (scripts/install-deps --test installs nginx-light)")
    return path


def _substitute(text: str, old: str, new: str, count: int = 1) -> str:
    """Replaces `old` exactly `count` times: a recipe edit that moves a line fails here
    loudly instead of testing something else."""
    assert text.count(old) == count, f"recipe no longer contains {old!r} {count} time(s)"
    return text.replace(old, new)


def _self_signed(tmp: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class Proxy:
    def __init__(self, tmp: pathlib.Path, otpd_port: int):
        self.tmp = tmp
        self.https_port = free_port()
        self.http_port = free_port()
        self.cert, key = _self_signed(tmp)
        recipe = RECIPE.read_text()
        recipe = _substitute(recipe, "server 127.0.0.1:8080;", f"server 127.0.0.1:{otpd_port};")
        recipe = _substitute(recipe, "listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;")
        recipe = _substitute(recipe, "listen [::]:443 ssl http2;\n", "")
        recipe = _substitute(recipe, "listen 80;", f"listen 127.0.0.1:{self.http_port};")
        recipe = _substitute(recipe, "listen [::]:80;\n", "")
        recipe = _substitute(recipe, "/etc/ssl/otpd/fullchain.pem", str(self.cert))
        recipe = _substitute(recipe, "/etc/ssl/otpd/privkey.pem", str(key))
        self.access_log = tmp / "otpd.access.log"
        recipe = _substitute(recipe, "/var/log/nginx/otpd.access.log", str(self.access_log))
        (tmp / "otpd.conf").write_text(recipe)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / d).mkdir(exist_ok=True)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"  access_log off;\n"
            f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  include {tmp}/otpd.conf;\n"
            "}\n")
        self.args = [_nginx_binary(), "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")]
        self.proc = None

    def check_syntax(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.args + ["-t"], capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited {self.proc.returncode}: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(listening, 15, message="nginx listening")

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def https(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        context = ssl.create_default_context(cafile=str(self.cert))  # verifies chain and host name
        conn = http.client.HTTPSConnection("localhost", self.https_port, context=context, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


@pytest.fixture
def proxy(server, tmp_path):
    (tmp_path / "nginx").mkdir()
    p = Proxy(tmp_path / "nginx", server.port)
    p.start()
    yield p
    p.stop()


def _send_headers(key: str, **extra) -> dict:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {key}", **extra}


def test_recipe_passes_nginx_syntax_check(server, tmp_path):
    (tmp_path / "nginx").mkdir()
    r = Proxy(tmp_path / "nginx", server.port).check_syntax()
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr, r.stderr


def test_https_request_reaches_otpd_with_the_request_id(server, proxy, acme_hook):
    to = new_email()
    status, headers, body = proxy.https("POST", "/v1/otp/send", json.dumps({"to": to}).encode(),
                                        _send_headers(server.keys["acme"], **{"X-Request-Id": "rid-nginx-1"}))
    assert status == 201, body
    sent = json.loads(body)
    assert sent["status"] == "pending"
    # Echoed by otpd, through nginx, and seen by otpd itself (its access log line).
    assert headers.get("x-request-id") == "rid-nginx-1", headers
    wait_until(lambda: "rid-nginx-1" in server.stderr_text(), 10, message="otpd's log line for rid-nginx-1")
    assert wait_until(lambda: acme_hook.events_to(to), 10, message="delivery")[0]["id"] == sent["id"]
    status, _, body = proxy.https("GET", f"/v1/otp/{sent['id']}", headers=_send_headers(server.keys["acme"]))
    assert status == 200 and json.loads(body)["id"] == sent["id"], body


def test_without_a_client_id_nginx_and_otpd_log_the_same_one(server, proxy):
    status, headers, _ = proxy.https("GET", "/healthz")
    assert status == 200
    rid = headers.get("x-request-id", "")
    assert re.fullmatch(r"[0-9a-f]{32}", rid), headers  # nginx's $request_id, kept by otpd
    wait_until(lambda: proxy.access_log.exists() and f"rid={rid}" in proxy.access_log.read_text(), 10,
               message="nginx access log line")


def test_body_limit_matches_otpds(server, proxy):
    key = server.keys["acme"]
    padding = "x" * (16 * 1024)

    def body_of(size: int) -> bytes:
        doc = json.dumps({"to": new_email(), "metadata": {"p": ""}})
        filler = size - len(doc)
        return json.dumps({"to": json.loads(doc)["to"], "metadata": {"p": padding[:filler]}}).encode()

    at_limit = body_of(16 * 1024)
    assert len(at_limit) == 16 * 1024
    status, headers, body = proxy.https("POST", "/v1/otp/send", at_limit, _send_headers(key))
    # Reaches otpd (which judges the metadata), so the answer is otpd's problem document.
    assert status != 413 and "application/problem+json" in headers.get("content-type", ""), (status, body)
    over = body_of(16 * 1024 + 1)
    status, headers, body = proxy.https("POST", "/v1/otp/send", over, _send_headers(key))
    # Refused by nginx itself (its HTML page, not otpd's problem document): never forwarded.
    assert status == 413, (status, body)
    assert "text/html" in headers.get("content-type", ""), (headers, body)


def test_metrics_are_not_exposed_but_health_is(server, proxy):
    assert proxy.https("GET", "/metrics")[0] == 403
    assert server.anon().get("/metrics").status == 200  # still there on loopback
    assert proxy.https("GET", "/readyz")[0] == 200


def test_plain_http_port_redirects_to_https(server, proxy):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10)
    try:
        conn.request("GET", "/v1/otp/v_x", headers={"Host": "otp.example.com"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 301
        assert resp.getheader("Location") == "https://otp.example.com/v1/otp/v_x"
    finally:
        conn.close()
