#!/usr/bin/python3
"""End-to-end benchmark of otpd against nginx, the machine's HTTP ceiling.

Starts nginx (a static JSON body on loopback) and otpd on free loopback ports, drives both
with wrk (keep-alive, -t2 -c128 by default) and writes a Markdown report: req/s, p50/p99,
server CPU per request (utime+stime from /proc, all threads; nginx master and workers
summed) and otpd's ratios to nginx measured in the same run, against the targets of the
issue. Builds nothing: `make bench` builds first. Python 3 standard library only.

Scenarios: nginx GET / (at the start and again at the end: the reference is the run less
disturbed by other processes, the other shows drift); otpd send (a new recipient per request), verify (the right code,
each pair used once), status (GET by id), mix (send : verify : status = 1 : 1 : 1), send
again with log_level "info" (the access-log line per request); cold start (exec to the
first 200 on /healthz: one start on a fresh data dir, then the median of 5 restarts on the
store it made).

Two longer targets run only when asked. --pending N[,N...]: for each N, a fresh SQLite
store prefilled with N pending codes, then send and verify as above (throughput within 10 %
from 1 000 to 10 000 000 pending codes). --soak SECONDS: the mix in chained wrk runs against
one otpd while its VmRSS is sampled every 10 s (RSS flat over a 10-minute soak).

id/code pairs for verify come from the console channel: otpd prints each delivery as a JSON
line on stdout, which goes to a file parsed here. Pairs are produced by the measured send
run plus seeding runs that are not counted; how many are needed is estimated from a short
uncounted verify probe.

Exit status: 0 when every scenario ran cleanly (missed targets are reported, not fatal);
1 when a benchmark is broken (more than 1 % non-2xx answers or socket errors, a server
that died or never became ready); 2 for bad arguments. Every process started here is
stopped on the way out, failure included, and asked to die with this one (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime
import http.client
import json
import operator
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = ROOT / "bench" / "wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
API_KEY = "otpd-bench-key-4f1c2a9e7d3b5a60"  # loopback only, for this run's throwaway tenant
TENANT = "bench"

# ~150 bytes, about the size of a verify answer.
NGINX_BODY = ('{"id":"oN_1IsI9AnGLzkWY56dR6A","status":"approved",'
              '"approved_at":"2026-01-01T00:00:00Z",'
              '"note":"static reference body served by nginx for otpd bench"}')

# The targets, as fractions/multiples of the nginx reference in the same run.
# None: no target set for that figure.
TARGETS = {
    "send": {"rps": 0.50, "cpu": 4.0, "p99": 2.0},
    "verify": {"rps": 0.60, "cpu": 4.0, "p99": 2.0},
    "status": {"rps": None, "cpu": 4.0, "p99": 2.0},
    "mix": {"rps": None, "cpu": 4.0, "p99": 2.0},
}
COLD_START_TARGET_MS = 20.0
BROKEN_FRACTION = 0.01

# --pending: "throughput within 10 % from 1 000 to 10 000 000 pending codes". The req/s of
# the largest N over the smallest N's, for send and for verify, must be at least this.
PENDING_TARGET_RATIO = 0.90
PENDING_TARGET_RANGE = (1_000, 10_000_000)
# Rows spread their created_at over this many seconds before the prefill, as a steady
# stream of sends would; with ttl 3600 s every one of them is still pending for ~55 min.
PENDING_SPREAD_S = 300
# Disk needed per prefilled code, with a margin: ~550 bytes measured on schema v3 (~615 on
# v2): the verification row, its three indexes and the sends row. The commit writes every
# page to the WAL before the checkpoint copies it into the file, so the peak is about twice
# the file.
PENDING_DISK_BYTES_PER_ROW = 2 * 700

# --soak: "RSS flat over a 10-minute soak".
SOAK_TARGET_S = 600
SOAK_SAMPLE_S = 10       # VmRSS sampling period
# One wrk run; between runs the unused pairs are collected for the next one. The first
# run's pairs are seeded by send-only load before the clock starts, which raises otpd's
# heap before the RSS is watched: 30 s runs halve that seeding against 60 s ones, for
# twice the pauses (about 1 s each).
SOAK_SLICE_S = 30
SOAK_MIN_SLICE_S = 10    # shorter runs when pairs are short; below this, seed first
SOAK_PAIR_MARGIN = 2.0   # pairs handed to a run per verify expected: the rate on a shared
                         # machine can jump by half from one run to the next
SOAK_WARMUP_S = 60       # or the first 10 % of a shorter run: RSS before is not judged
SOAK_MAX_SEED_S = 240    # seeding cap for the soak, --short or not (it was asked for)
RSS_FLAT_FRACTION = 0.10  # end within 10 % of the post-warm-up RSS...
RSS_SLOPE_LIMIT = 0.01    # ...and the fitted slope at most 1 % of it per minute
TTL_S = 3600        # ttl_seconds in Otpd.config_text()
RETENTION_S = 3600  # otpd's default retention_seconds (src/core/policy.hpp)


class BenchError(Exception):
    """A broken benchmark: reported, and the run exits with status 1."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- processes ---------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Processes:
    """Every server started by this run; stop_all() ends each of them by its own pid."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []

    def start(self, argv, die_with_parent: bool = True, **kwargs) -> subprocess.Popen:
        # A preexec_fn makes Python fork and run Python code in the child, which cost ~25 ms
        # per start on the 2-core machine: timed starts go without it (they are stopped at
        # once, and stop_all() ends any left behind).
        proc = subprocess.Popen(argv, preexec_fn=_die_with_parent if die_with_parent else None,
                                **kwargs)
        self.live.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> float:
        """SIGTERM, then SIGKILL after `timeout`; returns seconds until it exited."""
        t0 = time.perf_counter()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {proc.pid} ignored SIGTERM for {timeout:.0f} s; SIGKILL")
                proc.kill()
                proc.wait()
        if proc in self.live:
            self.live.remove(proc)
        return time.perf_counter() - t0

    def stop_all(self) -> None:
        for proc in list(self.live):
            try:
                self.stop(proc, timeout=10.0)
            except Exception as e:  # keep stopping the others
                log(f"could not stop pid {proc.pid}: {e}")


PROCS = Processes()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port: int, method: str, path: str, body: str | None = None,
                 headers: dict | None = None, timeout: float = 5.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen, deadline_s: float,
               poll_s: float = 0.0005) -> float:
    """Polls until GET path answers 200; returns perf_counter() at that moment."""
    deadline = time.perf_counter() + deadline_s
    while True:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with status {proc.returncode} before it "
                             f"answered {path}")
        try:
            status, _ = http_request(port, "GET", path, timeout=1.0)
            if status == 200:
                return time.perf_counter()
        except (ConnectionError, OSError, http.client.HTTPException):
            pass
        if time.perf_counter() > deadline:
            raise BenchError(f"{proc.args[0]} not ready on :{port}{path} after {deadline_s} s")
        time.sleep(poll_s)


# ---- CPU accounting from /proc ---------------------------------------------------------

def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (every thread), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return kids


def machine_busy_ticks() -> int:
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    return sum(parts[:8]) - idle  # user nice system idle iowait irq softirq steal


def wait_quiet(max_wait: float, threshold: float = 0.3, window: float = 2.0) -> float:
    """Waits (up to max_wait s) until the machine is nearly idle: other people's compilers
    on a shared 2-core box would otherwise be measured too. Returns the busy cores seen."""
    deadline = time.monotonic() + max_wait
    waited = False
    while True:
        b0 = machine_busy_ticks()
        time.sleep(window)
        cores = (machine_busy_ticks() - b0) / CLK_TCK / window
        if cores < threshold:
            if waited:
                log(f"machine quiet ({cores:.2f} busy cores)")
            return cores
        if time.monotonic() > deadline:
            log(f"machine still busy ({cores:.2f} cores) after {max_wait:.0f} s; measuring anyway")
            return cores
        if not waited:
            log(f"machine busy ({cores:.2f} cores used by others); waiting up to {max_wait:.0f} s")
            waited = True


# ---- wrk -----------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    server: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    non2xx: int = 0
    socket_errors: dict = field(default_factory=dict)
    cpu_us_per_req: float = 0.0
    wrk_cpu_us_per_req: float = 0.0
    other_cores: float = 0.0
    pairs: dict | None = None
    notes: list = field(default_factory=list)
    log_bytes_per_req: float | None = None

    def error_fraction(self) -> float:
        errs = sum(self.socket_errors.values())
        return (self.non2xx + errs) / max(self.requests, 1)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str, res: Result) -> None:
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", out, re.M)
    if not m:
        raise BenchError("wrk printed no request count:\n" + out)
    res.requests = int(m.group(1))
    res.seconds = _ms(m.group(2) + m.group(3)) / 1e3
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    res.rps = float(m.group(1)) if m else 0.0
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if not m:
            raise BenchError(f"wrk printed no {pct}th percentile (--latency):\n" + out)
        setattr(res, attr, _ms(m.group(1)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res.non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res.socket_errors = {k: int(v) for k, v in
                             zip(("connect", "read", "write", "timeout"), m.groups()) if int(v)}
    m = re.search(r"bench-pairs: available=(\d+) used=(\d+) reused=(\d+)", out)
    if m:
        res.pairs = dict(zip(("available", "used", "reused"), map(int, m.groups())))


class Wrk:
    def __init__(self, binary: str, threads: int, connections: int) -> None:
        self.binary, self.threads, self.connections = binary, threads, connections
        self.before_measured = None  # called before each counted run (wait for quiet)

    def command(self, url: str, seconds: int, script: str | None, args: list[str]) -> list[str]:
        cmd = [self.binary, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
               "--latency", "--timeout", "10s"]
        if script:
            cmd += ["-s", str(WRK_DIR / script)]
        cmd.append(url)
        if args:
            cmd += ["--"] + args
        return cmd

    def run(self, name: str, server: str, url: str, seconds: int, script: str | None,
            args: list[str], pids, settle=None, counted: bool = True) -> Result:
        """Runs wrk; CPU is sampled from before the run until after `settle()` (which waits
        for work the requests left behind, such as queued deliveries)."""
        res = Result(name, server)
        if counted and self.before_measured is not None:
            self.before_measured()
        procs = pids()
        cpu0 = sum(proc_cpu_ticks(p) for p in procs)
        busy0 = machine_busy_ticks()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        cmd = self.command(url, seconds, script, args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise BenchError(f"wrk failed ({done.returncode}): {shlex.join(cmd)}\n"
                             f"{done.stdout}{done.stderr}")
        if settle is not None:
            res.notes += settle() or []
        cpu1 = sum(proc_cpu_ticks(p) for p in procs)
        busy1 = machine_busy_ticks()
        elapsed = time.perf_counter() - t0
        parse_wrk(done.stdout, res)
        n = max(res.requests, 1)
        server_ticks = cpu1 - cpu0
        wrk_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        res.cpu_us_per_req = server_ticks / CLK_TCK * 1e6 / n
        res.wrk_cpu_us_per_req = wrk_s * 1e6 / n
        other_ticks = (busy1 - busy0) - server_ticks - wrk_s * CLK_TCK
        res.other_cores = max(other_ticks, 0) / CLK_TCK / elapsed
        if done.stderr.strip():
            res.notes.append("wrk: " + done.stderr.strip().splitlines()[-1])
        log(f"{name}: {res.rps:,.0f} req/s, p50 {res.p50_ms:.2f} ms, p99 {res.p99_ms:.2f} ms, "
            f"{res.cpu_us_per_req:.0f} µs CPU/req, non-2xx {res.non2xx}, "
            f"other load {res.other_cores:.2f} cores")
        return res


# ---- nginx ---------------------------------------------------------------------------------

class Nginx:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.dir = binary, workdir / "nginx"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def _temp_paths(self) -> str:
        flags = subprocess.run([self.binary, "-V"], capture_output=True, text=True).stderr
        lines = [f"client_body_temp_path {self.dir}/client_body;"]
        for mod in ("proxy", "fastcgi", "uwsgi", "scgi"):
            if f"--without-http_{mod}_module" not in flags:
                lines.append(f"{mod}_temp_path {self.dir}/{mod};")
        return "\n    ".join(lines)

    def start(self) -> None:
        self.dir.mkdir(parents=True)
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""daemon off;
worker_processes auto;
error_log stderr warn;
pid {self.dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    {self._temp_paths()}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            default_type application/json;
            return 200 '{NGINX_BODY}';
        }}
    }}
}}
""")
        self.proc = PROCS.start([self.binary, "-p", str(self.dir), "-c", str(conf),
                                 "-e", "stderr"],
                                stdout=subprocess.DEVNULL,
                                stderr=open(self.dir / "stderr.log", "w"))
        wait_ready(self.port, "/", self.proc, deadline_s=10)
        status, body = http_request(self.port, "GET", "/")
        if status != 200 or json.loads(body)["status"] != "approved":
            raise BenchError(f"nginx answered {status} {body!r}")

    def pids(self) -> list[int]:
        assert self.proc is not None
        return [self.proc.pid] + children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None:
            PROCS.stop(self.proc)
            self.proc = None


