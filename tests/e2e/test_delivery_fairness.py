"""Fair delivery between tenants: a tenant whose webhook accepts connections and never answers
holds only its own share of the delivery worker, so another tenant's code goes out at once."""

from __future__ import annotations

import socket
import threading

from harness import delivery_status, new_email, send_ok, status_of, wait_until


class HungWebhook:
    """Accepts every connection and never reads or answers: each attempt hangs until otpd's
    own timeout. Holds the accepted sockets until closed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> int:
        with self.lock:
            return len(self.conns)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.conns.append(conn)

    def close(self) -> None:
        """Closes everything, so otpd's hung attempts fail at once instead of timing out."""
        self.closed.set()
        self.thread.join(timeout=5)
        self.sock.close()
        with self.lock:
            for c in self.conns:
                c.close()
            self.conns.clear()


def test_a_hung_webhook_does_not_delay_another_tenants_codes(stack):
    hung = HungWebhook()
    try:
        srv = stack.otpd(overrides={"tenants": {"acme": {"channels": {"webhook": {"url": hung.url}}}}})
        acme, globex = srv.api("acme"), srv.api("globex")
        sent = [send_ok(acme, new_email()) for _ in range(300)]
        # acme's attempts are running and hung: connected, unanswered, nothing delivered.
        wait_until(lambda: hung.accepted >= 1, 10, message="acme's webhook attempts")
        assert delivery_status(status_of(acme, sent[0]["id"])) == "queued"
        assert delivery_status(status_of(acme, sent[-1]["id"])) == "queued"

        b = send_ok(globex, new_email())
        # With one first-in-first-out queue this waited for acme's 300 timeouts (about 40 s).
        event = stack.globex_hook.wait_for(b["id"], timeout=1.0)
        assert event["id"] == b["id"]
        # acme is still hung throughout: nothing of it was delivered meanwhile.
        assert delivery_status(status_of(acme, sent[-1]["id"])) == "queued"
    finally:
        hung.close()
