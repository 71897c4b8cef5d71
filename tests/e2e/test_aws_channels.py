"""Email through Amazon SES v2 and SMS through Amazon SNS (the README's Channels), against a
loopback AWS-compatible endpoint. AWS itself cannot run here, so the endpoint is a
protocol-level fake, and every request's SigV4 signature is recomputed with botocore
(Debian's python3-botocore), an implementation independent of otpd's."""

import http.server
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass

import pytest

from harness import assert_json, new_email, new_phone, send_ok, status_of, wait_delivery

botocore_auth = pytest.importorskip("botocore.auth")
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FQoGZXIvYXdzE-e2e-session-token"
AWS_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_SESSION_TOKEN": SESSION_TOKEN, "AWS_EC2_METADATA_DISABLED": "true"}
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")


@dataclass
class AwsHit:
    method: str
    path: str
    headers: dict
    body: bytes
    status: int
    scope: tuple  # (access key, region, service)
    signature_ok: bool


def botocore_signature(method, url, headers, body, signed, timestamp, region, service):
    """The signature botocore computes for the request as received, over the same headers."""
    request = AWSRequest(method=method, url=url, data=body)
    for name in signed:
        if name not in ("host", "x-amz-date", "x-amz-security-token"):
            request.headers[name] = headers[name]
    auth = botocore_auth.SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), service, region)
    request.context["timestamp"] = timestamp  # add_auth() would read the wall clock
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request), auth.signed_headers(
        auth.headers_to_sign(request))


class FakeAws:
    """Answers SES v2 SendEmail and SNS Publish; `script` lists (status, body) answers to use
    first, then success."""

    def __init__(self):
        self.hits: list[AwsHit] = []
        self.script: list[tuple[int, bytes, str]] = []
        self.cond = threading.Condition()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                m = AUTH_RE.fullmatch(headers.get("authorization", ""))
                ok, scope = False, None
                if m:
                    key, _, region, service, signed, signature = m.groups()
                    scope = (key, region, service)
                    expected, expected_signed = botocore_signature(
                        "POST", f"http://{headers['host']}{self.path}", headers, body, signed.split(";"),
                        headers.get("x-amz-date", ""), region, service)
                    ok = signature == expected and signed == expected_signed
                with fake.cond:
                    if fake.script:
                        status, payload, ctype = fake.script.pop(0)
                    elif self.path.startswith("/v2/email/outbound-emails"):
                        status, payload, ctype = 200, b'{"MessageId":"fake-ses-1"}', "application/json"
                    else:
                        status, ctype = 200, "text/xml"
                        payload = (b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                                   b"<PublishResult><MessageId>fake-sns-1</MessageId></PublishResult>"
                                   b"</PublishResponse>")
                    fake.hits.append(AwsHit("POST", self.path, headers, body, status, scope, ok))
                    fake.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_hits(self, match, n=1, timeout=10.0) -> list[AwsHit]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [h for h in self.hits if match(h)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {n} AWS requests within {timeout}s: {self.hits!r}")
                self.cond.wait(left)


@pytest.fixture
def aws():
    fake = FakeAws()
    yield fake
    fake.close()


def ses_server(stack, aws):
    return stack.otpd(env=AWS_ENV, overrides={"tenants": {"acme": {
        "default_channel": None,
        "channels": {"email": {"provider": "ses", "region": "eu-west-1", "endpoint": aws.base_url,
                               "from": "Acme <no-reply@acme.test>"}},
        "templates": {"de": {"email_subject": "Ihr Code für {{app_name}}",
                             "email_text": "Ihr Code: {{code}} ({{ttl_minutes}} Min.)",
                             "email_html": "<p>Ihr Code: <b>{{code}}</b></p>"}},
    }}})


def sns_server(stack, aws):
    return stack.otpd(env=AWS_ENV, overrides={"tenants": {"acme": {
        "default_channel": None,
        "webotp_origin": "acme.example",
        "channels": {"sms": {"provider": "sns", "region": "us-east-1", "endpoint": aws.base_url}},
    }}})


def ses_to(to):
    return lambda h: h.path == "/v2/email/outbound-emails" and to in json.loads(h.body)["Destination"]["ToAddresses"]


def sns_to(to):
    return lambda h: h.path == "/" and urllib.parse.parse_qs(h.body.decode()).get("PhoneNumber") == [to]


def test_email_via_ses_is_signed_and_verifies(stack, aws):
    srv = ses_server(stack, aws)
    api = srv.api("acme")
    to = new_email()
    b = send_ok(api, to, locale="de")  # an address and no default channel: email
    assert b["channel"] == "email"
    hit = aws.wait_hits(ses_to(to))[0]
    assert hit.signature_ok, hit.headers.get("authorization")
    assert hit.scope == (ACCESS_KEY, "eu-west-1", "ses")
    assert hit.headers.get("x-amz-security-token") == SESSION_TOKEN
    assert hit.headers.get("content-type", "").startswith("application/json")
    req = json.loads(hit.body)
    assert req["FromEmailAddress"] == "Acme <no-reply@acme.test>"
    assert req["Destination"] == {"ToAddresses": [to]}
    simple = req["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Ihr Code für Acme"
    m = re.fullmatch(r"Ihr Code: (\d{6}) \(5 Min\.\)", simple["Body"]["Text"]["Data"])
    assert m, simple
    code = m.group(1)
    assert f"<b>{code}</b>" in simple["Body"]["Html"]["Data"]
    wait_delivery(api, b["id"], "sent")
    assert_json(api.verify({"id": b["id"], "code": code}), 200)


def test_sms_via_sns_is_signed_and_verifies(stack, aws):
    srv = sns_server(stack, aws)
    api = srv.api("acme")
    to = new_phone()
    b = send_ok(api, to)  # a number and no default channel: sms
    assert b["channel"] == "sms"
    hit = aws.wait_hits(sns_to(to))[0]
    assert hit.signature_ok, hit.headers.get("authorization")
    assert hit.scope == (ACCESS_KEY, "us-east-1", "sns")
    form = urllib.parse.parse_qs(hit.body.decode())
    assert form["Action"] == ["Publish"] and form["Version"] == ["2010-03-31"]
    message = form["Message"][0]
    code = re.search(r"\b(\d{6})\b", message).group(1)
    assert message.rstrip().splitlines()[-1] == f"@acme.example #{code}", message
    wait_delivery(api, b["id"], "sent")
    assert_json(api.verify({"id": b["id"], "code": code}), 200)


def test_ses_throttling_is_retried_and_rejection_fails(stack, aws):
    srv = ses_server(stack, aws)
    api = srv.api("acme")
    throttled = (429, b'{"message":"Maximum sending rate exceeded."}', "application/json")
    aws.script = [throttled]
    to = new_email()
    b = send_ok(api, to)
    wait_delivery(api, b["id"], "sent")
    assert [h.status for h in aws.wait_hits(ses_to(to), 2)] == [429, 200]

    rejected = (400, b'{"message":"Email address is not verified: x@y"}', "application/json")
    aws.script = [rejected]
    to = new_email()
    b = send_ok(api, to)
    wait_delivery(api, b["id"], "failed")
    time.sleep(2)  # a retry would have come after about 1 s
    assert [h.status for h in aws.wait_hits(ses_to(to))] == [400]
    assert status_of(api, b["id"])["status"] == "pending"
