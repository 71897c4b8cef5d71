#!/usr/bin/env python3
"""Real redis-server processes for the tests: a standalone server, a TLS server, a
3-master Redis Cluster or the same over TLS, each on free loopback ports in a temporary directory.

  redis_fixture.py start standalone|tls|cluster|tls-cluster --state FILE [--owner-pid PID] [--requirepass PW]
                   [--appendfsync always|everysec]     (AOF on: data survives a restart)
  redis_fixture.py stop --state FILE
  redis_fixture.py kill-node --state FILE --node I      (SIGKILL, wait until gone)
  redis_fixture.py start-node --state FILE --node I     (same port, dir and nodes.conf)

`start` returns once every server answers (PING; cluster_state:ok on every node) and
writes FILE (JSON: kind, dir, nodes [{port, pid}], ca_file, password). It also leaves a
watchdog process that kills the servers and deletes the directory as soon as the owner
(the process that called `start`, or --owner-pid) is gone, so nothing outlives a test
run that was killed before its `stop`. Only the standard library and redis-server,
redis-cli and openssl are used.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

READY_DEADLINE = 30.0  # seconds for a server, or the whole cluster, to become ready
MAX_LIFETIME = 3 * 3600  # the watchdog stops everything after this, owner or not


def is_cluster(kind):
    return kind in ("cluster", "tls-cluster")


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_port(cluster):
    # Below 22768 so that the cluster bus port (port + 10000) stays under Linux's
    # ephemeral range (32768+), where outgoing connections could take it.
    while True:
        port = random.randint(10000, 22767)
        if port_free(port) and (not cluster or port_free(port + 10000)):
            return port


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie is gone for us
    except (OSError, IndexError):
        return False


def cli(state, node, *args, timeout=5):
    cmd = ["redis-cli", "-p", str(node["port"])]
    if state.get("ca_file"):
        host = "localhost" if state["kind"] == "tls" else "127.0.0.1"
        cmd += ["--tls", "--cacert", state["ca_file"], "-h", host]
    else:
        cmd += ["-h", "127.0.0.1"]
    if state.get("password"):
        cmd += ["-a", state["password"], "--no-auth-warning"]
    try:
        out = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        return out.stdout
    except subprocess.TimeoutExpired:
        return ""


def server_args(state, node):
    # --appendfsync always: every write is in the AOF, fsync'd, before it is answered, so a
    # node killed and started again comes back with its data; everysec: as production
    # setups usually run (a second of writes at risk on a power loss, none on a crash).
    fsync = state.get("appendfsync")
    durable = ["--appendonly", "yes", "--appendfsync", fsync] if fsync else ["--appendonly", "no"]
    args = ["--bind", "127.0.0.1", "--dir", node["dir"], "--save", ""] + durable + \
           ["--daemonize", "no", "--logfile", ""]
    if state.get("password"):
        args += ["--requirepass", state["password"]]
    if state["kind"] in ("tls", "tls-cluster"):
        args += ["--port", "0", "--tls-port", str(node["port"]),
                 "--tls-cert-file", os.path.join(state["dir"], "server.crt"),
                 "--tls-key-file", os.path.join(state["dir"], "server.key"),
                 "--tls-ca-cert-file", state["ca_file"], "--tls-auth-clients", "no"]
    else:
        args += ["--port", str(node["port"])]
    if state["kind"] == "tls-cluster":
        args += ["--tls-cluster", "yes"]  # the bus too, and CLUSTER SLOTS names TLS ports
    if is_cluster(state["kind"]):
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "3000",
                 # One master down must not take the other slots down with it.
                 "--cluster-require-full-coverage", "no"]
    return args


def launch(state, node):
    """Starts one server on node["port"]; False if it could not bind it."""
    log = open(os.path.join(node["dir"], "redis.log"), "ab")
    proc = subprocess.Popen(["redis-server"] + server_args(state, node), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    node["pid"] = proc.pid
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        # Our own process must answer, not another one that won a race for the port.
        if f"process_id:{proc.pid}" in cli(state, node, "info", "server", timeout=2):
            return True
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"redis-server on port {node['port']} not ready in {READY_DEADLINE}s")


def start_node(state, node):
    for _ in range(50):
        if launch(state, node):
            return
        if "port_fixed" in node:
            raise SystemExit(f"cannot restart redis-server on port {node['port']}")
        node["port"] = pick_port(is_cluster(state["kind"]))
    raise SystemExit("no free port for redis-server")


def make_certificates(directory, names):
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr = os.path.join(directory, "server.key"), os.path.join(directory, "server.csr")
    crt, ext = os.path.join(directory, "server.crt"), os.path.join(directory, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2",
        "-subj", "/CN=otpd test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt


def write_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def read_state(path):
    with open(path) as f:
        return json.load(f)


def kill_all(state):
    for node in state["nodes"]:
        pid = node.get("pid")
        if pid and alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)  # works on a SIGSTOPped server too
            except ProcessLookupError:
                pass
    for node in state["nodes"]:
        pid = node.get("pid")
        deadline = time.monotonic() + 10
        while pid and alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    shutil.rmtree(state["dir"], ignore_errors=True)


def wait_cluster(state):
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        infos = [cli(state, node, "cluster", "info") for node in state["nodes"]]
        if all("cluster_state:ok" in i and "cluster_slots_assigned:16384" in i
               and f"cluster_known_nodes:{len(state['nodes'])}" in i for i in infos):
            return
        time.sleep(0.1)
    raise SystemExit("redis cluster not ready: " + " | ".join(infos))


def cmd_start(args):
    state_path = os.path.abspath(args.state)
    os.makedirs(os.path.dirname(state_path), exist_ok=True)
    if os.path.exists(state_path):  # left by an earlier run: stop it first
        try:
            cmd_stop(args)
        except (OSError, ValueError):
            os.remove(state_path)
    directory = tempfile.mkdtemp(prefix=f"otpd-redis-{args.kind}-")
    state = {"kind": args.kind, "dir": directory, "nodes": [], "ca_file": "",
             "password": args.requirepass or "", "appendfsync": args.appendfsync}
    owner = args.owner_pid or os.getppid()
    try:
        if args.kind == "tls":
            # A name only, no IP address: a client that dials 127.0.0.1 must be refused.
            state["ca_file"] = make_certificates(directory, "DNS:localhost")
        elif args.kind == "tls-cluster":
            # Cluster nodes announce themselves by IP address.
            state["ca_file"] = make_certificates(directory, "DNS:localhost,IP:127.0.0.1")
        count = 3 if is_cluster(args.kind) else 1
        for i in range(count):
            node = {"dir": os.path.join(directory, f"node{i}"),
                    "port": pick_port(is_cluster(args.kind))}
            os.makedirs(node["dir"])
            state["nodes"].append(node)
            start_node(state, node)
            write_state(state_path, state)  # so a failure below still cleans up
        if is_cluster(args.kind):
            create = ["redis-cli", "--cluster", "create"]
            create += [f"127.0.0.1:{n['port']}" for n in state["nodes"]]
            create += ["--cluster-replicas", "0", "--cluster-yes"]
            if state["password"]:
                create += ["-a", state["password"], "--no-auth-warning"]
            if state["ca_file"]:
                create += ["--tls", "--cacert", state["ca_file"]]
            out = subprocess.run(create, capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise SystemExit("redis-cli --cluster create failed: " + out.stdout + out.stderr)
            wait_cluster(state)
            for node in state["nodes"]:
                node["port_fixed"] = True
    except BaseException:
        kill_all(state)
        if os.path.exists(state_path):
            os.remove(state_path)
        raise
    watchdog = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "watch", "--state", state_path,
         "--owner-pid", str(owner)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    state["watchdog_pid"] = watchdog.pid
    write_state(state_path, state)
    print(json.dumps(state))


def cmd_stop(args):
    if not os.path.exists(args.state):
        return
    state = read_state(args.state)
    pid = state.get("watchdog_pid")
    if pid and alive(pid):
        os.kill(pid, signal.SIGKILL)
    kill_all(state)
    os.remove(args.state)


def cmd_kill_node(args):
    state = read_state(args.state)
    node = state["nodes"][args.node]
    os.kill(node["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(node["pid"]):
        if time.monotonic() > deadline:
            raise SystemExit("redis-server did not die")
        time.sleep(0.02)


def cmd_start_node(args):
    state = read_state(args.state)
    node = state["nodes"][args.node]
    if alive(node["pid"]):
        raise SystemExit("that node is still running")
    start_node(state, node)
    write_state(args.state, state)
    if is_cluster(state["kind"]):
        wait_cluster(state)


def cmd_watch(args):
    started = time.monotonic()
    while True:
        time.sleep(0.5)
        if not os.path.exists(args.state):
            return  # stopped normally
        if alive(args.owner_pid) and time.monotonic() - started < MAX_LIFETIME:
            continue
        try:
            state = read_state(args.state)
            kill_all(state)
            os.remove(args.state)
        except (OSError, ValueError):
            pass
        return


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start")
    p.add_argument("kind", choices=["standalone", "tls", "cluster", "tls-cluster"])
    p.add_argument("--state", required=True)
    p.add_argument("--owner-pid", type=int, default=0)
    p.add_argument("--requirepass", default="")
    p.add_argument("--appendfsync", choices=["always", "everysec"], default=None)
    for name in ("stop", "kill-node", "start-node", "watch"):
        p = sub.add_parser(name)
        p.add_argument("--state", required=True)
        if name in ("kill-node", "start-node"):
            p.add_argument("--node", type=int, required=True)
        if name == "watch":
            p.add_argument("--owner-pid", type=int, required=True)
    args = parser.parse_args()
    {"start": cmd_start, "stop": cmd_stop, "kill-node": cmd_kill_node,
     "start-node": cmd_start_node, "watch": cmd_watch}[args.command](args)


if __name__ == "__main__":
    main()
