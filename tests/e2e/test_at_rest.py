"""No plaintext code or recipient at rest, no secrets in logs (otpd's security guarantees
2, 3 and 4). Codes are 10 digits here so that a match cannot be a coincidence."""

import http.server
import json
import os
import re
import stat
import threading

from harness import assert_json, assert_problem, new_email, new_phone, send_ok, wait_delivery, wrong_code

DB_SUFFIXES = ("otpd.db", "otpd.db-wal", "otpd.db-shm", "otpd.db-journal")


def data_files(data_dir):
    for root, _, files in os.walk(data_dir):
        for name in files:
            yield os.path.join(root, name)


def scan(data_dir, needles):
    """Every file under data_dir as bytes; returns [(file, needle)] found."""
    found = []
    for path in data_files(data_dir):
        with open(path, "rb") as f:
            blob = f.read()
        for n in needles:
            for enc in (n.encode(), n.encode("utf-16-le")):
                if enc in blob:
                    found.append((path, n))
    return found


def recipient_needles(email, phone):
    return [email, email.split("@")[0], phone, phone[1:], phone[2:]]


def test_no_plaintext_code_or_recipient_in_data_dir(stack):
    hook = stack.acme_hook
    hook.default_status = 503  # keep the deliveries queued first: the queue must hold them sealed
    srv = stack.otpd(test_clock=False)  # retries on real time
    api = srv.api("acme")
    email, phone = new_email(), new_phone()
    b1 = send_ok(api, email, code_length=10)
    b2 = send_ok(api, phone, code_length=10)
    codes = [hook.wait_hits(lambda h, v=b["id"]: isinstance(h.json, dict) and h.json.get("id") == v)[0].json["code"]
             for b in (b1, b2)]
    assert all(len(c) == 10 for c in codes)
    needles = codes + recipient_needles(email, phone)
    assert scan(srv.data_dir, needles) == [], "plaintext at rest while queued"

    hook.default_status = 200
    wait_delivery(api, b1["id"], "sent", timeout=15)
    wait_delivery(api, b2["id"], "sent", timeout=15)
    assert scan(srv.data_dir, needles) == [], "plaintext at rest after delivery"
    # a wrong guess must not be stored in plain either
    guess = wrong_code(codes[0])
    assert_problem(api.verify({"id": b1["id"], "code": guess}), 422, "invalid_code")
    assert scan(srv.data_dir, [guess]) == []

    # the generated server secret: in the data dir, mode 0600
    others = [p for p in data_files(srv.data_dir) if not os.path.basename(p).startswith("otpd.db")]
    assert others, f"no server secret file in {srv.data_dir}: {list(data_files(srv.data_dir))}"
    named = [p for p in others if "secret" in os.path.basename(p).lower() or "key" in os.path.basename(p).lower()]
    for p in named or others:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode == 0o600, f"{p} has mode {oct(mode)}"
    # killed and restarted: still nothing in plain (WAL replay, queue recovery)
    srv.kill9()
    srv.restart()
    assert scan(srv.data_dir, needles) == []


def test_logs_are_json_without_secrets(stack):
    srv = stack.otpd()
    api = srv.api("acme")
    hook = stack.acme_hook
    email, phone = new_email(), new_phone()
    b1 = send_ok(api, email, code_length=10)
    b2 = send_ok(api, phone, code_length=10)
    c1 = hook.wait_for(b1["id"])["code"]
    c2 = hook.wait_for(b2["id"])["code"]
    guess = wrong_code(c1)
    assert_problem(api.verify({"id": b1["id"], "code": guess}), 422, "invalid_code")
    assert_json(api.verify({"id": b1["id"], "code": c1}), 200)
    assert_json(api.verify({"to": phone, "code": c2}), 200)
    bogus_key = "sk_bogus_" + "7" * 30
    srv.anon().send({"to": email}, headers={"Authorization": f"Bearer {bogus_key}"})
    api.send({"to": "bad-address-" + email.split("@")[0]})
    wait_delivery(api, b1["id"], "sent")
    srv.stop()

    text = srv.stderr_text()
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "otpd logged nothing to stderr"
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"stderr line is not JSON: {line!r}") from None
        assert isinstance(obj, dict), line
    secret_file = [p for p in data_files(srv.data_dir) if not os.path.basename(p).startswith("otpd.db")]
    server_secrets = []
    for p in secret_file:
        with open(p, "rb") as f:
            content = f.read().strip()
        if len(content) >= 16:
            server_secrets.append(content.decode("latin-1"))
    for needle in [c1, c2, guess, srv.keys["acme"], srv.keys["globex"], bogus_key, "whsec_test_0123456789", "whsec_globex_0123456789",
                   *recipient_needles(email, phone), *server_secrets]:
        assert needle not in text, f"{needle!r} appears in the log"
    assert c1 not in srv.stdout_text() and email not in srv.stdout_text()


