"""The Lambda deployment package (`make lambda`, deploy/aws/package_lambda.py): built from the
binary under test, unpacked where Lambda puts it (/var/task) in an otherwise empty root, and
run there with chroot against the Runtime API emulator: nothing of this machine's /lib or
/usr is reachable, as on Amazon Linux 2023 nothing of Debian is."""

from __future__ import annotations

import http.server
import json
import os
import pathlib
import re
import shutil
import ssl
import subprocess
import threading
import zipfile

import pytest

import events

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGER = REPO / "deploy" / "aws" / "package_lambda.py"


@pytest.fixture(scope="module")
def lambda_zip(otpd_bin, tmp_path_factory) -> pathlib.Path:
    if not shutil.which("patchelf"):
        pytest.fail("patchelf is missing: ./scripts/install-deps installs it")
    out = tmp_path_factory.mktemp("zip") / "otpd-lambda.zip"
    subprocess.run(["/usr/bin/python3", str(PACKAGER), "--binary", otpd_bin, "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    return out


def unpack(zip_path: pathlib.Path, task_root: pathlib.Path) -> None:
    """As Lambda does: the zip's files with the permissions it records."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            target = task_root / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
            target.chmod((info.external_attr >> 16) & 0o777)


def test_zip_layout(lambda_zip, tmp_path):
    with zipfile.ZipFile(lambda_zip) as z:
        infos = {i.filename: i for i in z.infolist()}
    assert "bootstrap" in infos
    assert (infos["bootstrap"].external_attr >> 16) & 0o111, "bootstrap must be executable"
    loaders = [n for n in infos if n.startswith("lib/ld-linux")]
    assert len(loaders) == 1
    assert (infos[loaders[0]].external_attr >> 16) & 0o111
    for name in ("lib/libc.so.6", "lib/libssl.so.3", "lib/libcrypto.so.3",
                 "lib/libsqlite3.so.0", "lib/MANIFEST"):
        assert name in infos, name
    assert all(not n.startswith("/") and ".." not in n for n in infos)

    unpack(lambda_zip, tmp_path)
    bootstrap = str(tmp_path / "bootstrap")
    interp = subprocess.run(["patchelf", "--print-interpreter", bootstrap], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert interp == "/var/task/" + loaders[0]
    dynamic = subprocess.run(["readelf", "-d", bootstrap], capture_output=True, text=True,
                             check=True).stdout
    assert "(RPATH)" in dynamic and "[/var/task/lib]" in dynamic
    # Every library the binary names is in the zip (a release build links the C++ runtime
    # and Boost in; a build that links them shared bundles them).
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed, dynamic
    for name in needed:
        assert "lib/" + name in infos, name
    sections = subprocess.run(["readelf", "-S", bootstrap], capture_output=True, text=True,
                              check=True).stdout
    assert ".debug_info" not in sections
    manifest = (tmp_path / "lib" / "MANIFEST").read_text()
    assert "libssl3" in manifest and "libc6" in manifest


def empty_root(lambda_zip, otpd_bin, tmp_path) -> pathlib.Path:
    if os.geteuid() != 0:
        pytest.skip("chroot needs root (CI and the development machines run the tests as root)")
    linked = subprocess.run(["ldd", otpd_bin], capture_output=True, text=True).stdout
    if "libasan" in linked or "libtsan" in linked:
        pytest.skip("a sanitizer runtime reads /proc, which the empty root has not; the "
                    "default (release) build runs this test")
    root = tmp_path / "root"
    unpack(lambda_zip, root / "var" / "task")
    (root / "tmp").mkdir()  # Lambda's only writable directory
    assert sorted(os.listdir(root)) == ["tmp", "var"]
    return root


def start_in(root: pathlib.Path, f) -> None:
    f.env = {k: v for k, v in f.env.items() if k != "PATH"}
    f.env["LAMBDA_TASK_ROOT"] = "/var/task"
    f.start(command=[shutil.which("chroot") or "/usr/sbin/chroot", str(root), "/var/task/bootstrap"])


def test_runs_in_an_empty_root(lambda_zip, make_function, otpd_bin, tmp_path):
    root = empty_root(lambda_zip, otpd_bin, tmp_path)

    # Nothing from the host: the config comes in the environment, the store lives in /tmp.
    f = make_function(start=False, config_in_env=True,
                      config={"store": "sqlite:///tmp/otpd.db"})
    start_in(root, f)

    sent = f.call("2.0", "POST", "/v1/otp/send", body={"to": "ivy@example.com"})
    assert sent.status == 201, (sent, f.logs())
    vid = sent.json()["id"]
    code = f.code_for(vid)
    ok = f.call("1.0", "POST", "/v1/otp/verify", body={"id": vid, "code": code})
    assert ok.status == 200, ok
    compat = f.invoke(events.rest_v1("GET", "/otp", query=[("email", "jo+1@example.com")]))
    assert (compat.status, compat.text) == (200, "otp send successfully")
    assert f.call("2.0", "GET", "/readyz", tenant=None).status == 200
    assert (root / "tmp" / "otpd.db").exists()
    assert f.proc.poll() is None, f.logs()


class TlsReceiver:
    """An HTTPS webhook receiver on 127.0.0.1 with a self-signed certificate for that address."""

    def __init__(self, directory: pathlib.Path):
        self.cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        self.bodies: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("trusted", [True, False])
def test_tls_trusts_amazon_linux_ca_bundle(lambda_zip, make_function, otpd_bin, tmp_path, trusted):
    """The bundled OpenSSL looks for CA certificates under Debian's /usr/lib/ssl, which Lambda
    has not: otpd points it at Amazon Linux 2023's bundle. Here that bundle holds the
    receiver's certificate alone, so a delivery over HTTPS succeeds only through it."""
    root = empty_root(lambda_zip, otpd_bin, tmp_path)
    receiver = TlsReceiver(tmp_path)
    try:
        if trusted:
            bundle = root / "etc" / "pki" / "tls" / "certs" / "ca-bundle.crt"
            bundle.parent.mkdir(parents=True)
            shutil.copyfile(receiver.cert, bundle)
        webhook = {"url": receiver.url, "secret": "whsec_test_0123456789"}
        f = make_function(start=False, config_in_env=True, config={
            "store": "sqlite:///tmp/otpd.db",
            "tenants": {"acme": {"channels": {"webhook": webhook}}}})
        start_in(root, f)
        sent = f.call("2.0", "POST", "/v1/otp/send", body={"to": "kim@example.com"})
        assert sent.status == 201, (sent, f.logs())
        vid = sent.json()["id"]
        # Delivery is inline: its outcome is known once the response is posted.
        status = f.call("2.0", "GET", f"/v1/otp/{vid}").json()
        if trusted:
            assert [b["id"] for b in receiver.bodies] == [vid]
            assert status["delivery"]["status"] == "sent", status
        else:
            assert receiver.bodies == []
            assert status["delivery"]["status"] != "sent", status
            assert "certificate verify failed" in f.logs()
    finally:
        receiver.close()
