#!/usr/bin/python3
"""End-to-end benchmark of otpd against nginx, the machine's HTTP ceiling (issue #4).

Starts nginx (a static JSON body on loopback) and otpd on free loopback ports, drives both
with wrk (keep-alive, -t2 -c128 by default) and writes a Markdown report: req/s, p50/p99,
server CPU per request (utime+stime from /proc, all threads; nginx master and workers
summed) and otpd's ratios to nginx measured in the same run, against the targets of the
issue. Builds nothing: `make bench` builds first. Python 3 standard library only.

Scenarios: nginx GET / (at the start and again at the end: the reference is the run less
disturbed by other processes, the other shows drift); otpd send (a new recipient per request), verify (the right code,
each pair used once), status (GET by id), mix (send : verify : status = 1 : 1 : 1), send
again with log_level "info" (the access-log line per request); cold start (exec to the
first 200 on /healthz, median of 5 fresh data dirs).

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
import ctypes
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
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

    def start(self, argv, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)
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


# A networked backend (redis, dynamodb) adds a class here whose start() launches its server
# (through PROCS, on a free port) and whose url() is the `store` value for otpd's config.
STORES = {"sqlite": SqliteStore}


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
        return f"""listen = "127.0.0.1:{self.port}"
store = "{self.store.url()}"
data_dir = "{self.dir}"
log_level = "{self.log_level}"

[tenants.{TENANT}]
api_keys = ["{api_key_hash()}"]
default_channel = "console"
ttl_seconds = 3600
max_sends_per_window = 1000
failures_per_recipient_per_hour = 0

