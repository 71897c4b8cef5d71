"""Delivery channels (the README's Channels): webhook retries and failures, SMS through a
Twilio-compatible fake, email through an SMTP sink, templates and the WebOTP line."""

import base64
import re
import time

import pytest

from harness import (assert_json, delivery_status, new_email, new_phone, send_ok, status_of,
                     wait_delivery)


@pytest.mark.slow
@pytest.mark.parametrize("test_clock", [True, False], ids=["with-test-clock", "real-clock"])
def test_webhook_retried_after_5xx_with_backoff(stack, test_clock):
    # Retries run on real time even when --unsafe-test-clock is on: the test clock only moves
    # otpd's time forward when asked, it must not stop it.
    server = stack.otpd(test_clock=test_clock)
    acme, acme_hook = server.api("acme"), stack.acme_hook
    acme_hook.script = [500, 500]
    b = send_ok(acme, new_email())
    event = acme_hook.wait_for(b["id"], timeout=15)
    hits = acme_hook.hits_for(b["id"])
    assert [h.status for h in hits] == [500, 500, 200], [h.status for h in hits]
    assert len({h.body for h in hits}) >= 1
    gap1 = hits[1].received_mono - hits[0].received_mono
    gap2 = hits[2].received_mono - hits[1].received_mono
    # 1 s doubling, with jitter: not a tight loop, not a 30 s wait
    assert 0.2 <= gap1 <= 5, f"first retry after {gap1:.2f}s"
    assert 0.2 <= gap2 <= 10, f"second retry after {gap2:.2f}s"
    assert gap1 + gap2 >= 1.0, (gap1, gap2)
    wait_delivery(acme, b["id"], "sent")
    assert_json(acme.verify({"id": b["id"], "code": event["code"]}), 200)


@pytest.mark.slow
def test_webhook_429_is_retried(stack):
    server = stack.otpd(test_clock=False)  # retries on real time
    acme, acme_hook = server.api("acme"), stack.acme_hook
    acme_hook.script = [429]
    b = send_ok(acme, new_email())
    acme_hook.wait_for(b["id"], timeout=10)
    assert [h.status for h in acme_hook.hits_for(b["id"])] == [429, 200]
    wait_delivery(acme, b["id"], "sent")


@pytest.mark.slow
def test_webhook_4xx_fails_without_retry(server, acme, acme_hook):
    sent = []
    for status in (400, 404, 410):
        acme_hook.default_status = status
        b = send_ok(acme, new_email())
        wait_delivery(acme, b["id"], "failed", timeout=10)
        sent.append(b["id"])
    acme_hook.default_status = 200
    time.sleep(3.5)  # a retry would have come after ~1 s and ~2 s
    for vid in sent:
        assert len(acme_hook.hits_for(vid)) == 1, [h.status for h in acme_hook.hits_for(vid)]
        st = status_of(acme, vid)
        assert delivery_status(st) == "failed" and st["status"] == "pending", st


@pytest.mark.slow
def test_webhook_redirect_not_followed(server, acme, acme_hook):
    acme_hook.default_status = 302
    acme_hook.extra_headers = {"Location": acme_hook.base_url + "/elsewhere"}
    b = send_ok(acme, new_email())
    wait_delivery(acme, b["id"], "failed", timeout=10)
    time.sleep(2.0)
    assert [h.path for h in acme_hook.hits] == ["/hook"], [(h.method, h.path) for h in acme_hook.hits]


def test_webhook_network_error_keeps_it_queued(stack):
    dead = stack.receiver()
    url = dead.url
    dead.close()  # nothing listens there any more: connection refused -> retried, not failed
    srv = stack.otpd(overrides={"tenants": {"acme": {"channels": {"webhook": {"url": url}}}}})
    api = srv.api("acme")
    b = send_ok(api, new_email())
    time.sleep(2.0)
    assert delivery_status(status_of(api, b["id"])) == "queued"


def test_webhook_message_uses_locale_template(stack):
    srv = stack.otpd(overrides={"tenants": {"acme": {"templates": {"de": {
        "sms": "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)",
        "email_subject": "Ihr Code für {{app_name}}", "email_text": "Code: {{code}}",
        "email_html": "<p>Code: <b>{{code}}</b></p>"}}}}})
    api = srv.api("acme")
    b = send_ok(api, new_email(), locale="de", ttl_seconds=600)
    event = stack.acme_hook.wait_for(b["id"])
    assert event["locale"] == "de"
    assert event["code"] in event["message"]
    b2 = send_ok(api, new_email())  # no locale: built-in wording, still carrying the code
    event2 = stack.acme_hook.wait_for(b2["id"])
    assert event2["code"] in event2["message"]


