"""Protected mode: no API keys configured (the API reference (docs/api.md) "Authentication and tenants",
and section 5 on the console channel)."""

import re

from harness import assert_json, deep_merge, new_email, start_fails, status_of

PROTECTED = {"tenants": {"default": {"channels": {"console": {}}}}}


def test_no_keys_serves_tenant_default_over_console(stack):
    srv = stack.otpd(config=dict(PROTECTED))
    api = srv.anon()
    to = new_email()
    r = api.send({"to": to, "channel": "console"})
    body = assert_json(r, 201)
    assert body["channel"] == "console" and body["to"] != to
    msg = srv.console_message(body["id"])
    assert msg.get("channel") == "console" and msg.get("tenant") == "default", msg
    assert msg.get("to") == to, msg
    code = msg["code"]
    assert re.fullmatch(r"\d{6}", code), msg
    assert code in msg.get("message", ""), msg
    assert status_of(api, body["id"])["status"] == "pending"
    ok = assert_json(api.verify({"id": body["id"], "code": code}), 200)
    assert ok["status"] == "approved"


def test_protected_mode_is_announced(stack):
    srv = stack.otpd(config=dict(PROTECTED), test_clock=False)  # the test clock warns too
    err = srv.stderr_text().lower()
    assert re.search(r"protected|no api key|without (api )?key|api_keys|warn", err), err[-1500:]


def test_no_tenants_at_all_still_serves_default(stack):
    srv = stack.otpd(config={})
    api = srv.anon()
    assert api.get("/healthz").status == 200
    r = api.send({"to": new_email(), "channel": "console"})
    assert r.status != 401 and r.status < 500, r
    if r.status == 201:
        srv.console_message(r.json["id"])


def test_no_keys_on_non_loopback_is_refused(stack):
    def protected_public(cfg):
        base = {k: v for k, v in cfg.items() if k != "tenants"}
        port = cfg["listen"].rsplit(":", 1)[1]
        return deep_merge(base, {**PROTECTED, "listen": f"0.0.0.0:{port}"})
    r = start_fails(stack, replace=protected_public)
    assert re.search(r"listen|loopback|0\.0\.0\.0|key", r.stderr, re.I), r.stderr[-1500:]


def test_no_keys_no_tenants_on_non_loopback_is_refused(stack):
    def public(cfg):
        port = cfg["listen"].rsplit(":", 1)[1]
        return {"listen": f"0.0.0.0:{port}", "store": cfg["store"], "data_dir": cfg["data_dir"]}
    start_fails(stack, replace=public)


def test_console_channel_on_non_loopback_is_refused(stack):
    def public_console(cfg):
        port = cfg["listen"].rsplit(":", 1)[1]
        return deep_merge(cfg, {"listen": f"0.0.0.0:{port}",
                                "tenants": {"acme": {"channels": {"console": {}}}}})
    r = start_fails(stack, replace=public_console)
    assert re.search(r"console|listen|loopback", r.stderr, re.I), r.stderr[-1500:]