class EchoingProvider:
    """A provider that refuses every message with a 400 whose text repeats the request, as
    Twilio's ("The 'To' number +1… is not valid") and SES's error messages do."""

    def __init__(self):
        self.bodies: list[bytes] = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider.bodies.append(body)
                echoed = body.decode("utf-8", "replace")
                payload = json.dumps({"code": 21211, "message": f"rejected: {echoed}",
                                      "more_info": "https://www.twilio.com/docs/errors/21211"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", "MessageRejected")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_provider_failures_log_no_code_recipient_or_credential(stack):
    """Invariant 4 for the email and SMS providers: their refusals are logged, but never the
    provider's text (which repeats recipient and message), nor any credential otpd holds."""
    echo = EchoingProvider()
    sink = stack.smtp_sink()  # offers no AUTH: credentials in the URL make the attempt fail
    twilio_token, smtp_password = "tok_e2e_" + "9" * 24, "pw-e2e-" + "8" * 20
    aws_secret, aws_token = "aws/secret+e2e/" + "7" * 24, "session-e2e-" + "6" * 24
    try:
        srv = stack.otpd(env={"AWS_ACCESS_KEY_ID": "AKIDE2E", "AWS_SECRET_ACCESS_KEY": aws_secret,
                              "AWS_SESSION_TOKEN": aws_token, "AWS_EC2_METADATA_DISABLED": "true"},
                         overrides={"tenants": {
                             "acme": {"channels": {
                                 "sms": {"provider": "twilio", "account_sid": "AC0123", "auth_token": twilio_token,
                                         "from": "+15005550006", "base_url": echo.base_url},
                                 "email": {"provider": "ses", "region": "eu-west-1", "endpoint": echo.base_url,
                                           "from": "Acme <no-reply@acme.test>"}}},
                             "globex": {"channels": {
                                 "email": {"smtp": f"smtp://otpd:{smtp_password}@127.0.0.1:{sink.port}",
                                           "from": "Globex <no-reply@globex.test>"}}},
                         }})
        acme, globex = srv.api("acme"), srv.api("globex")
        phone, email, email2 = new_phone(), new_email(), new_email()
        sent = [(acme, send_ok(acme, phone, channel="sms", code_length=10)),
                (acme, send_ok(acme, email, channel="email", code_length=10)),
                (globex, send_ok(globex, email2, channel="email", code_length=10))]
        for api, b in sent:
            wait_delivery(api, b["id"], "failed")
        srv.stop()
    finally:
        echo.close()
    assert len(echo.bodies) == 2 and not sink.mails
    text = srv.stderr_text()
    # the refusals are there, by status and provider error code only
    assert "twilio answered 400 (error 21211)" in text and "ses answered 400 (MessageRejected)" in text, text[-3000:]
    assert "smtp server offers neither AUTH PLAIN nor LOGIN" in text, text[-3000:]
    codes = [m.group(1) for body in echo.bodies for m in re.finditer(rb"\b(\d{10})\b", body)]
    assert len(codes) >= 2, echo.bodies
    for needle in [*(c.decode() for c in codes), twilio_token, smtp_password, aws_secret, aws_token,
                   *recipient_needles(email, phone), email2, email2.split("@")[0]]:
        assert needle not in text, f"{needle!r} appears in the log"