# ---- stores: one class per backend, chosen by --store ---------------------------------

class SqliteStore:
    """The embedded store: a file in the instance's data dir. Nothing to start."""
    name = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "otpd.db"

    def start(self) -> None:
        pass

    def url(self) -> str:
        return f"sqlite://{self.path}"

    def describe(self) -> str:
        fs = subprocess.run(["df", "--output=fstype", str(self.path.parent)],
                            capture_output=True, text=True).stdout.split()
        return (f"embedded SQLite (WAL, synchronous=NORMAL), file on "
                f"{fs[-1] if fs else '?'}")

    def stop(self) -> None:
        pass

    # The columns the prefill can fill, in the order _pending_rows makes them (the names of
    # src/store/sqlite/sqlite_store.cpp). Only those the file has are inserted: the schema
    # moves (v3 added sends.id), and a new required column stops the prefill by name.
    _VERIFICATION_COLUMNS = (
        "tenant", "id", "recipient_hash", "masked_to", "channel", "alphabet", "code_length",
        "code_hash", "status", "attempts", "max_attempts", "created_at", "expires_at",
        "resend_at", "approved_at", "delete_after", "delivery", "locale", "metadata")
    _SEND_COLUMNS = ("tenant", "recipient_hash", "sent_at", "id")
    _CHUNK = 50_000  # rows generated at a time: 10M rows never sit in Python's memory
    _CACHE_KIB = 1 << 20  # the loader's page cache (1 GiB); 2 MB, the default, halves its speed

    def prefill_pending(self, n: int, tenant: str, ttl_s: int, retention_s: int) -> float:
        """Writes n pending, already delivered codes straight into the file (created by
        `otpd store init`), as otpd's send would leave them: a verifications row (status
        pending, delivery sent, so no job) and, before schema v5, a sends row each. One
        transaction. Ids, recipient and code hashes have otpd's formats (22-character
        base64url id, 64-hex HMACs), so rows and index keys are the real size; no code
        matches any hash. Returns the seconds taken, checkpoint included."""
        t0 = time.perf_counter()
        now_ms = int(time.time() * 1000)
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            # otpd opens the file in WAL mode (persistent in the file); keep it that way.
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise BenchError(f"{self.path}: journal_mode is {mode!r}, not 'wal'")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"PRAGMA cache_size=-{self._CACHE_KIB}")
            insert_v, pick_v = self._insert_for(con, "verifications", self._VERIFICATION_COLUMNS)
            # Schema v5 counts a recipient's sends on its verifications: no sends table.
            has_sends = bool(con.execute("PRAGMA table_info(sends)").fetchall())
            if has_sends:
                insert_s, pick_s = self._insert_for(con, "sends", self._SEND_COLUMNS)
            con.execute("BEGIN IMMEDIATE")
            for start in range(0, n, self._CHUNK):
                verifications, sends = self._pending_rows(min(self._CHUNK, n - start), tenant,
                                                          now_ms, ttl_s, retention_s)
                con.executemany(insert_v, map(pick_v, verifications))
                if has_sends:
                    con.executemany(insert_s, map(pick_s, sends))
            con.execute("COMMIT")
            # Copy the WAL into the file now, not during otpd's first requests.
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            raise BenchError(f"prefill of {self.path} failed (has the schema changed?): "
                             f"{e}") from None
        finally:
            con.close()
        return time.perf_counter() - t0

    @staticmethod
    def _insert_for(con, table: str, known: tuple[str, ...]):
        """(INSERT statement, row -> values) for the columns of `table` the prefill knows."""
        info = con.execute(f"PRAGMA table_info({table})").fetchall()
        if not info:
            raise BenchError(f"the store has no table {table!r}: has the schema changed?")
        # (cid, name, type, notnull, default, pk): a column that needs a value we lack.
        unknown = [c[1] for c in info if c[1] not in known and c[3] and c[4] is None]
        if unknown:
            raise BenchError(f"{table} has required columns the prefill does not fill: "
                             f"{', '.join(unknown)} (update SqliteStore.prefill_pending)")
        names = [c[1] for c in info if c[1] in known]
        sql = (f"INSERT INTO {table} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' * len(names))})")
        return sql, operator.itemgetter(*(known.index(name) for name in names))

    @staticmethod
    def _pending_rows(count: int, tenant: str, now_ms: int, ttl_s: int, retention_s: int):
        """Rows in the order of _VERIFICATION_COLUMNS and _SEND_COLUMNS."""
        rnd = os.urandom(count * 80)  # 16 id + 32 recipient hash + 32 code hash bytes a row
        verifications, sends = [], []
        for i in range(count):
            b = rnd[i * 80:(i + 1) * 80]
            id_ = base64.urlsafe_b64encode(b[:16]).rstrip(b"=").decode()
            recipient = b[16:48].hex()
            created = now_ms - (i * 7919) % (PENDING_SPREAD_S * 1000)  # spread, no RNG
            expires = created + ttl_s * 1000
            verifications.append((
                tenant, id_, recipient, "p***@bench.example.com", "console", "digits", 6,
                b[48:].hex(), "pending", 0, 5, created, expires, created + 30_000, None,
                expires + retention_s * 1000, "sent", "", ""))
            sends.append((tenant, recipient, created, id_))
        return verifications, sends

    def still_pending(self, tenant: str, ids: list[str]) -> set[str]:
        """Which of these verifications are still pending: the soak hands a wrk run more
        pairs than it will use and gets the unused ones back. A plain reader: in WAL mode
        it does not block otpd's writer."""
        con = sqlite3.connect(self.path)
        try:
            found: set[str] = set()
            for i in range(0, len(ids), 500):  # under SQLite's limit on bound parameters
                chunk = ids[i:i + 500]
                found.update(row[0] for row in con.execute(
                    "SELECT id FROM verifications WHERE tenant = ? AND status = 'pending' "
                    f"AND id IN ({','.join('?' * len(chunk))})", [tenant, *chunk]))
            return found
        finally:
            con.close()

    def size_bytes(self) -> int:
        """The file plus its WAL and shared-memory index, as they are now."""
        return sum(os.path.getsize(f"{self.path}{s}") for s in ("", "-wal", "-shm")
                   if os.path.exists(f"{self.path}{s}"))

    def remove(self) -> None:
        for s in ("", "-wal", "-shm"):
            Path(f"{self.path}{s}").unlink(missing_ok=True)


