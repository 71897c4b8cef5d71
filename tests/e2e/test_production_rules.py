"""Start-up rules and logs of a production otpd, against the real binary: unknown OTPD_*
variables, webhook signing secrets, plain-http endpoints, the store list, files at rest,
readable logs on a terminal, the plain-http rule, quiet operational routes, the problem
code in access lines, IPv6 listen addresses and a private database file."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import time

import pytest

from harness import free_port, run_to_exit, start_fails


EX_CONFIG = 78


def test_unknown_otpd_variable_stops_the_start_with_a_did_you_mean(stack):
    r = start_fails(stack, env={"OTPD_LISTN": "127.0.0.1:1"})
    assert r.returncode == EX_CONFIG, r.stderr
    assert 'OTPD_LISTN: unknown variable (did you mean "OTPD_LISTEN"?)' in r.stderr, r.stderr


def test_short_webhook_secret_is_refused_without_echo(stack):
    r = start_fails(stack, overrides={"tenants": {"acme": {"channels": {"webhook": {"secret": "hunter2"}}}}})
    assert r.returncode == EX_CONFIG, r.stderr
    assert "tenants.acme.channels.webhook.secret: must be at least 16 characters" in r.stderr
    assert "hunter2" not in r.stderr


def test_plain_http_webhook_off_loopback_is_refused(stack):
    r = start_fails(stack, overrides={"tenants": {"acme": {"channels": {"webhook": {
        "url": "http://hooks.example.test/otp?token=t0ps3cret"}}}}})
    assert r.returncode == EX_CONFIG, r.stderr
    assert "tenants.acme.channels.webhook.url: plain http://" in r.stderr, r.stderr
    assert "t0ps3cret" not in r.stderr


def test_store_error_names_only_the_stores_of_this_build(stack):
    r = start_fails(stack, env={"OTPD_STORE": "memcached://:pw@127.0.0.1:11211/0"})
    assert r.returncode == EX_CONFIG, r.stderr
    assert "the memcached:// store is not available in this build" in r.stderr, r.stderr
    assert "this build supports: sqlite://PATH, redis://" in r.stderr, r.stderr
    assert ":pw@" not in r.stderr


def test_server_secret_open_to_others_stops_the_start(stack):
    srv = stack.otpd()  # generates data_dir/server.secret
    srv.stop()
    secret = os.path.join(srv.data_dir, "server.secret")
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    os.chmod(secret, 0o644)
    r = run_to_exit(srv.serve_args(), timeout=15, env=srv._env(), cwd=srv.workdir)
    assert r.returncode != 0, r.stderr
    assert f"chmod 600 {secret}" in r.stderr, r.stderr
    os.chmod(secret, 0o600)
    srv.start()
    assert srv.anon().get("/healthz").status == 200


def test_new_data_dir_is_private(stack, tmp_path):
    data = tmp_path / "fresh" / "data"
    srv = stack.otpd(overrides={"data_dir": str(data), "store": f"sqlite://{data}/otpd.db"}, start=False)
    srv.data_dir = str(tmp_path / "unused")  # the harness pre-creates this one; otpd makes the real one
    srv.start()
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "server.secret").st_mode) == 0o600


def test_database_file_is_created_private(stack, tmp_path):
    data = tmp_path / "db" / "data"
    srv = stack.otpd(overrides={"data_dir": str(data), "store": f"sqlite://{data}/otpd.db"}, start=False)
    srv.data_dir = str(tmp_path / "unused")
    old = os.umask(0o022)
    try:
        srv.start()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(data / "otpd.db").st_mode) == 0o600


def _listening_line(srv, *, tty: bool, extra_env: dict | None = None, timeout: float = 15.0) -> str:
    """Starts `serve`, returns its stderr up to the "otpd listening" line, stops it."""
    srv.port = free_port()
    host = srv.config.get("listen", "127.0.0.1:0").rsplit(":", 1)[0]
    srv.config["listen"] = f"{host}:{srv.port}"
    srv.test_clock = False
    srv.write_config()
    assert srv.store_init().returncode == 0
    env = srv._env()
    env.update(extra_env or {})
    if tty:
        master, slave = pty.openpty()
    else:
        master, slave = os.pipe()
    proc = subprocess.Popen(srv.serve_args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, env=env, cwd=srv.workdir, start_new_session=True)
    os.close(slave)
    text = b""
    try:
        deadline = time.monotonic() + timeout
        while b"otpd listening" not in text or not text.rstrip(b"\r").endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, f"no 'otpd listening' line in time: {text!r}"
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"otpd exited ({proc.poll()}): {text!r}")
                text += chunk
    finally:
        proc.terminate()
        proc.wait(15)
        os.close(master)
    return text.decode(errors="replace").replace("\r\n", "\n")


def test_logs_are_readable_text_on_a_terminal(stack):
    srv = stack.otpd(start=False)
    out = _listening_line(srv, tty=True)
    line = next(l for l in out.splitlines() if "otpd listening" in l)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO otpd listening "
                        rf"listen=127\.0\.0\.1:{srv.port} threads=\d+ max_connections=\d+ nofile=\d+ "
                        r"tenants=2", line), line


def test_logs_are_json_lines_on_a_pipe(stack):
    srv = stack.otpd(start=False)
    out = _listening_line(srv, tty=False)
    line = json.loads(next(l for l in out.splitlines() if "otpd listening" in l))
    assert line["msg"] == "otpd listening" and line["level"] == "info", line


def test_log_format_key_forces_the_format(stack):
    srv = stack.otpd(overrides={"log_format": "json"}, start=False)
    out = _listening_line(srv, tty=True)
    json.loads(next(l for l in out.splitlines() if "otpd listening" in l))
    srv2 = stack.otpd(start=False)
    out = _listening_line(srv2, tty=False, extra_env={"OTPD_LOG_FORMAT": "text"})
    assert re.search(r"Z INFO otpd listening listen=", out), out


def test_ipv6_listen_address_is_printed_in_brackets(stack):
    srv = stack.otpd(overrides={"listen": "[::1]:0"}, start=False)
    try:
        out = _listening_line(srv, tty=False)
    except AssertionError as e:
        if "Cannot assign" in str(e) or "address" in str(e).lower():
            pytest.skip("no IPv6 loopback here")
        raise
    line = json.loads(next(l for l in out.splitlines() if "otpd listening" in l))
    assert line["listen"] == f"[::1]:{srv.port}", line


def _request_lines(srv) -> list[dict]:
    lines = []
    for raw in srv.stderr_text().splitlines():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        if doc.get("msg") == "request":
            lines.append(doc)
    return lines


def test_operational_routes_are_not_logged_at_info(server):
    anon = server.anon()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert anon.get(path).status == 200
    assert anon.get("/v1/openapi.json").status == 200
    lines = _request_lines(server)
    assert any(l["route"] == "/v1/openapi.json" for l in lines), lines  # a positive control
    assert not [l for l in lines if l["route"] in ("/healthz", "/readyz", "/metrics")], lines


def test_client_error_lines_carry_the_problem_code(server):
    r = server.api("acme").status("v_doesnotexist000000000000")
    assert r.status == 404
    lines = [l for l in _request_lines(server) if l.get("status") == 404]
    assert lines and lines[-1].get("code") == "not_found", lines


def test_bearer_keys_off_loopback_need_allow_plain_http(stack):
    r = start_fails(stack, overrides={"listen": f"0.0.0.0:{free_port()}"})
    assert r.returncode == EX_CONFIG, r.stderr
    assert "allow_plain_http = true" in r.stderr and "deploy/nginx/otpd.conf" in r.stderr, r.stderr
