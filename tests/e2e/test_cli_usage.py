"""The `otp` client as a person and a script use it, against a real otpd: global options
before or after the subcommand and in every --help, readable output by default and the
server's JSON with --json, `login` when a code is already pending (resend_cooldown), end of
input at a prompt, unknown commands, an unreachable server."""

import json
import os
import subprocess

import pytest

from harness import free_port, new_email, run_to_exit, status_of, wait_until, wrong_code

COMMANDS = ("send", "verify", "status", "login")


@pytest.fixture(scope="module")
def otp_bin(otpd_bin):
    path = os.path.join(os.path.dirname(otpd_bin), "otp")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no otp client next to otpd at {path}")
    return path


def _clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}


def run(args, **kw):
    kw.setdefault("env", _clean_env())
    return run_to_exit(args, timeout=kw.pop("timeout", 20), **kw)


def _event_for(hook, to):
    return wait_until(lambda: next(iter(hook.events_to(to)), None), 10, message=f"webhook event to {to}")


def test_global_options_work_after_the_subcommand(otp_bin, server, acme_hook):
    to = new_email()
    url = f"http://127.0.0.1:{server.port}"
    r = run([otp_bin, "send", "--url", url, "--api-key", server.keys["acme"], to])
    assert r.returncode == 0, r.stderr
    event = _event_for(acme_hook, to)
    # Readable by default: a sentence and labelled lines, not a JSON document.
    assert r.stdout.startswith("Sent a code to "), r.stdout
    assert f"id:          {event['id']}" in r.stdout, r.stdout
    with pytest.raises(ValueError):
        json.loads(r.stdout)
    # Mixed: one before, one after; the short alias --key too.
    r = run([otp_bin, "--url", url, "status", event["id"], "--key", server.keys["acme"]])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{event['id']}: pending\n"), r.stdout
    assert "attempts remaining: 5" in r.stdout
    r = run([otp_bin, "verify", event["code"], "--id", event["id"], "--url", url,
             "--api-key", server.keys["acme"]])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Approved: {event['id']} at "), r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_lists_the_global_options_and_the_default_url(otp_bin, command):
    r = run([otp_bin, command, "--help"])
    assert r.returncode == 0, r.stderr
    for option in ("--url", "--api-key", "--json"):
        assert option in r.stdout, (command, option, r.stdout)
    assert "http://127.0.0.1:8080" in r.stdout and "OTPD_URL" in r.stdout, r.stdout
    assert "OTPD_API_KEY" in r.stdout, r.stdout