class DynamoDbStore:
    """AWS's DynamoDB Local (tests/support/dynamodb: a JVM, in memory) on this machine, one
    instance for the whole run, and a table (made here, as `otpd store init` would) per otpd
    instance. It shares the machine's two cores with otpd and wrk: not DynamoDB's figures."""
    name = "dynamodb"
    _local = None  # the run's DynamoDB Local, stopped by its watchdog when this process ends

    def __init__(self, data_dir: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests" / "support" / "dynamodb"))
        import dynamodb_local
        self._module = dynamodb_local
        self.table = dynamodb_local.new_table("otpd_bench_")
        self.made = False

    def start(self) -> None:
        if DynamoDbStore._local is None:
            DynamoDbStore._local = self._module.DynamoDbLocal.start_own()
        os.environ.update(self._module.AWS_ENV)
        if not self.made:
            client = DynamoDbStore._local.client()
            client.create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}])
            client.update_time_to_live(TableName=self.table, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "expires_at_ttl"})
            self.made = True

    def url(self) -> str:
        return DynamoDbStore._local.store_url(self.table) if DynamoDbStore._local else ""

    def describe(self) -> str:
        return ("DynamoDB Local (the JVM emulator, in memory, -Xmx512m) on this machine, through "
                "the `dynamodb://` store: not DynamoDB, which is a network hop away and scales")

    def stop(self) -> None:
        pass


# A networked backend (redis, dynamodb) adds a class here whose start() launches its server
# (through PROCS, on a free port) and whose url() is the `store` value for otpd's config.
# --pending also needs prefill_pending(), size_bytes() and remove(); without them it is
# reported as not run for that store. --soak uses still_pending() when there is one.
# pids(), when there is one, adds the server's CPU to otpd's: the storage work SQLite does
# inside otpd happens in the server for a networked store.

REDIS_FIXTURE = ROOT / "tests" / "support" / "redis" / "redis_fixture.py"


class RedisStore:
    """A real redis-server on a free loopback port, with the AOF on and fsync'd every
    second (appendfsync everysec: what a production setup usually runs), started by the
    tests' fixture script, which also stops it if this process dies."""
    name = "redis"
    kind = "standalone"

    def __init__(self, data_dir: Path) -> None:
        self.state = data_dir / "redis.json"
        self.nodes: list[dict] = []

    def start(self) -> None:
        if self.nodes:
            return
        done = subprocess.run([sys.executable, str(REDIS_FIXTURE), "start", self.kind,
                               "--state", str(self.state), "--owner-pid", str(os.getpid()),
                               "--appendfsync", "everysec"],
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise BenchError(f"redis_fixture.py start {self.kind} failed: "
                             f"{done.stdout}{done.stderr}")
        self.nodes = json.loads(self.state.read_text())["nodes"]

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0]['port']}/0"

    def describe(self) -> str:
        version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                 text=True).stdout.split()
        v = next((w.split("=", 1)[1] for w in version if w.startswith("v=")), "?")
        return (f"Redis {v}, {self.shape()}, AOF with appendfsync everysec, on loopback "
                f"(server CPU below includes redis-server's)")

    def shape(self) -> str:
        return "one standalone server"

    def pids(self) -> list[int]:
        return [n["pid"] for n in self.nodes]

    def stop(self) -> None:
        if self.nodes:
            subprocess.run([sys.executable, str(REDIS_FIXTURE), "stop", "--state",
                            str(self.state)], capture_output=True, timeout=60)
            self.nodes = []


class RedisClusterStore(RedisStore):
    """A 3-master Redis Cluster (no replicas) on loopback, from the same fixture script."""
    name = "redis-cluster"
    kind = "cluster"

    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{n['port']}" for n in self.nodes)

    def shape(self) -> str:
        return "a Cluster of 3 masters"


STORES = {"sqlite": SqliteStore, "redis": RedisStore, "redis-cluster": RedisClusterStore,
          "dynamodb": DynamoDbStore}
# Instances on a networked store must share their secrets (otpd refuses one without them).
SHARED_SECRET = "otpd-bench-shared-secret-2f6d9c81"


# ---- otpd ----------------------------------------------------------------------------------

def api_key_hash() -> str:
    import hashlib
    return "sha256:" + hashlib.sha256(API_KEY.encode()).hexdigest()


