"""Configuration and the command line around `serve` (the README's Configuration reference and command line): errors
name the key, OTPD_* overrides, `otpd key new`, `otpd store init`, secret rotation."""

import re
import socket

import pytest

from harness import (assert_json, free_port, new_email, run_to_exit, send_and_code, send_ok, sha256_hex,
                     start_fails)


@pytest.mark.parametrize("overrides,key", [
    ({"tenants": {"acme": {"code_length": 99}}}, "tenants.acme.code_length"),
    ({"tenants": {"acme": {"code_length": 3}}}, "tenants.acme.code_length"),
    ({"tenants": {"acme": {"ttl_seconds": "300"}}}, "tenants.acme.ttl_seconds"),
    ({"tenants": {"acme": {"ttl_seconds": 5}}}, "tenants.acme.ttl_seconds"),
    ({"tenants": {"acme": {"alphabet": "hex"}}}, "tenants.acme.alphabet"),
    ({"tenants": {"acme": {"max_attempts": -1}}}, "tenants.acme.max_attempts"),
    ({"tenants": {"globex": {"default_channel": "pigeon"}}}, "tenants.globex.default_channel"),
    ({"tenants": {"acme": {"api_keys": ["not-a-hash"]}}}, "tenants.acme.api_keys"),
    ({"listen": "127.0.0.1"}, "listen"),
    # judged by the SMTP channel's own URL parser when the channel is built at start
    ({"tenants": {"acme": {"channels": {"email": {"smtp": "smtp://127.0.0.1:25?tls=maybe",
                                                  "from": "a@acme.test"}}}}},
     "tenants.acme.channels.email"),
    ({"tenants": {"acme": {"channels": {"email": {"smtp": "smtps://127.0.0.1:99999",
                                                  "from": "a@acme.test"}}}}},
     "tenants.acme.channels.email"),
])
def test_bad_value_names_the_key(stack, overrides, key):
    if "listen" in overrides:
        r = start_fails(stack, replace=lambda c: {**c, "listen": overrides["listen"]})
    else:
        r = start_fails(stack, overrides=overrides)
    assert key in r.stderr, f"stderr does not name {key!r}: {r.stderr[-1500:]}"


def test_unknown_top_level_key_is_named(stack):
    r = start_fails(stack, overrides={"bogus_option": 1})
    assert "bogus_option" in r.stderr, r.stderr[-1500:]


def test_unknown_tenant_key_is_named(stack):
    r = start_fails(stack, overrides={"tenants": {"acme": {"colour": "blue"}}})
    assert "colour" in r.stderr, r.stderr[-1500:]


def test_invalid_toml_fails(stack):
    start_fails(stack, raw_toml='listen = "127.0.0.1:1\n[tenants\n')


def test_missing_config_file_fails(stack, tmp_path):
    r = run_to_exit([stack.binary, "serve", "--config", str(tmp_path / "nope.toml")], timeout=10)
    assert r.returncode != 0 and r.stderr.strip()


def test_bad_env_override_names_the_key(stack):
    r = start_fails(stack, overrides={}, env={"OTPD_LISTEN": "not an address"})
    assert "listen" in r.stderr.lower(), r.stderr[-1500:]


def test_env_overrides_top_level_key(stack):
    srv = stack.otpd(start=False)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        # the file says a port that is taken; OTPD_LISTEN says a free one
        srv.config["listen"] = f"127.0.0.1:{busy.getsockname()[1]}"
        srv.write_config()
        srv.port = free_port()
        srv.env = {"OTPD_LISTEN": f"127.0.0.1:{srv.port}"}
        srv.start(keep_config=True)
        send_ok(srv.api("acme"), new_email())
    finally:
        busy.close()


def test_config_path_from_otpd_config_env(stack):
    srv = stack.otpd(start=False, config_via_env=True)
    srv.start()
    send_ok(srv.api("acme"), new_email())


def test_store_init_is_idempotent(stack):
    srv = stack.otpd(start=False)
    srv.port = free_port()
    srv.config["listen"] = f"127.0.0.1:{srv.port}"
    srv.write_config()
    for _ in range(2):
        r = srv.store_init()
        assert r.returncode == 0, r.stderr
    srv.start(keep_config=True)
    send_ok(srv.api("acme"), new_email())


def test_key_new_prints_key_and_hash(stack):
    r = run_to_exit([stack.binary, "key", "new", "--tenant", "initech"], timeout=10)
    assert r.returncode == 0, r.stderr
    m = re.search(r"sha256:([0-9a-f]{64})", r.stdout)
    assert m, r.stdout
    digest = m.group(1)
    tokens = set()
    for t in re.split(r"[\s\"'\[\],]+", r.stdout):
        tokens.add(t)
        for sep in ("=", ":"):  # "key=...", "API key:..."
            if sep in t:
                tokens.add(t.split(sep, 1)[1])
    keys = [t for t in tokens if t and sha256_hex(t) == digest]
    assert keys, f"no printed token hashes to {digest}: {r.stdout!r}"
    key = keys[0]
    assert len(key) >= 20, key  # enough entropy to be a credential
    r2 = run_to_exit([stack.binary, "key", "new", "--tenant", "initech"], timeout=10)
    assert digest not in r2.stdout, "two `key new` runs printed the same key"

    srv = stack.otpd(overrides={"tenants": {"initech": {
        "api_keys": [f"sha256:{digest}"], "default_channel": "webhook",
        "channels": {"webhook": {"url": stack.acme_hook.url, "secret": "whsec_test_0123456789"}}}}})
    api = srv.api(key=key)
    b = send_ok(api, new_email())
    assert stack.acme_hook.wait_for(b["id"])["tenant"] == "initech"


def test_test_clock_absent_without_flag(stack):
    srv = stack.otpd(test_clock=False)
    r = srv.api("acme").post("/_test/clock", {"advance_seconds": 3600})
    assert r.status == 404, r


def test_sigterm_exits_cleanly(stack):
    srv = stack.otpd()
    send_ok(srv.api("acme"), new_email())
    rc = srv.stop()
    assert rc in (0, -15), f"exit code {rc} on SIGTERM"


def test_secret_rotation_keeps_old_codes_valid(stack):
    s1, s2 = "s1-" + "a1" * 32, "s2-" + "b2" * 32
    srv = stack.otpd(overrides={"secrets": [s1]})
    api = srv.api("acme")
    b1, code1 = send_and_code(api, stack.acme_hook, new_email())
    srv.stop()
    srv.config["secrets"] = [s2, s1]  # first signs, all verify
    srv.restart()
    b2, code2 = send_and_code(api, stack.acme_hook, new_email())
    assert_json(api.verify({"id": b1["id"], "code": code1}), 200)
    srv.stop()
    del srv.config["secrets"]
    srv.env = {"OTPD_SECRETS": f"{s2},{s1}"}  # list override from the environment
    srv.restart()
    assert_json(api.verify({"id": b2["id"], "code": code2}), 200)