@pytest.fixture
def sms_server(stack):
    twilio = stack.receiver()
    srv = stack.otpd(overrides={"tenants": {"acme": {
        "webotp_origin": "acme.example",
        "channels": {"sms": {"provider": "twilio", "account_sid": "AC0123", "auth_token": "tok_secret",
                             "from": "+15005550006", "base_url": twilio.base_url}},
        "templates": {"de": {"sms": "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)"}},
    }}})
    return srv, twilio


def test_sms_via_twilio_compatible_api(sms_server):
    srv, twilio = sms_server
    api = srv.api("acme")
    to = new_phone()
    b = send_ok(api, to, channel="sms", locale="de")
    assert b["channel"] == "sms"
    hit = twilio.wait_twilio(to)
    assert hit.method == "POST" and hit.path == "/2010-04-01/Accounts/AC0123/Messages.json", hit.path
    assert hit.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    auth = hit.headers.get("authorization", "")
    assert auth.startswith("Basic ") and base64.b64decode(auth[6:]).decode() == "AC0123:tok_secret"
    form = hit.form
    assert form["From"] == "+15005550006"
    body = form["Body"]
    m = re.search(r"Ihr Code lautet (\d{6}) \(gültig 5 Min\.\)", body)
    assert m and body.startswith("Acme: Ihr Code lautet "), body
    code = m.group(1)
    assert body.rstrip().splitlines()[-1] == f"@acme.example #{code}", body
    wait_delivery(api, b["id"], "sent")
    assert_json(api.verify({"id": b["id"], "code": code}), 200)


def _twilio_hits(twilio, to):
    with twilio.cond:
        return [h for h in twilio.hits if h.path.endswith("/Messages.json") and h.form.get("To") == to]


def test_sms_provider_5xx_and_429_are_retried(sms_server):
    srv, twilio = sms_server
    api = srv.api("acme")
    twilio.script = [503, 429]
    to = new_phone()
    b = send_ok(api, to, channel="sms")
    twilio.wait_twilio(to, timeout=15)
    wait_delivery(api, b["id"], "sent")
    assert [h.status for h in _twilio_hits(twilio, to)] == [503, 429, 201]


@pytest.mark.slow
def test_sms_provider_4xx_fails_without_retry(sms_server):
    srv, twilio = sms_server
    api = srv.api("acme")
    twilio.default_status = 400  # e.g. Twilio error 21211, a number it will never reach
    to = new_phone()
    b = send_ok(api, to, channel="sms")
    wait_delivery(api, b["id"], "failed", timeout=10)
    twilio.default_status = 200
    time.sleep(2.5)  # a retry would have come after about 1 s
    assert [h.status for h in _twilio_hits(twilio, to)] == [400]
    assert status_of(api, b["id"])["status"] == "pending"


def test_sms_is_default_for_phone_without_default_channel(sms_server):
    srv, twilio = sms_server
    srv.stop()
    del srv.config["tenants"]["acme"]["default_channel"]
    srv.restart()
    api = srv.api("acme")
    to = new_phone()
    b = send_ok(api, to)
    assert b["channel"] == "sms"
    code = re.search(r"\b(\d{6})\b", twilio.wait_twilio(to).form["Body"]).group(1)
    assert_json(api.verify({"id": b["id"], "code": code}), 200)


def test_email_via_smtp(stack):
    sink = stack.smtp_sink()
    srv = stack.otpd(overrides={"tenants": {"acme": {
        "default_channel": None,
        "channels": {"email": {"smtp": f"smtp://127.0.0.1:{sink.port}", "from": "Acme <no-reply@acme.test>"}},
        "templates": {"de": {"email_subject": "Ihr Code für {{app_name}}",
                             "email_text": "Ihr Code: {{code}} ({{ttl_minutes}} Min.)",
                             "email_html": "<p>Ihr Code: <b>{{code}}</b></p>"}},
    }}})
    api = srv.api("acme")
    to = new_email()
    b = send_ok(api, to, locale="de")  # an address and no default channel: email
    assert b["channel"] == "email"
    mail = sink.wait_for(to)
    assert mail.mail_from == "no-reply@acme.test"
    msg = mail.message
    assert msg["Subject"] == "Ihr Code für Acme", msg["Subject"]
    assert "no-reply@acme.test" in msg["From"] and to in msg["To"]
    texts = mail.texts()
    m = re.search(r"Ihr Code: (\d{6}) \(5 Min\.\)", "\n".join(texts))
    assert m, texts
    code = m.group(1)
    assert any(f"<b>{code}</b>" in t for t in texts), texts
    wait_delivery(api, b["id"], "sent")
    assert_json(api.verify({"id": b["id"], "code": code}), 200)
