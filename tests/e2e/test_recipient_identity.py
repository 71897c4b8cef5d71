"""Who a code is for, and who its limits count against (the README's Limits): every per-recipient
limit counts against a canonical mailbox (+tag removed for every domain, dots removed for
Gmail), the code goes to the address exactly as given, and a secret rotation resets no limit
and never leaves two live codes. Regression tests for two findings of a security review:
+tag and dot variants bypassed the limits, and a restart with `secrets = [new, old]` let a
send through inside the cooldown while the old code kept working."""

import secrets as pysecrets

from harness import assert_json, assert_problem, assert_retry_after, new_email, send_ok, status_of


def test_tag_and_dot_variants_share_the_limits_of_one_mailbox(stack):
    # The review's attack: back-to-back sends to victim+N@gmail.com / v.ictim+N@gmail.com
    # were all accepted (policy: 5 per 10 minutes, 30 s cooldown). Each one is refused now,
    # through the v1 API and through the keyless compatibility facade.
    srv = stack.otpd(overrides={"compat": {"enabled": True, "tenant": "acme", "path": "/otp"}})
    api = srv.api("acme")
    victim = "victim" + pysecrets.token_hex(4)
    send_ok(api, f"{victim}@gmail.com")
    variants = [f"{victim}+{n}@gmail.com" for n in range(4)] + \
               [f"{victim[0]}.{victim[1:]}+{n}@gmail.com" for n in range(4)] + \
               [f"{victim.upper()}@GoogleMail.com", f"{victim}@gmail.com"]
    for to in variants:
        p = assert_problem(api.send({"to": to}), 429, "resend_cooldown")
        assert_retry_after(api.send({"to": to}))
    for n in range(3):
        r = srv.anon().get(f"/otp?email={victim}%2Bc{n}%40gmail.com")
        assert r.status == 409 and r.text.strip('"') == "current otp not expired", r


def test_the_window_counts_the_mailbox_not_the_spelling(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"resend_cooldown_seconds": 0,
                                                      "max_sends_per_window": 3}}})
    api = srv.api("acme")
    local = "w" + pysecrets.token_hex(4)
    for to in (f"{local}@example.com", f"{local}+a@example.com", f"{local.upper()}+b@EXAMPLE.com"):
        send_ok(api, to)
    p = assert_problem(api.send({"to": f"{local}+c@example.com"}), 429, "send_limit")
    # Dots are only one mailbox at Gmail: elsewhere they make another address.
    send_ok(api, f"{local[0]}.{local[1:]}@example.com")


def test_the_code_goes_to_the_address_exactly_as_given(stack):
    srv = stack.otpd()
    api = srv.api("acme")
    given = "Mixed.Case+" + pysecrets.token_hex(3) + "@Example.COM"
    body = send_ok(api, given)
    event = stack.acme_hook.wait_for(body["id"])
    assert event["to"] == given, event
    # The lookup by `to` uses the canonical mailbox, so any spelling of it finds the code.
    ok = assert_json(api.verify({"to": given.lower(), "code": event["code"]}), 200)
    assert ok["id"] == body["id"]


def test_a_secret_rotation_resets_no_limit_and_leaves_one_live_code(stack):
    old, new = "old-secret-" + pysecrets.token_hex(8), "new-secret-" + pysecrets.token_hex(8)
    srv = stack.otpd(overrides={"secrets": [old]})
    api = srv.api("acme")
    to = new_email()
    first = send_ok(api, to)
    first_code = stack.acme_hook.wait_for(first["id"])["code"]

    srv.stop()
    srv.config["secrets"] = [new, old]
    srv.start()
    api = srv.api("acme")
    # Inside the cooldown of the code sent under the old secret: refused.
    assert_problem(api.send({"to": to}), 429, "resend_cooldown")
    srv.advance(31)
    second = send_ok(api, to)
    second_code = stack.acme_hook.wait_for(second["id"])["code"]
    # The resend superseded the code sent before the rotation: one live code only.
    assert status_of(api, first["id"])["status"] == "canceled"
    assert_problem(api.verify({"id": first["id"], "code": first_code}), 404, "not_found")
    # The cooldown doubled: the window counts the sends under both secrets.
    p = assert_problem(api.send({"to": to}), 429, "resend_cooldown")
    assert 31 <= assert_retry_after(api.send({"to": to})) <= 60, p
    assert_json(api.verify({"to": to, "code": second_code}), 200)