class Otpd:
    """One otpd instance with its own data dir, config, stdout (deliveries) and stderr."""

    def __init__(self, binary: str, store_kind: str, workdir: Path, label: str,
                 log_level: str = "warn") -> None:
        self.binary = binary
        self.dir = workdir / label
        self.dir.mkdir(parents=True)
        self.store = STORES[store_kind](self.dir)
        self.log_level = log_level
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.stdout_path = self.dir / "stdout.jsonl"
        self.stderr_path = self.dir / "stderr.log"
        self._offset = 0
        self._partial = b""
        self.pairs: list[tuple[str, str]] = []
        self.next_pair = 0

    def config_text(self) -> str:
        secrets = "" if self.store.name == "sqlite" else f'secrets = ["{SHARED_SECRET}"]\n'
        return f"""listen = "127.0.0.1:{self.port}"
store = "{self.store.url()}"
{secrets}data_dir = "{self.dir}"
log_level = "{self.log_level}"

[tenants.{TENANT}]
api_keys = ["{api_key_hash()}"]
default_channel = "console"
ttl_seconds = 3600
max_sends_per_window = 1000
failures_per_recipient_per_hour = 0

[tenants.{TENANT}.channels.console]
"""

    def write_config(self) -> Path:
        self.port = free_port()
        config = self.dir / "otpd.toml"
        config.write_text(self.config_text())
        return config

    def init_store(self) -> None:
        """`otpd store init`: creates the schema without starting the server."""
        self.store.start()
        config = self.write_config()
        done = subprocess.run([self.binary, "store", "init", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise BenchError(f"otpd store init failed ({done.returncode}): "
                             f"{done.stdout}{done.stderr}")

    def start(self, ready_deadline: float = 30.0, timed: bool = False) -> float:
        """Starts otpd; returns seconds from exec to the first 200 on /healthz. A timed start
        (cold start) skips die-with-parent, whose cost would be counted as otpd's."""
        self.store.start()
        config = self.write_config()
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        t0 = time.perf_counter()
        self.proc = PROCS.start([self.binary, "serve", "--config", str(config)],
                                die_with_parent=not timed, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        try:
            ready = wait_ready(self.port, "/healthz", self.proc, ready_deadline)
        except BenchError as e:
            raise BenchError(f"{e}\n--- otpd stderr ---\n{self.stderr_tail()}") from None
        return ready - t0

    def threads(self) -> int:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[17])  # num_threads, field 20

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"otpd ({self.dir.name}) is not running (exit status {code})\n"
                             f"--- otpd stderr ---\n{self.stderr_tail()}")

    def pids(self) -> list[int]:
        self.alive()
        return [self.proc.pid] + (self.store.pids() if hasattr(self.store, "pids") else [])

    def stop(self) -> float:
        took = 0.0
        if self.proc is not None:
            took = PROCS.stop(self.proc)
            self.proc = None
        self.store.stop()
        return took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {API_KEY}"}

    # -- deliveries printed by the console channel -> (id, code) pairs --

    def collect_pairs(self) -> int:
        with open(self.stdout_path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("channel") == "console" and d.get("tenant") == TENANT:
                self.pairs.append((d["id"], d["code"]))
        return len(self.pairs)

    def store_op(self, op: str) -> tuple[int, float]:
        """(count, total seconds) of one store operation so far, from /metrics."""
        status, body = http_request(self.port, "GET", "/metrics")
        if status != 200:
            raise BenchError(f"/metrics answered {status}")
        figures = []
        for kind in ("count", "sum"):
            m = re.search(rf'^otpd_store_operation_duration_seconds_{kind}{{op="{op}"}} (\S+)$',
                          body, re.M)
            figures.append(float(m.group(1)) if m else 0.0)
        return int(figures[0]), figures[1]

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the process, in KiB, from /proc/PID/status."""
        self.alive()
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])  # "  12345 kB"
        return out

    def queue_depth(self) -> int:
        status, body = http_request(self.port, "GET", "/metrics")
        m = re.search(r"^otpd_delivery_queue_depth (\S+)$", body, re.M)
        if status != 200 or not m:
            raise BenchError(f"/metrics answered {status} without otpd_delivery_queue_depth")
        return int(float(m.group(1)))

    def drain(self, deadline_s: float = 120.0) -> list[str]:
        """Waits until the delivery queue is empty, then reads the new pairs."""
        t0 = time.perf_counter()
        while True:
            self.alive()
            if self.queue_depth() <= 0:
                break
            if time.perf_counter() - t0 > deadline_s:
                raise BenchError(f"delivery queue not drained after {deadline_s} s")
            time.sleep(0.05)
        took = time.perf_counter() - t0
        # The console line is written before the job is acknowledged, but give the last
        # write a moment to reach the file.
        time.sleep(0.05)
        self.collect_pairs()
        return [f"delivery queue drained {took:.1f} s after wrk ended"] if took >= 0.5 else []

    def unused(self) -> int:
        return len(self.pairs) - self.next_pair

    def take_pairs(self, count: int) -> list[tuple[str, str]]:
        taken = self.pairs[self.next_pair:self.next_pair + count]
        self.next_pair += len(taken)
        return taken

    def give_back(self, pairs: list[tuple[str, str]]) -> None:
        """Pairs taken but not used (their codes still pending): handed out again later."""
        self.pairs.extend(pairs)


class RssSampler(threading.Thread):
    """Reads otpd's VmRSS every `period` seconds, on its own clock, whatever wrk is doing."""

    def __init__(self, inst: Otpd, period: float) -> None:
        super().__init__(daemon=True)
        self.inst, self.period = inst, period
        self.t0 = time.monotonic()
        self.samples: list[tuple[float, int]] = []  # (seconds since t0, KiB)
        self.error: Exception | None = None
        self._done = threading.Event()  # not _stop: threading.Thread has a _stop()

    def sample(self) -> None:
        self.samples.append((time.monotonic() - self.t0, self.inst.memory_kib()["VmRSS"]))

    def run(self) -> None:
        ticks = 0
        try:
            while True:
                self.sample()
                ticks += 1
                if self._done.wait(max(0.0, self.t0 + ticks * self.period - time.monotonic())):
                    return
        except Exception as e:  # otpd died: the soak loop notices and reports it
            self.error = e

    def finish(self) -> None:
        """Stops the thread and takes a last sample at the end of the run."""
        self._done.set()
        self.join()
        if self.error is None and time.monotonic() - self.t0 - self.samples[-1][0] >= 1:
            try:
                self.sample()
            except BenchError as e:  # otpd died at the very end: keep what was sampled
                self.error = e


@dataclass
class PendingRun:
    """One --pending N: the prefill and the send and verify runs on top of it."""
    n: int
    prefill_s: float | None = None   # None: the prefill did not finish
    db_bytes: int = 0
    send: Result | None = None
    verify: Result | None = None


@dataclass
class SoakRun:
    """--soak: the mix in chained wrk runs against one otpd, and its RSS samples."""
    seconds: int                     # asked for
    rss_fresh_kib: int = 0           # after start-up and one send, before any seeding
    pre_load_s: float = 0.0          # send-only seeding and mix probe before the clock
    wall_s: float = 0.0              # the soak's clock: first RSS sample to the last
    warmup_s: float = 0.0
    samples: list = field(default_factory=list)  # (s, KiB)
    hwm_kib: int = 0                 # VmHWM at the end: peak RSS since otpd started
    slices: list = field(default_factory=list)   # mix Results
    seeding: list = field(default_factory=list)  # send-only Results inside the soak
    sweeps: tuple[int, float] = (0, 0.0)
    total: Result | None = None      # every request of the soak, for the error check


def write_thread_files(prefix: Path, pairs: list[tuple[str, str]], threads: int) -> None:
    for t in range(threads):
        with open(f"{prefix}.{t + 1}", "w") as f:
            for id_, code in pairs[t::threads]:
                f.write(f"{id_} {code}\n")


# ---- the run -------------------------------------------------------------------------------

class Bench:
    def __init__(self, opts) -> None:
        self.o = opts
        self.wrk = Wrk(opts.wrk, opts.threads, opts.connections)
        self.workdir = Path(tempfile.mkdtemp(prefix="otpd-bench-"))
        self.results: dict[str, Result] = {}
        self.cold: dict = {}
        self.broken: list[str] = []
        self.tags = 0
        self.seconds = opts.duration
        self.store_desc = ""
        # What is measured, taken now: others may commit while the run goes on.
        self.rev = sh(["git", "rev-parse", "--short", "HEAD"])
        self.dirty = bool(sh(["git", "status", "--porcelain", "--", "src", "CMakeLists.txt"]))
        self.built_mtime = os.path.getmtime(opts.otpd)
        self.built = datetime.datetime.fromtimestamp(
            self.built_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.otpd_threads = 0
        self.config_sample = ""
        self.pending: list[PendingRun] = []
        self.soak_run: SoakRun | None = None
        self.waited: list[float] = []
        if opts.wait_quiet > 0:
            self.wrk.before_measured = lambda: self.waited.append(wait_quiet(opts.wait_quiet))

    def tag(self) -> str:
        self.tags += 1
        return f"r{os.getpid()}x{self.tags}"

    def record(self, res: Result) -> Result:
        """Keeps a result for the main table, and checks it for errors."""
        self.results[res.name] = res
        return self.check(res)

    def check(self, res: Result) -> Result:
        """Notes a run with too many errors as broken (record() and the longer targets)."""
        frac = res.error_fraction()
        if frac > BROKEN_FRACTION:
            why = (f"{res.name}: {res.non2xx} non-2xx answers and "
                   f"{sum(res.socket_errors.values())} socket errors in {res.requests} requests "
                   f"({frac:.1%} > {BROKEN_FRACTION:.0%})")
            if res.pairs and res.pairs["reused"]:
                why += f"; pairs exhausted, {res.pairs['reused']} requests reused a pair"
            self.broken.append(why)
            log("BROKEN " + why)
        return res

    # -- cold start --

    def cold_start(self) -> None:
        """Exec to the first 200 on /healthz. The first start makes the data dir (the server
        secret, the schema) and is reported on its own; the target is for the starts after
        it, on the existing store, as at every restart of a deployed server."""
        if self.wrk.before_measured is not None:
            self.wrk.before_measured()
        starts, stops = [], []
        inst = Otpd(self.o.otpd, self.o.store, self.workdir, "cold")
        try:
            first = inst.start(timed=True) * 1e3
        finally:
            stops.append(inst.stop() * 1e3)
        for _ in range(self.o.cold_starts):
            try:
                starts.append(inst.start(timed=True) * 1e3)
            finally:
                stops.append(inst.stop() * 1e3)
        self.cold = {"first_ms": first, "runs_ms": starts,
                     "median_ms": statistics.median(starts),
                     "stop_median_ms": statistics.median(stops)}
        log(f"cold start on an existing store: median {self.cold['median_ms']:.1f} ms of "
            f"{', '.join(f'{s:.1f}' for s in starts)}; first start on a fresh data dir "
            f"{first:.1f} ms; stop (SIGTERM to exit) median "
            f"{self.cold['stop_median_ms']:.0f} ms")

    # -- nginx --

    def nginx(self, name: str) -> Result:
        ng = Nginx(self.o.nginx, self.workdir / re.sub(r"[^a-z0-9]+", "-", name).strip("-"))
        try:
            ng.start()
            url = f"http://127.0.0.1:{ng.port}/"
            self.wrk.run(f"{name} warm-up", "nginx", url, 1, None, [], ng.pids, counted=False)
            return self.record(self.wrk.run(name, "nginx", url, self.seconds, None, [], ng.pids))
        finally:
            ng.stop()

    # -- otpd --

    def smoke(self, inst: Otpd) -> None:
        """One send and one verify through Python first: a clear message if the API is off."""
        h = {**inst.auth(), "Content-Type": "application/json"}
        status, body = http_request(inst.port, "POST", "/v1/otp/send",
                                    json.dumps({"to": f"smoke-{os.getpid()}@bench.example.com"}), h)
        if status != 201:
            raise BenchError(f"smoke send answered {status}: {body}")
        id_ = json.loads(body)["id"]
        inst.drain(deadline_s=10)
        codes = [c for i, c in inst.pairs if i == id_]
        if not codes:
            raise BenchError("the console channel printed no code for the smoke send "
                             f"(otpd stdout: {inst.stdout_path})")
        inst.pairs = [p for p in inst.pairs if p[0] != id_]
        status, body = http_request(inst.port, "POST", "/v1/otp/verify",
                                    json.dumps({"id": id_, "code": codes[0]}), h)
        if status != 200:
            raise BenchError(f"smoke verify answered {status}: {body}")

    def send(self, inst: Otpd, name: str, seconds: int, counted: bool = True,
             record: bool = True) -> Result:
        """record=False: a counted run that is not a row of the main table (pending runs)."""
        res = self.wrk.run(name, "otpd", inst.url, seconds, "send.lua", [API_KEY, self.tag()],
                           inst.pids, settle=inst.drain, counted=counted)
        return self.record(res) if counted and record else res

    def pairs_file(self, inst: Otpd, name: str, count: int) -> Path:
        prefix = inst.dir / f"pairs-{name}"
        pairs = inst.take_pairs(count)
        if len(pairs) < self.o.threads:
            raise BenchError(f"{name}: only {len(pairs)} unused id/code pairs")
        write_thread_files(prefix, pairs, self.o.threads)
        return prefix

    def main_instance(self) -> None:
        inst = Otpd(self.o.otpd, self.o.store, self.workdir, "otpd")
        self.store_desc = inst.store.describe()
        try:
            inst.start()
            self.otpd_threads = inst.threads()
            self.config_sample = inst.config_text()
            self.smoke(inst)
            # Uncounted: warms the server up and leaves pairs for verify.
            seed = self.send(inst, "seed (not counted)", self.o.seed_seconds, counted=False)
            send = self.send(inst, "send", self.seconds)
            send_rps = max(send.rps, seed.rps, 1.0)

            probe_rps = self.probe_verify(inst)
            mix_reserve = self.pairs_needed(probe_rps / 3)
            self.seed_to(inst, send_rps, self.pairs_needed(probe_rps) + mix_reserve)
            verify, prefix = self.measured_verify(inst, "verify", send_rps, mix_reserve)
            self.record(verify)

            status_prefix = prefix  # those ids exist (most approved); reading never consumes
            self.record(self.wrk.run("status", "otpd", inst.url, self.seconds, "status.lua",
                                     [API_KEY, str(status_prefix)], inst.pids))

            for attempt in (1, 2):
                prefix = self.pairs_file(inst, "mix", inst.unused())
                mix = self.wrk.run("mix", "otpd", inst.url, self.seconds, "mix.lua",
                                   [API_KEY, self.tag(), str(prefix)], inst.pids,
                                   settle=inst.drain)
                if attempt == 2 or not (mix.pairs and mix.pairs["reused"]):
                    break
                log("mix ran out of pairs; seeding more and running it again")
                self.seed_to(inst, send_rps, self.pairs_needed(mix.rps / 3))
            if attempt == 2:
                mix.notes.append("second attempt: the first ran out of pairs")
            self.note_pairs(mix)
            self.record(mix)
        finally:
            inst.stop()

    def probe_verify(self, inst: Otpd) -> float:
        """How fast does verify go? A short uncounted probe on half of the pairs (after the
        same quiet wait as a measured run, or a busy moment makes it far too low)."""
        self.quiet()
        prefix = self.pairs_file(inst, "probe", max(self.o.threads, inst.unused() // 2))
        probe = self.wrk.run("verify probe (not counted)", "otpd", inst.url, 1, "verify.lua",
                             [API_KEY, str(prefix)], inst.pids, counted=False)
        return probe.rps

    def measured_verify(self, inst: Otpd, name: str, send_rps: float,
                        reserve: int) -> tuple[Result, Path]:
        """The measured verify run, leaving `reserve` pairs unused; returns the result (not
        recorded) and the prefix of the pairs files it used."""
        # Each pair is used once. A run that runs out (its rate was underestimated) is
        # not kept: seed for the rate it showed and run it again, once.
        for attempt in (1, 2):
            prefix = self.pairs_file(inst, "verify",
                                     max(self.o.threads, inst.unused() - reserve))
            verify = self.wrk.run(name, "otpd", inst.url, self.seconds, "verify.lua",
                                  [API_KEY, str(prefix)], inst.pids)
            if attempt == 2 or not (verify.pairs and verify.pairs["reused"]):
                break
            log(f"{name} ran out of pairs; seeding more and running it again")
            self.seed_to(inst, send_rps, self.pairs_needed(verify.rps) + reserve)
        if attempt == 2:
            verify.notes.append("second attempt: the first ran out of pairs")
        self.note_pairs(verify)
        return verify, prefix

    def quiet(self) -> None:
        if self.o.wait_quiet > 0:
            wait_quiet(self.o.wait_quiet)

    def pairs_needed(self, verify_rps: float) -> int:
        """Pairs for one measured run at verify_rps, with a margin: wide, because each wrk
        thread has its own half of the pairs and the probe underestimates a quiet run."""
        return int(verify_rps * self.seconds * 2.5) + 1000

    def seed_to(self, inst: Otpd, send_rps: float, wanted: int,
                max_seconds: int | None = None) -> Result | None:
        """Uncounted sends until `wanted` unused pairs exist (bounded by --max-seed)."""
        missing = wanted - inst.unused()
        res = None
        if missing > 0:
            secs = min(int(missing / send_rps * 1.1) + 1,
                       max_seconds or self.o.max_seed_seconds)
            log(f"seeding {missing:,} more pairs (~{secs} s of sends)")
            res = self.send(inst, "seed (not counted)", secs, counted=False)
        log(f"{inst.unused():,} unused id/code pairs")
        return res

    def note_pairs(self, res: Result) -> None:
        if not res.pairs:
            return
        p = res.pairs
        if p["reused"]:
            res.notes.append(f"PAIRS EXHAUSTED: {p['reused']:,} of {res.requests:,} requests "
                             f"reused a pair of {p['available']:,} (answered 404)")
        else:
            res.notes.append(f"{p['used']:,} of {p['available']:,} prepared pairs used")

    def info_instance(self) -> None:
        inst = Otpd(self.o.otpd, self.o.store, self.workdir, "otpd-info", log_level="info")
        try:
            inst.start()
            self.send(inst, "info warm-up (not counted)", 1, counted=False)
            size0 = inst.stderr_path.stat().st_size
            res = self.send(inst, "send, log_level=info", self.seconds)
            res.log_bytes_per_req = (inst.stderr_path.stat().st_size - size0) / max(res.requests, 1)
        finally:
            inst.stop()

    # -- --pending: throughput over a store already holding N pending codes --

    def pending_supported(self) -> bool:
        return hasattr(STORES[self.o.store], "prefill_pending")

    def check_disk(self, n: int) -> None:
        need = n * PENDING_DISK_BYTES_PER_ROW + (1 << 30)
        free = shutil.disk_usage(self.workdir).free
        if free < need:
            raise BenchError(f"--pending {n:,} needs about {need / 1e9:.1f} GB free in "
                             f"{self.workdir}, {free / 1e9:.1f} GB are")

    def pending_runs(self) -> None:
        if not self.pending_supported():
            log(f"--pending: store {self.o.store} has no prefill; not run")
            return
        self.check_disk(max(self.o.pending))  # fail before the first hour-long prefill
        for n in self.o.pending:
            self.check_disk(n)
            run = PendingRun(n)
            self.pending.append(run)
            self.pending_one(run)

    def pending_one(self, run: PendingRun) -> None:
        inst = Otpd(self.o.otpd, self.o.store, self.workdir, f"pending-{run.n}")
        try:
            inst.init_store()
            log(f"prefilling {run.n:,} pending codes into {inst.store.path}")
            # Their created_at is spread back from now: they stay pending until then.
            valid_until = time.time() - PENDING_SPREAD_S + TTL_S
            run.prefill_s = inst.store.prefill_pending(run.n, TENANT, TTL_S, RETENTION_S)
            run.db_bytes = inst.store.size_bytes()
            log(f"prefill of {run.n:,} codes took {run.prefill_s:.1f} s "
                f"({run.n / max(run.prefill_s, 1e-9):,.0f} rows/s); file "
                f"{run.db_bytes / 1e6:,.1f} MB ({run.db_bytes / max(run.n, 1):,.0f} bytes/code)")
            inst.start()
            self.smoke(inst)
            seed = self.send(inst, f"seed, {run.n:,} pending (not counted)",
                             self.o.seed_seconds, counted=False)
            run.send = self.with_sweeps(inst, lambda: self.send(
                inst, f"send, {run.n:,} pending", self.seconds, record=False))
            self.check(run.send)
            send_rps = max(run.send.rps, seed.rps, 1.0)
            probe_rps = self.probe_verify(inst)
            self.seed_to(inst, send_rps, self.pairs_needed(probe_rps))
            run.verify = self.with_sweeps(inst, lambda: self.measured_verify(
                inst, f"verify, {run.n:,} pending", send_rps, 0)[0])
            self.check(run.verify)
            if time.time() > valid_until:
                run.verify.notes.append("some prefilled codes had expired by the end")
        finally:
            inst.stop()
            self.remove_data(inst)

    def with_sweeps(self, inst: Otpd, measure) -> Result:
        """Runs measure(); notes the expiry sweeps (every 60 s, under the store's lock)
        that fell inside it: with millions of rows they may be what the figure shows."""
        c0, s0 = inst.store_op("sweep")
        res = measure()
        c1, s1 = inst.store_op("sweep")
        if c1 > c0:
            res.notes.append(f"{c1 - c0} expiry sweep(s) during the run, {s1 - s0:.2f} s")
        return res

    def remove_data(self, inst: Otpd) -> None:
        """A prefilled store may be gigabytes: always deleted (the logs stay with --keep)."""
        if self.o.keep:
            inst.store.remove()
        else:
            shutil.rmtree(inst.dir, ignore_errors=True)

    # -- --soak: RSS over a long run of the mix --

    def soak(self) -> None:
        soak = self.soak_run = SoakRun(self.o.soak)
        inst = Otpd(self.o.otpd, self.o.store, self.workdir, "soak")
        try:
            inst.start()
            self.smoke(inst)
            soak.rss_fresh_kib = inst.memory_kib()["VmRSS"]
            seed = self.send(inst, "soak seed (not counted)", self.o.seed_seconds,
                             counted=False)
            send_rps = max(seed.rps, 1.0)
            slice_s = min(SOAK_SLICE_S, self.o.soak)
            # A 1 s mix (not counted) says how fast the soak will use pairs: in the mix a
            # third of the requests are verifies, and another third sends that make as
            # many new pairs, so once the first slice is seeded the mix feeds itself.
            more = self.seed_to(inst, send_rps, int(send_rps * 2) + 1000, SOAK_MAX_SEED_S)
            probe = self.mix_slice(inst, "soak mix probe (not counted)", 1, inst.unused())
            last = self.seed_to(inst, send_rps, self.soak_pairs(probe.rps, slice_s),
                                SOAK_MAX_SEED_S)
            soak.pre_load_s = sum(r.seconds for r in (seed, more, probe, last) if r is not None)
            self.quiet()
            self.soak_loop(inst, soak, send_rps, slice_s, probe.rps)
        finally:
            inst.stop()

    def soak_pairs(self, mix_rps: float, seconds: int) -> int:
        """Pairs to hand one mix run of `seconds` (a third of the mix are verifies)."""
        return int(mix_rps / 3 * seconds * SOAK_PAIR_MARGIN) + 1000

    def soak_seconds_covered(self, pairs: int, mix_rps: float) -> int:
        """The inverse: how long a mix run can go on `pairs`."""
        return int(max(pairs - 1000, 0) / (mix_rps / 3 * SOAK_PAIR_MARGIN))

    def mix_slice(self, inst: Otpd, name: str, seconds: int, count: int) -> Result:
        """One wrk run of the mix; the pairs it did not use go back to the pool."""
        pairs = inst.take_pairs(count)
        if len(pairs) < self.o.threads:
            raise BenchError(f"{name}: only {len(pairs)} unused id/code pairs")
        prefix = inst.dir / "pairs-soak"
        write_thread_files(prefix, pairs, self.o.threads)
        res = self.wrk.run(name, "otpd", inst.url, seconds, "mix.lua",
                           [API_KEY, self.tag(), str(prefix)], inst.pids, settle=inst.drain,
                           counted=False)
        if hasattr(inst.store, "still_pending"):
            pending = inst.store.still_pending(TENANT, [id_ for id_, _ in pairs])
            inst.give_back([p for p in pairs if p[0] in pending])
        return res

    def soak_loop(self, inst: Otpd, soak: SoakRun, send_rps: float, slice_s: int,
                  mix_rps: float) -> None:
        """Chained wrk runs of the mix until the time is up; RSS sampled meanwhile."""
        soak.warmup_s = min(SOAK_WARMUP_S, 0.1 * self.o.soak)
        sweeps0 = inst.store_op("sweep")
        sampler = RssSampler(inst, SOAK_SAMPLE_S)
        sampler.start()
        try:
            while (left := self.o.soak - (time.monotonic() - sampler.t0)) >= 1:
                seconds = min(slice_s, round(left))
                # The mix makes as many pairs as it uses, but if the rate went up the pool
                # may not cover a whole run: a shorter one then, or seeding (send-only load
                # inside the soak, reported) when it would be very short.
                covered = self.soak_seconds_covered(inst.unused(), mix_rps)
                if covered < min(seconds, SOAK_MIN_SLICE_S):
                    need = self.soak_pairs(mix_rps, seconds)
                    log(f"soak: {inst.unused():,} pairs left, {need:,} needed; seeding")
                    missing = need - inst.unused()
                    secs = min(int(missing / send_rps * 1.1) + 1, SOAK_MAX_SEED_S, round(left))
                    soak.seeding.append(self.send(inst, "soak seeding (send only)", secs,
                                                  counted=False))
                    continue  # less time left now
                seconds = min(seconds, covered)
                need = self.soak_pairs(mix_rps, seconds)
                n = len(soak.slices) + 1
                res = self.mix_slice(inst, f"soak mix {n}", seconds, need)
                self.note_pairs(res)
                soak.slices.append(res)
                mix_rps = max(res.rps, 1.0)  # the next run's pairs follow the last rate
                if sampler.error is not None:
                    raise BenchError(f"soak: RSS sampling failed: {sampler.error}")
        finally:
            sampler.finish()
            soak.wall_s = time.monotonic() - sampler.t0
            soak.samples = sampler.samples
        soak.hwm_kib = inst.memory_kib()["VmHWM"]  # the process's peak, seeding included
        c1, s1 = inst.store_op("sweep")
        soak.sweeps = (c1 - sweeps0[0], s1 - sweeps0[1])
        soak.total = self.soak_total(soak)
        self.check(soak.total)

    @staticmethod
    def soak_total(soak: SoakRun) -> Result:
        total = Result("soak", "otpd")
        for r in soak.slices + soak.seeding:
            total.requests += r.requests
            total.seconds += r.seconds
            total.non2xx += r.non2xx
            for k, v in r.socket_errors.items():
                total.socket_errors[k] = total.socket_errors.get(k, 0) + v
            total.p99_ms = max(total.p99_ms, r.p99_ms)
        total.rps = total.requests / max(soak.wall_s, 1e-9)
        return total

    def run(self) -> None:
        log(f"work dir {self.workdir}")
        self.cold_start()
        self.nginx("nginx")
        self.main_instance()
        if not self.o.no_info:
            self.info_instance()
        self.nginx("nginx (again, at the end)")
        # The longer targets come last, so the scenarios above run as they always did.
        if self.o.pending:
            self.pending_runs()
        if self.o.soak:
            self.soak()

    def cleanup(self) -> None:
        PROCS.stop_all()
        if self.o.keep:
            log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------------

def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def fmt_ms(v: float) -> str:
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def report(b: Bench, opts, command: str, micro: str) -> tuple[str, str]:
    """(Markdown for the generated part of docs/performance.md, plain table for stdout)."""
    R = b.results
    # The reference is the nginx run least disturbed by other processes (on a shared
    # machine the two can differ by 2x); the other one shows the drift.
    refs = [R[n] for n in ("nginx", "nginx (again, at the end)") if n in R]
    ref = min(refs, key=lambda r: r.other_cores) if refs else None
    ref_rps = ref.rps if ref else 0.0
    ref_cpu = ref.cpu_us_per_req if ref else 0.0
    ref_p99 = ref.p99_ms if ref else 0.0

    header = ["scenario", "req/s", "p50", "p99", "CPU µs/req", "req/s vs nginx",
              "CPU vs nginx", "p99 vs nginx", "target", "met?"]
    rows = []
    ordered = sorted(R.items(), key=lambda kv: kv[1].server != "nginx")  # reference first
    for name, r in ordered:
        if r.server == "nginx":
            rows.append([name, f"{r.rps:,.0f}", fmt_ms(r.p50_ms), fmt_ms(r.p99_ms),
                         f"{r.cpu_us_per_req:.1f}", "—", "—", "—",
                         "**reference**" if r is ref else "drift check", "—"])
            continue
        rps_ratio = r.rps / ref_rps if ref_rps else 0
        cpu_ratio = r.cpu_us_per_req / ref_cpu if ref_cpu else 0
        p99_ratio = r.p99_ms / ref_p99 if ref_p99 else 0
        t = TARGETS.get(name)
        if t is None:
            target, met = "— (informational)", "—"
        else:
            parts, misses = [], []
            if t["rps"] is not None:
                parts.append(f"req/s ≥ {t['rps']:.0%}")
                if rps_ratio < t["rps"]:
                    misses.append("req/s")
            parts.append(f"CPU ≤ {t['cpu']:g}×")
            if cpu_ratio > t["cpu"]:
                misses.append("CPU")
            parts.append(f"p99 ≤ {t['p99']:g}×")
            if p99_ratio > t["p99"]:
                misses.append("p99")
            target = ", ".join(parts)
            met = "yes" if not misses else "**no** (" + ", ".join(misses) + ")"
        if r.error_fraction() > BROKEN_FRACTION:
            met = "**BROKEN** (errors)"
        rows.append([name, f"{r.rps:,.0f}", fmt_ms(r.p50_ms), fmt_ms(r.p99_ms),
                     f"{r.cpu_us_per_req:.1f}", f"{rps_ratio:.0%}", f"{cpu_ratio:.1f}×",
                     f"{p99_ratio:.1f}×", target, met])
    if b.cold:
        ok = b.cold["median_ms"] < COLD_START_TARGET_MS
        rows.append(["cold start on an existing store (exec → first 200 on /healthz)", "—", "—", "—", "—", "—", "—",
                     "—", f"< {COLD_START_TARGET_MS:g} ms (median of {len(b.cold['runs_ms'])})",
                     ("yes" if ok else "**no**") + f" ({b.cold['median_ms']:.1f} ms)"])

    def md_table(hdr, body):
        out = ["| " + " | ".join(hdr) + " |", "|" + "|".join(" --- " for _ in hdr) + "|"]
        out += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(out)

    detail_hdr = ["scenario", "requests", "seconds", "non-2xx", "socket errors",
                  "wrk CPU µs/req", "other load (cores)", "notes"]
    detail_rows = []
    for name, r in ordered:
        notes = list(r.notes)
        if r.log_bytes_per_req is not None:
            notes.append(f"{r.log_bytes_per_req:.0f} bytes of log per request")
        errs = ", ".join(f"{k} {v}" for k, v in r.socket_errors.items()) or "0"
        detail_rows.append([name, f"{r.requests:,}", f"{r.seconds:.1f}", str(r.non2xx), errs,
                            f"{r.wrk_cpu_us_per_req:.1f}", f"{r.other_cores:.2f}",
                            "; ".join(notes) or ""])

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = open("/proc/loadavg").read().split()[:3]
    mode = "short (CI smoke run: figures are not meaningful)" if opts.short else "full"
    lines = [
        f"Generated by `bench/run.py` on {now}; mode: {mode}.",
        "",
        "| | |",
        "| --- | --- |",
        f"| machine | {os.cpu_count()} CPUs (`nproc` {sh(['nproc'])}), {cpu_model()}, "
        f"Linux {platform.release()} |",
        f"| load average at the end | {' '.join(load)} |",
        f"| otpd | `{opts.otpd}` built {b.built}; git {b.rev}"
        + (" + uncommitted changes in src/" if b.dirty else "") + " when the run started |",
        f"| store | `--store {opts.store}`: {b.store_desc} |",
        f"| otpd process | {b.otpd_threads} threads (config `threads = 0`: one I/O thread per "
        f"core); tenant config below |",
        f"| load generator | {_wrk_version(opts.wrk)}, `-t{opts.threads} -c{opts.connections} -d{b.seconds}s --latency`, keep-alive, "
        f"on the same machine |",
        f"| reference | nginx {_nginx_version(opts.nginx)}, "
        f"`worker_processes auto`, static ~{len(NGINX_BODY)}-byte JSON via `return 200`, "
        f"measured first and last; ratios are to the run less disturbed by other load |",
        f"| command | `{command}` |",
        f"| quiet wait | "
        + (f"waited for idle CPUs before each measured run (up to {opts.wait_quiet:.0f} s); "
           f"busy cores by others just before each: "
           f"{', '.join(f'{c:.2f}' for c in b.waited)}" if opts.wait_quiet else "off")
        + " |",
        "",
        md_table(header, rows),
        "",
        "CPU µs/req is utime+stime of the server process (all threads; nginx: master and "
        "workers) from /proc over the run, divided by the requests wrk completed; for send "
        "and mix it includes delivering the queued codes (the console channel) until the "
        "queue is empty. p50/p99 are wrk's (closed loop, so they understate tail latency "
        "under overload). \"other load\" is CPU used by processes other than the server and "
        "wrk during the run: anything well above 0 means the figures were disturbed.",
        "",
    ]
    longer_md, longer_plain = longer_targets(b, opts, md_table)
    lines += longer_md + [
        "<details><summary>Per-run details</summary>",
        "",
        md_table(detail_hdr, detail_rows),
        "",
    ]
    if b.cold:
        lines += [f"Cold start runs (ms): {', '.join(f'{s:.1f}' for s in b.cold['runs_ms'])}; "
                  f"each on the store the first start made. That first start, on a fresh data "
                  f"dir (server secret generated, schema created): {b.cold['first_ms']:.1f} ms. "
                  f"Stop (SIGTERM to exit), median: {b.cold['stop_median_ms']:.0f} ms.", ""]
    lines += ["otpd's configuration (the API key is this run's throwaway; `listen`, `store` "
              "and `data_dir` point into a temporary directory):", "", "```toml",
              b.config_sample.strip(), "```", "", "</details>", ""]
    rebuilt = rebuilt_note(b, opts)
    if rebuilt:
        lines += [f"**Note:** {rebuilt}", ""]
    if b.broken:
        lines += ["**BROKEN BENCHMARK** — these runs had too many errors to mean anything:", ""]
        lines += [f"- {w}" for w in b.broken] + [""]
    if micro:
        lines += [micro, ""]

    plain = [" | ".join(header)]
    plain += [" | ".join(r) for r in rows]
    plain += [""] + longer_plain
    return "\n".join(lines), "\n".join(plain)


# ---- report: the longer targets (--pending, --soak) ----------------------------------------

def fmt_n(n: int) -> str:
    return f"{n:,}"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def pending_verdict(b: Bench, opts) -> tuple[str, str]:
    """(measured, met?) for "throughput within 10 % from 1 000 to 10 000 000 pending"."""
    if not opts.pending:
        return "not run (give `--pending N,N…`)", "—"
    if not b.pending_supported():
        return f"not run (`--store {opts.store}` has no prefill)", "—"
    done = [r for r in b.pending if r.send is not None and r.verify is not None]
    if len(done) < 2:
        why = "a ratio needs two" if len(done) == len(opts.pending) else "the run was aborted"
        return f"incomplete: {len(done)} of {len(opts.pending)} N measured ({why})", "—"
    lo, hi = done[0], done[-1]
    parts, ok = [], True
    for what in ("send", "verify"):
        a, z = getattr(lo, what), getattr(hi, what)
        ratio = z.rps / a.rps if a.rps else 0.0
        ok = ok and ratio >= PENDING_TARGET_RATIO
        parts.append(f"{what} {a.rps:,.0f} → {z.rps:,.0f} req/s ({ratio:.2f}×)")
    measured = (f"{fmt_n(lo.n)} → {fmt_n(hi.n)} pending codes: " + "; ".join(parts))
    met = "yes" if ok else "**no**"
    if lo.n > PENDING_TARGET_RANGE[0] or hi.n < PENDING_TARGET_RANGE[1]:
        met += " (over a smaller range than the target's)"
    if len(done) < len(opts.pending):
        met += f" (only {len(done)} of {len(opts.pending)} N measured)"
    if any(r.error_fraction() > BROKEN_FRACTION for p in done for r in (p.send, p.verify)):
        met = "**BROKEN** (errors)"
    return measured, met


def soak_figures(soak: SoakRun) -> dict | None:
    """RSS after the warm-up, at the end, max, least-squares slope over the samples after
    the warm-up, and the verdict; None when too few samples follow the warm-up."""
    after = [(t, kib) for t, kib in soak.samples if t >= soak.warmup_s]
    if len(after) < 2:
        return None
    start, end = after[0][1], after[-1][1]
    fit = statistics.linear_regression([t / 60 for t, _ in after], [k for _, k in after])
    slope = fit.slope  # KiB per minute
    flat = (abs(end - start) <= RSS_FLAT_FRACTION * start
            and abs(slope) <= RSS_SLOPE_LIMIT * start)
    return {"start": start, "start_t": after[0][0], "end": end,
            "max": max(k for _, k in soak.samples), "slope": slope, "flat": flat,
            "n": len(after)}


def soak_verdict(b: Bench, opts) -> tuple[str, str]:
    """(measured, met?) for "RSS flat over a 10-minute soak"."""
    if not opts.soak:
        return "not run (give `--soak SECONDS`)", "—"
    soak = b.soak_run
    if soak is None:
        return "not run (the run was aborted before it)", "—"
    f = soak_figures(soak) if soak.total is not None else None
    if f is None:
        return "incomplete (aborted, or too few RSS samples after the warm-up)", "—"
    change = (f["end"] - f["start"]) / f["start"]
    load = "mix" + (", some send-only seeding" if soak.seeding else "")
    measured = (f"{soak.wall_s:.0f} s soak ({load}), {soak.total.rps:,.0f} req/s: RSS "
                f"{fmt_mib(f['start'])} at {f['start_t']:.0f} s → {fmt_mib(f['end'])} at the "
                f"end ({change:+.1%}), max {fmt_mib(f['max'])}, slope "
                f"{f['slope']:+,.0f} KiB/min")
    met = "yes" if f["flat"] else "**no**"
    if soak.seconds < SOAK_TARGET_S:
        met += " (shorter than the target's 10 min)"
    if soak.total.error_fraction() > BROKEN_FRACTION:
        met = "**BROKEN** (errors)"
    return measured, met


def pending_table(b: Bench, md_table) -> list[str]:
    hdr = ["pending codes", "prefill", "rows/s", "file", "bytes/code", "send req/s",
           "send p99", "send CPU µs/req", "verify req/s", "verify p99", "verify CPU µs/req",
           "other load (send, verify)", "notes"]
    rows = []
    for r in b.pending:
        if r.prefill_s is None:
            row = [fmt_n(r.n), "failed", "—", "—", "—"]
        else:
            row = [fmt_n(r.n), f"{r.prefill_s:.1f} s", f"{r.n / max(r.prefill_s, 1e-9):,.0f}",
                   f"{r.db_bytes / 1e6:,.1f} MB", f"{r.db_bytes / max(r.n, 1):,.0f}"]
        for res in (r.send, r.verify):
            row += ([f"{res.rps:,.0f}", fmt_ms(res.p99_ms), f"{res.cpu_us_per_req:.1f}"]
                    if res is not None else ["—", "—", "—"])
        row.append(", ".join(f"{res.other_cores:.2f}" for res in (r.send, r.verify)
                             if res is not None) or "—")
        notes = [f"{name}: {n}" for name, res in (("send", r.send), ("verify", r.verify))
                 if res is not None for n in res.notes]
        notes += [f"{name}: {res.non2xx} non-2xx, {sum(res.socket_errors.values())} socket "
                  f"errors" for name, res in (("send", r.send), ("verify", r.verify))
                  if res is not None and (res.non2xx or res.socket_errors)]
        rows.append(row + ["; ".join(notes)])
    return [md_table(hdr, rows), "",
            f"Each N on a fresh data dir: `otpd store init`, then N pending codes written "
            f"straight into the SQLite file in one transaction (a `verifications` row, status "
            f"pending, delivery sent, expiring {TTL_S} s after a created_at spread over the "
            f"last {PENDING_SPREAD_S} s, and its `sends` row; ids and hashes in otpd's "
            f"formats), then otpd started on it and the send and verify scenarios run as "
            f"above. \"file\" is the database after the prefill (WAL checkpointed); the data "
            f"dir is deleted after each N. otpd sweeps expired records every 60 s under the "
            f"store's lock; sweeps that fell inside a measured run are in the notes.", ""]


def soak_details(soak: SoakRun) -> list[str]:
    if soak.total is None:
        return []
    load_s = sum(r.seconds for r in soak.slices + soak.seeding)
    pauses = len(soak.slices) + len(soak.seeding) - 1
    mix = soak.slices
    samples = ", ".join(f"{t:.0f} s {k / 1024:.1f}" for t, k in soak.samples)
    lines = [
        f"Soak: {len(mix)} chained wrk run(s) of the mix (≤ {SOAK_SLICE_S} s each, new "
        f"recipients each; each run is handed unused pairs and gives back the ones whose code "
        f"it did not verify) over {soak.wall_s:.0f} s. wrk was running for "
        f"{load_s:.1f} s of them; the other {max(soak.wall_s - load_s, 0):.1f} s are "
        f"{pauses} pause(s) without load between runs (draining the delivery queue, "
        f"collecting the pairs for the next run) and the drain after the last one."
        + (f" {len(soak.seeding)} send-only seeding run(s) ("
           f"{sum(r.seconds for r in soak.seeding):.0f} s) were needed inside the soak: the "
           f"mix used pairs faster than expected."
           if soak.seeding else " No send-only seeding was needed inside the soak."),
        f"{soak.total.requests:,} requests, {soak.total.non2xx} non-2xx, "
        f"{sum(soak.total.socket_errors.values())} socket errors; mix req/s first "
        f"{mix[0].rps:,.0f}, last {mix[-1].rps:,.0f}; worst p99 of a run "
        f"{fmt_ms(soak.total.p99_ms)}; {soak.sweeps[0]} expiry sweeps "
        f"({soak.sweeps[1]:.2f} s). Peak RSS of the process (VmHWM, seeding before the soak "
        f"included): {fmt_mib(soak.hwm_kib)}." if mix else "",
        f"Before the clock started: RSS {fmt_mib(soak.rss_fresh_kib)} after start-up and "
        f"one send; then {soak.pre_load_s:.0f} s of load (send-only runs seeding the first "
        f"run's pairs, and a 1 s mix probe) took it to the first sample below.",
        f"RSS (MiB) sampled every {SOAK_SAMPLE_S} s: {samples}. Warm-up (not judged): the "
        f"first {soak.warmup_s:.0f} s. Flat means: the end within "
        f"{RSS_FLAT_FRACTION:.0%} of the first sample after the warm-up, and the "
        f"least-squares slope of the samples after it within {RSS_SLOPE_LIMIT:.0%} of that "
        f"value per minute.",
    ]
    return [line for line in lines if line] + [""]


def longer_targets(b: Bench, opts, md_table) -> tuple[list[str], list[str]]:
    """Markdown lines and plain lines for the targets measured with --pending and --soak."""
    pending = ["throughput within 10 % from 1,000 to 10,000,000 pending codes",
               *pending_verdict(b, opts)]
    soak = ["RSS flat over a 10-minute soak", *soak_verdict(b, opts)]
    hdr = ["target", "measured", "met?"]
    md = ["### Pending codes and soak (`--pending`, `--soak`)", "",
          md_table(hdr, [pending, soak]), ""]
    if b.pending:
        md += pending_table(b, md_table)
    if b.soak_run is not None:
        md += soak_details(b.soak_run)
    plain = [" | ".join(hdr), " | ".join(pending), " | ".join(soak)]
    return md, plain


def rebuilt_note(b: Bench, opts) -> str:
    """Each otpd instance execs the binary anew: if someone rebuilt it during a long run
    (a 10M prefill, a soak), the later scenarios measured another build."""
    try:
        now = os.path.getmtime(opts.otpd)
    except OSError:
        return f"`{opts.otpd}` was removed during the run."
    if now == b.built_mtime:
        return ""
    when = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%H:%M UTC")
    return (f"`{opts.otpd}` was rebuilt during the run (at {when}): the scenarios started "
            f"after that measured a different build than the one named above.")


def _wrk_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True)
    m = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return f"wrk {m.group(1)}" if m else "wrk"


def _nginx_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr
    m = re.search(r"nginx/(\S+)", out)
    return m.group(1) if m else "?"


def micro_section(path: str | None, command: str | None) -> str:
    if not path:
        return ""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        return f"### Microbenchmarks\n\nnot available ({e})"
    rows = []
    for bm in data.get("benchmarks", []):
        if bm.get("run_type") == "aggregate":
            continue
        unit = bm.get("time_unit", "ns")
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
        cpu_ns = bm["cpu_time"] * scale
        real_ns = bm["real_time"] * scale
        rows.append(f"| `{bm['name']}` | {_ns(cpu_ns)} | {_ns(real_ns)} | {bm['iterations']:,} |")
    ctx = data.get("context", {})
    out = ["### Microbenchmarks (Google Benchmark, Release build)", ""]
    if command:
        out.append(f"`{command}`; {ctx.get('num_cpus', '?')} CPUs, load average "
                   f"{' '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))} at its start. "
                   "CPU time is the figure to read on a shared machine; wall time includes "
                   "waiting for a core (and, for the store, for the disk)."
                   + (" Google Benchmark warns that its library is a debug build: that is "
                      "Debian's libbenchmark itself, the code measured is compiled Release."
                      if ctx.get("library_build_type") == "debug" else ""))
        out.append("")
    out += ["| benchmark | CPU time | wall time | iterations |", "| --- | --- | --- | --- |"]
    return "\n".join(out + rows)


def _ns(v: float) -> str:
    if v < 1e3:
        return f"{v:.0f} ns"
    if v < 1e6:
        return f"{v / 1e3:.2f} µs"
    return f"{v / 1e6:.2f} ms"


BEGIN, END = "<!-- bench:begin (generated by bench/run.py; edit outside these markers) -->", \
    "<!-- bench:end -->"

SKELETON = f"""# Performance

How fast otpd is against the machine's own HTTP ceiling, and where its time goes. The
figures between the markers below are written by `make bench` (`bench/run.py` plus the
Google Benchmark microbenchmarks in `bench/micro/`); the rest of this page is written by
hand. `make bench-short` is the CI smoke run of the same harness (2 s per scenario; it
writes `build-bench/performance-short.md`, never this page).

## Targets

On this 2-core machine, load generator included: send ≥ 50 % and verify ≥ 60 % of the nginx
req/s; server CPU ≤ 4× nginx's per request; p99 within 2× nginx's p99; cold start (exec to
first answered request) < 20 ms.

Throughput within 10 % from 1 000 to 10 000 000 pending codes and RSS flat over a
10-minute soak are measured only when asked: `make bench BENCH_ARGS="--pending
1000,10000000 --soak 600"`.

## Results

{BEGIN}
{END}

## Observations

(none yet)
"""


def markers(store: str) -> tuple[str, str]:
    """The report's markers: SQLite's are the page's main results; every other store has
    a section of its own, so a run on one store never overwrites another's figures."""
    if store == "sqlite":
        return BEGIN, END
    return (f"<!-- bench:{store}:begin (generated by bench/run.py --store {store}; edit "
            f"outside these markers) -->", f"<!-- bench:{store}:end -->")


def write_report(path: Path, generated: str, store: str = "sqlite") -> None:
    begin, end = markers(store)
    text = path.read_text() if path.exists() else SKELETON
    if store == "sqlite" and (BEGIN not in text or END not in text):
        text = SKELETON
    if begin not in text or end not in text:
        # A store's first run: its section goes at the end of the page.
        text = text.rstrip("\n") + f"\n\n## Results on `--store {store}`\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{begin}\n{generated}\n{end}{tail}")


# ---- main ----------------------------------------------------------------------------------

def pending_list(text: str) -> list[int]:
    """"1000,10000000" (underscores allowed) -> [1000, 10000000], sorted, no duplicates."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not values or values[0] < 0:
        raise argparse.ArgumentTypeError(f"counts must be 0 or more: {text!r}")
    return values


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--otpd", default=str(ROOT / "build/bin/otpd"), help="the otpd binary")
    ap.add_argument("--store", default="sqlite", choices=sorted(STORES),
                    help="the store otpd runs on")
    ap.add_argument("--duration", type=int, default=None,
                    help="seconds per measured scenario (default 10; 2 with --short)")
    ap.add_argument("--short", action="store_true",
                    help="CI smoke run: 2 s per scenario, small seeding; figures not meaningful")
    ap.add_argument("--out", default=str(ROOT / "docs/performance.md"),
                    help="Markdown report; only the part between the bench markers is replaced")
    ap.add_argument("--micro-json", help="Google Benchmark JSON output to include")
    ap.add_argument("--micro-command", help="how that JSON was produced (shown in the report)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t")
    ap.add_argument("--connections", type=int, default=128, help="wrk -c")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--no-info", action="store_true",
                    help="skip the send run with log_level=info")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="before each measured run, wait up to SECONDS for other processes "
                         "to leave the CPUs idle (for a shared machine; default: don't wait)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary work dir (not the prefilled --pending databases)")
    ap.add_argument("--pending", type=pending_list, default=[], metavar="N[,N...]",
                    help="also measure send and verify on a store prefilled with N pending "
                         "codes, for each N (e.g. 1000,10000000: ~6 GB of disk and several "
                         "minutes of prefill for 10M); target: the largest N within 10 %% of "
                         "the smallest's req/s")
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="also run the mix for SECONDS against one otpd, sampling its RSS "
                         "every 10 s (target: 600 s, RSS flat); default: not run")
    opts = ap.parse_args()
    if opts.soak < 0:
        ap.error("--soak: SECONDS must be 0 (not run) or more")

    opts.duration = opts.duration or (2 if opts.short else 10)
    opts.seed_seconds = 1 if opts.short else 2
    opts.max_seed_seconds = 30 if opts.short else 240
    opts.cold_starts = 5
    opts.otpd = os.path.abspath(opts.otpd)
    for tool, what in ((opts.otpd, "--otpd"), (opts.wrk, "--wrk"), (opts.nginx, "--nginx")):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            print(f"run.py: {what} {tool} is not an executable (make bench builds otpd; "
                  f"scripts/install-deps --bench installs wrk and nginx)", file=sys.stderr)
            return 2

    # SIGTERM (CI timeout, Ctrl-C) must still reach the finally below.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    command = shlex.join(["bench/run.py"] + sys.argv[1:])
    b = Bench(opts)
    failure = None
    try:
        b.run()
    except BenchError as e:
        failure = str(e)
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        return 130
    finally:
        b.cleanup()

    if failure:
        b.broken.append("run aborted: " + failure.splitlines()[0])
        log("FAILED: " + failure)
    generated, plain = report(b, opts, command,
                              micro_section(opts.micro_json, opts.micro_command))
    write_report(Path(opts.out), generated, opts.store)
    print()
    print(plain)
    print(f"\nwritten to {opts.out}")
    if rebuilt_note(b, opts):
        print("\nNOTE: " + rebuilt_note(b, opts), file=sys.stderr)
    if b.broken:
        print("\nBROKEN BENCHMARK:\n  " + "\n  ".join(b.broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
