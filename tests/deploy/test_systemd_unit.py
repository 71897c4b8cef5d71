"""deploy/systemd/otpd.service and otpd.sysusers: systemd's own checker accepts them without
a warning, the hardening the operations guide promises is there (and systemd-analyze
security rates it), and the stop timeout covers otpd's drain."""

import re

import pytest

from conftest import REPO, require_tool, run

UNIT = REPO / "deploy" / "systemd" / "otpd.service"
SYSUSERS = REPO / "deploy" / "systemd" / "otpd.sysusers"


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.fixture
def unit_for_host(tmp_path, otpd_bin):
    """The unit with ExecStart pointing at the built binary: verify checks it is executable."""
    text = UNIT.read_text()
    assert text.count("/usr/local/bin/otpd") == 1
    path = tmp_path / "otpd.service"
    path.write_text(text.replace("/usr/local/bin/otpd", str(otpd_bin)))
    return path


def test_systemd_analyze_verify_is_clean(unit_for_host):
    analyze = require_tool("systemd-analyze", "systemd")
    r = run([analyze, "verify", "--man=no", unit_for_host])
    # verify exits 0 on unknown keys and only warns: any output is a finding.
    assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", (r.stdout, r.stderr)


def test_verify_would_catch_a_typo(unit_for_host):
    analyze = require_tool("systemd-analyze", "systemd")
    unit_for_host.write_text(unit_for_host.read_text().replace("RestartSec=", "RestartSecc="))
    r = run([analyze, "verify", "--man=no", unit_for_host])
    assert "Unknown key" in r.stderr, r.stderr


def test_hardening_directives():
    d = directives(UNIT.read_text())
    expected = {
        "User": "otpd", "Group": "otpd", "StateDirectory": "otpd", "StateDirectoryMode": "0700",
        "ConfigurationDirectory": "otpd", "ProtectSystem": "strict", "ProtectHome": "yes",
        "NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "Restart": "on-failure", "KillSignal": "SIGTERM", "CapabilityBoundingSet": "",
        "UMask": "0077", "RestartPreventExitStatus": "78",
    }
    for key, value in expected.items():
        assert d.get(key) == [value], (key, d.get(key))
    assert d["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "@system-service" in d["SystemCallFilter"]
    assert re.fullmatch(r"/\S+/otpd serve --config /\S+/otpd\.toml", d["ExecStart"][0]), d["ExecStart"]


def test_stop_timeout_covers_the_drain():
    serve = (REPO / "src" / "app" / "serve.cpp").read_text()
    m = re.search(r"kDrainLimit\s*=\s*std::chrono::seconds\((\d+)\)", serve)
    assert m, "serve.cpp no longer states kDrainLimit in seconds: update this test"
    drain = int(m.group(1))
    timeout = directives(UNIT.read_text())["TimeoutStopSec"][0]
    assert re.fullmatch(r"\d+", timeout), timeout
    assert int(timeout) >= drain + 5, f"TimeoutStopSec={timeout} leaves no margin over the {drain} s drain"


def test_security_exposure_stays_low(unit_for_host):
    analyze = require_tool("systemd-analyze", "systemd")
    r = run([analyze, "security", "--offline=yes", "--no-pager", unit_for_host])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    assert m, (r.stdout[-2000:], r.stderr)
    assert float(m.group(1)) <= 2.0, r.stdout[-3000:]


def test_sysusers_entry_creates_the_units_user(tmp_path):
    sysusers = require_tool("systemd-sysusers", "systemd")
    (tmp_path / "etc").mkdir()
    for name in ("passwd", "group"):
        (tmp_path / "etc" / name).write_text("root:x:0:0::/root:/bin/sh\n" if name == "passwd" else "root:x:0:\n")
    r = run([sysusers, f"--root={tmp_path}", "--dry-run", SYSUSERS])
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "Creating user 'otpd'" in out and "garbage" not in out and "Unknown" not in out, out
    assert directives(UNIT.read_text())["User"] == ["otpd"]