def test_json_prints_the_servers_answers(otp_bin, server, acme_hook):
    base = [otp_bin, "--json", "--url", f"http://127.0.0.1:{server.port}", "--api-key", server.keys["acme"]]
    to = new_email()
    r = run(base + ["send", to])
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    assert sent["status"] == "pending" and sent["to"] != to and sent["id"].startswith("v_"), sent
    code = _event_for(acme_hook, to)["code"]
    # An error is the problem document on stdout, and a non-zero exit.
    r = run(base + ["verify", "--id", sent["id"], wrong_code(code)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    problem = json.loads(r.stdout)
    assert problem["code"] == "invalid_code" and problem["attempts_remaining"] == 4, problem
    r = run(base + ["status", sent["id"]])
    assert json.loads(r.stdout)["attempts_remaining"] == 4, r.stdout
    # --json after the subcommand too.
    r = run([otp_bin, "verify", "--to", to, code, "--json", "--url", f"http://127.0.0.1:{server.port}",
             "--api-key", server.keys["acme"]])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "approved", r.stdout


def test_errors_are_readable_by_default(otp_bin, server, acme_hook):
    base = [otp_bin, "--url", f"http://127.0.0.1:{server.port}", "--api-key", server.keys["acme"]]
    to = new_email()
    assert run(base + ["send", to]).returncode == 0
    event = _event_for(acme_hook, to)
    r = run(base + ["verify", "--id", event["id"], wrong_code(event["code"])])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("otp: ") and first.endswith("(invalid_code, HTTP 422)"), r.stderr
    assert "attempts remaining: 4" in r.stderr
    assert event["code"] not in r.stdout + r.stderr
    # A limit says when to come back.
    r = run(base + ["send", to])
    assert r.returncode == 1
    assert "(resend_cooldown, HTTP 429)" in r.stderr and "retry after:" in r.stderr, r.stderr
    # A bad key is a refusal too.
    r = run([otp_bin, "--url", f"http://127.0.0.1:{server.port}", "--api-key", "sk_wrong", "send", to])
    assert r.returncode == 1 and "(unauthorized, HTTP 401)" in r.stderr, r.stderr


def _login(args, stdin_text):
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_clean_env(), start_new_session=True, text=True)
    try:
        out, err = proc.communicate(stdin_text, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return proc.returncode, out, err


def test_login_offers_the_pending_code_on_resend_cooldown(otp_bin, server, acme_hook):
    to = new_email()
    api = server.api("acme")
    first = api.send({"to": to})
    assert first.status == 201, first
    code = _event_for(acme_hook, to)["code"]
    rc, out, err = _login([otp_bin, "--url", f"http://127.0.0.1:{server.port}", "--api-key", server.keys["acme"],
                           "login", to], code + "\n")
    assert rc == 0, (out, err)
    assert "already sent" in err, err
    assert out == "Verified.\n", out
    assert status_of(api, first.json["id"])["status"] == "approved"
    # Only the one code: the cooldown sent nothing new.
    assert len(acme_hook.events_to(to)) == 1


def test_login_retries_a_wrong_code(otp_bin, server, acme_hook):
    to = new_email()
    args = [otp_bin, "login", "--url", f"http://127.0.0.1:{server.port}", "--api-key", server.keys["acme"]]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_clean_env(), start_new_session=True, text=True)
    try:
        proc.stdin.write(to + "\n")
        proc.stdin.flush()
        event = _event_for(acme_hook, to)
        out, err = proc.communicate(f"{wrong_code(event['code'])}\n\n{event['code']}\n", timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, (out, err)
    assert "not right (4 attempts left)" in err, err
    assert status_of(server.api("acme"), event["id"])["status"] == "approved"


@pytest.mark.parametrize("stage", ["address", "code"])
def test_end_of_input_at_a_prompt_stops_with_a_message(otp_bin, server, acme_hook, stage):
    args = [otp_bin, "--url", f"http://127.0.0.1:{server.port}", "--api-key", server.keys["acme"], "login"]
    to = new_email()
    rc, out, err = _login(args, "" if stage == "address" else to + "\n")
    assert rc not in (0, None) and rc > 0, (rc, out, err)  # an exit status, not a signal
    assert "input ended" in err, err
    assert err.count("Code: ") <= 1 and err.count("Email or phone number: ") <= 1, err  # no loop
    if stage == "code":
        assert "sent to" in err
        vid = _event_for(acme_hook, to)["id"]
        assert status_of(server.api("acme"), vid)["status"] == "pending"


def test_unknown_command_is_named_with_the_list(otp_bin):
    r = run([otp_bin, "--url", "http://127.0.0.1:1", "frobnicate", "x"])
    assert r.returncode == 2, r
    assert 'unknown command "frobnicate"' in r.stderr, r.stderr
    for command in COMMANDS:
        assert command in r.stderr, r.stderr
    r = run([otp_bin])
    assert r.returncode == 2 and "send, verify, status, login" in r.stderr, r.stderr


def test_unreachable_server_says_where_it_looked(otp_bin):
    url = f"http://127.0.0.1:{free_port()}"
    r = run([otp_bin, "status", "v_x", "--url", url])
    assert r.returncode == 2, r
    assert f"cannot reach otpd at {url}" in r.stderr, r.stderr
    # OTPD_URL is where it looks when --url is absent.
    r = run([otp_bin, "status", "v_x"], env={**_clean_env(), "OTPD_URL": url})
    assert r.returncode == 2 and f"cannot reach otpd at {url}" in r.stderr, r.stderr
