#!/usr/bin/env python3
"""Runs redis_client_bench and redis-benchmark against one private redis-server in the same
minutes, and prints requests/s and CPU per request for both, client and server side.
Report only; never part of the tests.

  bench_redis_client.py BUILD_DIR [seconds]
"""
import os
import re
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "support", "redis", "redis_fixture.py")
SCRIPT = "return redis.call('INCR', KEYS[1])"


def server_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(pid, command):
    before_server, before_client = server_cpu(pid), children_cpu()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return out, server_cpu(pid) - before_server, children_cpu() - before_client


def main():
    build = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    state = os.path.join(tempfile.mkdtemp(), "bench.json")
    subprocess.run([sys.executable, FIXTURE, "start", "standalone", "--state", state,
                    "--owner-pid", str(os.getpid())], check=True, capture_output=True)
    try:
        import json
        node = json.load(open(state))["nodes"][0]
        port, pid = str(node["port"]), node["pid"]
        sha = subprocess.run(["redis-cli", "-p", port, "script", "load", SCRIPT],
                             capture_output=True, text=True, check=True).stdout.strip()
        print(f"{'who':<16}{'op':<9}{'shape':<28}{'req/s':>10}{'client us/req':>15}"
              f"{'server us/req':>15}")
        for op in ("get", "set", "evalsha"):
            out, server, client = measure(pid, [
                os.path.join(build, "bin", "redis_client_bench"), f"redis://127.0.0.1:{port}",
                op, "2", "64", str(seconds)])
            rate = float(re.search(r"([0-9.]+) requests/s", out).group(1))
            n = int(re.search(r"\((\d+) ok", out).group(1))
            if n == 0:
                raise SystemExit("every request failed: " + out)
            print(f"{'otpd client':<16}{op:<9}{'2 thr x 64 coroutines':<28}{rate:>10.0f}"
                  f"{client / n * 1e6:>15.2f}{server / n * 1e6:>15.2f}")
            n = int(rate * seconds)
            for clients, pipeline in ((2, 64), (50, 1)):
                bench = ["redis-benchmark", "-p", port, "-n", str(n), "-c", str(clients),
                         "-P", str(pipeline), "--threads", "2", "-q", "-r", "128"]
                if op == "evalsha":
                    bench += ["evalsha", sha, "1", "bench:n:__rand_int__"]
                else:
                    bench += ["-t", op, "-d", "32"]
                out, server, client = measure(pid, bench)
                rate = float(re.findall(r"([0-9.]+) requests per second", out)[-1])
                shape = f"2 thr, {clients} conn, -P {pipeline}"
                print(f"{'redis-benchmark':<16}{op:<9}{shape:<28}{rate:>10.0f}"
                      f"{client / n * 1e6:>15.2f}{server / n * 1e6:>15.2f}")
    finally:
        subprocess.run([sys.executable, FIXTURE, "stop", "--state", state])


if __name__ == "__main__":
    main()
