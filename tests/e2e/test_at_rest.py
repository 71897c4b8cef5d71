"""No plaintext code or recipient at rest, no secrets in logs (PRODUCT.md security invariants
2, 3 and 4). Codes are 10 digits here so that a match cannot be a coincidence."""

import json
import os
import stat

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
    for needle in [c1, c2, guess, srv.keys["acme"], srv.keys["globex"], bogus_key, "whsec_test", "whsec_globex",
                   *recipient_needles(email, phone), *server_secrets]:
        assert needle not in text, f"{needle!r} appears in the log"
    assert c1 not in srv.stdout_text() and email not in srv.stdout_text()
