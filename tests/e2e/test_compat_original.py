"""The compatibility facade answers as the original service did, request by request.

`Original` below is a model of the service otpd replaces, written from its documentation:
two Lambda functions behind API Gateway and a DynamoDB table with TTL. Send (GET
/otp?email=) stores a new 6-digit code with a 60 s lifetime unless the address still has
an unexpired one (409 "current otp not expired"). Verify (POST /otp {"email","otp"}) finds
the address's item (404 "invalid otp" when there is none), compares the code (403 "invalid
otp" when it differs), then checks that it is still valid (401 "otp expired") and, when it
is, deletes it (200 "otp verified successfully"). DynamoDB deletes expired items late, so
an expired item is still found. The same random sequence of requests, with the clock
moving between them, goes to the model and to otpd, and every answer must be the same.
otpd's own protections (attempt limit, send window, failure budget) are stricter than the
original; the sequence stays inside them, and test_compat.py covers what they add."""

import json
import random
import urllib.parse

import pytest

from harness import new_email

TTL = 60


class Original:
    def __init__(self):
        self.now = 0.0
        self.items = {}  # email -> (otp, expires_at)

    def send(self, email, otp):
        item = self.items.get(email)
        if item and self.now < item[1]:
            return 409, "current otp not expired"
        self.items[email] = (otp, self.now + TTL)
        return 200, "otp send successfully"

    @staticmethod
    def as_code(otp):
        # Python compares 123456 == 123456.0 as equal; the code is kept as 6 digits.
        if isinstance(otp, (int, float)) and not isinstance(otp, bool) and float(otp).is_integer():
            return str(int(otp)).zfill(6)
        return str(otp)

    def verify(self, email, otp):
        item = self.items.get(email)
        if item is None:
            return 404, "invalid otp"
        if otp is None or self.as_code(otp) != item[0]:
            return 403, "invalid otp"
        if self.now >= item[1]:
            return 401, "otp expired"
        del self.items[email]
        return 200, "otp verified successfully"


def text_of(r):
    return r.text.strip().strip('"')


@pytest.mark.parametrize("seed", range(1, 9))
def test_facade_answers_like_the_original(stack, seed):
    rng = random.Random(seed)
    srv = stack.otpd(overrides={"compat": {"enabled": True, "tenant": "acme", "path": "/otp"},
                                "tenants": {"acme": {"failures_per_recipient_per_hour": 0}}})
    api = srv.anon()
    hook = stack.acme_hook
    model = Original()
    emails = [new_email() for _ in range(3)]
    sends = {e: 0 for e in emails}
    wrong = {e: 0 for e in emails}
    codes = {}  # email -> the code of its newest send
    log = []
    for step in range(60):
        email = rng.choice(emails)
        action = rng.random()
        if action < 0.30 and sends[email] < 4:
            before = len(hook.events_to(email))
            r = api.get("/otp?email=" + urllib.parse.quote(email, safe="@"))
            otp = None
            if r.status == 200:
                event = hook.wait_hits(lambda h: isinstance(h.json, dict) and h.json.get("to") == email,
                                       count=before + 1)[-1].json
                otp = event["code"]
                codes[email] = otp
                sends[email] += 1
                wrong[email] = 0
            expected = model.send(email, otp)
            got = (r.status, text_of(r))
            log.append((step, "send", email, got, expected))
            assert got == expected, "\n".join(map(str, log))
        elif action < 0.75:
            right = codes.get(email)
            kind = rng.choice(["right", "number", "wrong", "float"]) if right else "wrong"
            if kind == "wrong" and wrong[email] >= 3:
                kind = "right" if right else "none"
            if kind == "right":
                otp = right
            elif kind == "number":
                otp = int(right)
            elif kind == "float":
                otp = float(int(right))
            elif kind == "none":
                otp = None
            else:
                otp = str(rng.randrange(10**6)).zfill(6)
                if otp == right:
                    otp = str((int(otp) + 1) % 10**6).zfill(6)
                wrong[email] += 1
            body = {"email": email} if otp is None else {"email": email, "otp": otp}
            r = api.post("/otp", body)
            got = (r.status, text_of(r))
            expected = model.verify(email, otp)
            log.append((step, "verify", email, kind, got, expected))
            assert got == expected, "\n".join(map(str, log))
        else:
            seconds = rng.choice([5, 20, 45, 70])
            srv.advance(seconds)
            model.now += seconds
            log.append((step, "advance", seconds))