[tenants.{TENANT}.channels.console]
"""

    def start(self, ready_deadline: float = 30.0) -> float:
        """Starts otpd; returns seconds from exec to the first 200 on /healthz."""
        self.store.start()
        self.port = free_port()
        config = self.dir / "otpd.toml"
        config.write_text(self.config_text())
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        t0 = time.perf_counter()
        self.proc = PROCS.start([self.binary, "serve", "--config", str(config)],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
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
        return [self.proc.pid]

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
        self.built = datetime.datetime.fromtimestamp(
            os.path.getmtime(opts.otpd), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.otpd_threads = 0
        self.config_sample = ""
        self.waited: list[float] = []
        if opts.wait_quiet > 0:
            self.wrk.before_measured = lambda: self.waited.append(wait_quiet(opts.wait_quiet))

    def tag(self) -> str:
        self.tags += 1
        return f"r{os.getpid()}x{self.tags}"

    def record(self, res: Result) -> Result:
        self.results[res.name] = res
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
        if self.wrk.before_measured is not None:
            self.wrk.before_measured()
        starts, stops = [], []
        for i in range(self.o.cold_starts):
            inst = Otpd(self.o.otpd, self.o.store, self.workdir, f"cold{i}")
            try:
                starts.append(inst.start() * 1e3)
            finally:
                stops.append(inst.stop() * 1e3)
        self.cold = {"runs_ms": starts, "median_ms": statistics.median(starts),
                     "stop_median_ms": statistics.median(stops)}
        log(f"cold start: median {self.cold['median_ms']:.1f} ms of "
            f"{', '.join(f'{s:.1f}' for s in starts)}; stop (SIGTERM to exit) median "
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

    def send(self, inst: Otpd, name: str, seconds: int, counted: bool = True) -> Result:
        res = self.wrk.run(name, "otpd", inst.url, seconds, "send.lua", [API_KEY, self.tag()],
                           inst.pids, settle=inst.drain, counted=counted)
        return self.record(res) if counted else res

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

            # How fast does verify go? A short uncounted probe on half of the pairs (after the
            # same quiet wait as a measured run, or a busy moment makes it far too low).
            self.quiet()
            prefix = self.pairs_file(inst, "probe", max(self.o.threads, inst.unused() // 2))
            probe = self.wrk.run("verify probe (not counted)", "otpd", inst.url, 1, "verify.lua",
                                 [API_KEY, str(prefix)], inst.pids, counted=False)
            mix_reserve = self.pairs_needed(probe.rps / 3)
            self.seed_to(inst, send_rps, self.pairs_needed(probe.rps) + mix_reserve)

            # Each pair is used once. A run that runs out (its rate was underestimated) is
            # not kept: seed for the rate it showed and run it again, once.
            for attempt in (1, 2):
                prefix = self.pairs_file(inst, "verify",
                                         max(self.o.threads, inst.unused() - mix_reserve))
                verify = self.wrk.run("verify", "otpd", inst.url, self.seconds, "verify.lua",
                                      [API_KEY, str(prefix)], inst.pids)
                if attempt == 2 or not (verify.pairs and verify.pairs["reused"]):
                    break
                log("verify ran out of pairs; seeding more and running it again")
                self.seed_to(inst, send_rps, self.pairs_needed(verify.rps) + mix_reserve)
            if attempt == 2:
                verify.notes.append("second attempt: the first ran out of pairs")
            self.note_pairs(verify)
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

    def quiet(self) -> None:
        if self.o.wait_quiet > 0:
            wait_quiet(self.o.wait_quiet)

    def pairs_needed(self, verify_rps: float) -> int:
        """Pairs for one measured run at verify_rps, with a margin."""
        return int(verify_rps * self.seconds * 1.5) + 1000

    def seed_to(self, inst: Otpd, send_rps: float, wanted: int) -> None:
        """Uncounted sends until `wanted` unused pairs exist (bounded by --max-seed)."""
        missing = wanted - inst.unused()
        if missing > 0:
            secs = min(int(missing / send_rps * 1.1) + 1, self.o.max_seed_seconds)
            log(f"seeding {missing:,} more pairs (~{secs} s of sends)")
            self.send(inst, "seed (not counted)", secs, counted=False)
        log(f"{inst.unused():,} unused id/code pairs")

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

    def run(self) -> None:
        log(f"work dir {self.workdir}")
        self.cold_start()
        self.nginx("nginx")
        self.main_instance()
        if not self.o.no_info:
            self.info_instance()
        self.nginx("nginx (again, at the end)")

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
        rows.append(["cold start (exec → first 200 on /healthz)", "—", "—", "—", "—", "—", "—",
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
        "<details><summary>Per-run details</summary>",
        "",
        md_table(detail_hdr, detail_rows),
        "",
    ]
    if b.cold:
        lines += [f"Cold start runs (ms): {', '.join(f'{s:.1f}' for s in b.cold['runs_ms'])}; "
                  f"each on a fresh data dir (server secret generated, schema created). "
                  f"Stop (SIGTERM to exit), median: {b.cold['stop_median_ms']:.0f} ms.", ""]
    lines += ["otpd's configuration (the API key is this run's throwaway; `listen`, `store` "
              "and `data_dir` point into a temporary directory):", "", "```toml",
              b.config_sample.strip(), "```", "", "</details>", ""]
    if b.broken:
        lines += ["**BROKEN BENCHMARK** — these runs had too many errors to mean anything:", ""]
        lines += [f"- {w}" for w in b.broken] + [""]
    if micro:
        lines += [micro, ""]

    plain = [" | ".join(header)]
    plain += [" | ".join(r) for r in rows]
    return "\n".join(lines), "\n".join(plain)


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

## Targets (issue #4)

On this 2-core machine, load generator included: send ≥ 50 % and verify ≥ 60 % of the nginx
req/s; server CPU ≤ 4× nginx's per request; p99 within 2× nginx's p99; cold start (exec to
first answered request) < 20 ms.

TODO: soak test (RSS and latency over hours at steady load) and a store holding 10M pending
codes are not measured yet.

## Results

{BEGIN}
{END}

## Observations

(none yet)
"""


def write_report(path: Path, generated: str) -> None:
    text = path.read_text() if path.exists() else SKELETON
    if BEGIN not in text or END not in text:
        text = SKELETON
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{BEGIN}\n{generated}\n{END}{tail}")


# ---- main ----------------------------------------------------------------------------------

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
    ap.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    opts = ap.parse_args()

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
    write_report(Path(opts.out), generated)
    print()
    print(plain)
    print(f"\nwritten to {opts.out}")
    if b.broken:
        print("\nBROKEN BENCHMARK:\n  " + "\n  ".join(b.broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
