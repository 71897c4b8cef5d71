"""The `otp` command-line client (the README's command line) against a real otpd. Its flags are the
client's own (PRODUCT names only the subcommands); skipped when no `otp` binary sits next to
otpd."""

import os
import subprocess

import pytest

from harness import new_email, run_to_exit, status_of, wait_until, wrong_code


@pytest.fixture
def otp(otpd_bin, server):
    path = os.path.join(os.path.dirname(otpd_bin), "otp")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no otp client at {path}")
    base = [path, "--url", f"http://127.0.0.1:{server.port}", "--key", server.keys["acme"]]
    return path, base


def _event_for(hook, to):
    return wait_until(lambda: next(iter(hook.events_to(to)), None), 10, message=f"webhook event to {to}")


def test_send_status_verify(otp, server, acme_hook):
    _, base = otp
    to = new_email()
    r = run_to_exit(base + ["send", to], timeout=15)
    assert r.returncode == 0, r.stderr
    event = _event_for(acme_hook, to)
    vid = event["id"]
    assert vid in r.stdout, r.stdout
    assert event["code"] not in r.stdout + r.stderr
    r = run_to_exit(base + ["status", vid], timeout=15)
    assert r.returncode == 0 and "pending" in r.stdout, (r.stdout, r.stderr)
    r = run_to_exit(base + ["verify", "--id", vid, wrong_code(event["code"])], timeout=15)
    assert r.returncode != 0, r.stdout
    r = run_to_exit(base + ["verify", "--id", vid, event["code"]], timeout=15)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert status_of(server.api("acme"), vid)["status"] == "approved"


def test_verify_by_recipient_with_env_settings(otp, server, acme_hook):
    path, _ = otp
    env = {**os.environ, "OTPD_URL": f"http://127.0.0.1:{server.port}", "OTPD_API_KEY": server.keys["acme"]}
    to = new_email()
    assert run_to_exit([path, "send", to], timeout=15, env=env).returncode == 0
    code = _event_for(acme_hook, to)["code"]
    r = run_to_exit([path, "verify", "--to", to, code], timeout=15, env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_bad_key_fails(otp, server):
    path, _ = otp
    r = run_to_exit([path, "--url", f"http://127.0.0.1:{server.port}", "--key", "sk_wrong", "send", new_email()],
                    timeout=15)
    assert r.returncode != 0


def test_interactive_login(otp, server, acme_hook):
    _, base = otp
    to = new_email()
    proc = subprocess.Popen(base + ["login"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        proc.stdin.write((to + "\n").encode())  # the address it asks for
        proc.stdin.flush()
        code = _event_for(acme_hook, to)["code"]
        out, err = proc.communicate((code + "\n").encode(), timeout=15)  # the code it asks for
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, (out, err)
    vid = _event_for(acme_hook, to)["id"]
    assert status_of(server.api("acme"), vid)["status"] == "approved"
