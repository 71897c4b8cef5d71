"""A store that cannot take a write answers 503 `unavailable` with Retry-After, and otpd
recovers by itself once it can (the API reference (docs/api.md): "503 unavailable (store down ...;
with Retry-After)").

The embedded store keeps its file locked against other processes, so the failure is made
from outside the way a full disk or a quota makes it: the process's file-size limit is
lowered to 0, every write to the store fails (EFBIG; otpd ignores SIGXFSZ, so the write
fails instead of killing it), and the limit is raised again."""

import resource

from harness import assert_json, assert_problem, assert_retry_after, new_email, send_ok


def test_a_store_that_cannot_write_answers_503_then_recovers(server, acme):
    pid = server.proc.pid
    sent = send_ok(acme, new_email())
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
    try:
        r = acme.send({"to": new_email()})
        p = assert_problem(r, 503, "unavailable")
        assert p["retry_after"] == assert_retry_after(r), r
        # Reads still work while writes cannot.
        assert assert_json(acme.status(sent["id"]), 200)["status"] == "pending"
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    send_ok(acme, new_email())
    assert server.alive()
