"""`make install` into a temporary DESTDIR, as a packager runs it: PREFIX and DESTDIR are
honoured, both binaries, man pages made from --help, the systemd unit naming the installed
paths (and passing systemd-analyze verify), the sysusers entry, the docs, and a default
config that parses and is never installed over the operator's own."""

from __future__ import annotations

import os
import pathlib
import re
import stat

import pytest

from conftest import REPO, require_tool, run, store_init_with


def make_install(build_dir: pathlib.Path, destdir: pathlib.Path, prefix: str):
    name = build_dir.name
    if build_dir.parent != REPO or not (name == "build" or name.startswith("build-")):
        pytest.skip(f"{build_dir} is not one of the Makefile's build directories")
    preset = "default" if name == "build" else name[len("build-"):]
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "PREFIX", "MAKEFLAGS")}
    r = run(["make", "--no-print-directory", "-C", REPO, "install", f"PRESET={preset}", f"PREFIX={prefix}",
             f"DESTDIR={destdir}", "JOBS=2"], env=env, timeout=900)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def usr_root(build_dir, tmp_path_factory):
    destdir = tmp_path_factory.mktemp("destdir-usr")
    make_install(build_dir, destdir, "/usr")
    return destdir


@pytest.fixture(scope="module")
def local_root(build_dir, tmp_path_factory):
    destdir = tmp_path_factory.mktemp("destdir-local")
    make_install(build_dir, destdir, "/usr/local")
    return destdir


def test_binaries_are_installed_under_the_prefix(usr_root, local_root):
    for root, bindir in ((usr_root, "usr/bin"), (local_root, "usr/local/bin")):
        for name in ("otpd", "otp"):
            path = root / bindir / name
            assert path.is_file() and os.access(path, os.X_OK), path
            r = run([path, "--version"])
            assert r.returncode == 0 and r.stdout.startswith(f"{name} "), r
    # Nothing lands outside DESTDIR's prefix tree and /etc.
    tops = {p.name for p in usr_root.iterdir()}
    assert tops <= {"usr", "etc"}, tops


def test_unit_names_the_installed_paths_and_verifies(usr_root, local_root, tmp_path):
    analyze = require_tool("systemd-analyze", "systemd")
    for root, prefix, confdir in ((usr_root, "/usr", "/etc/otpd"),
                                  (local_root, "/usr/local", "/usr/local/etc/otpd")):
        bindir = f"{prefix}/bin"
        unit = root / prefix.lstrip("/") / "lib/systemd/system/otpd.service"
        text = unit.read_text()
        assert f"ExecStart={bindir}/otpd serve --config {confdir}/otpd.toml\n" in text, text
        # The installed binary stands in for the path it will have once DESTDIR is gone.
        check = tmp_path / f"otpd-{root.name}.service"
        check.write_text(text.replace(f"ExecStart={bindir}/otpd", f"ExecStart={root}{bindir}/otpd"))
        r = run([analyze, "verify", "--man=no", check])
        assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stderr
    sysusers = usr_root / "usr/lib/sysusers.d/otpd.conf"
    assert sysusers.read_text() == (REPO / "deploy/systemd/otpd.sysusers").read_text()


def test_default_config_is_installed_private_and_parses(usr_root, local_root, otpd_bin, tmp_path):
    for config in (usr_root / "etc/otpd/otpd.toml", local_root / "usr/local/etc/otpd/otpd.toml"):
        assert config.read_text() == (REPO / "deploy/systemd/otpd.toml").read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o640, oct(config.stat().st_mode)
    r = store_init_with(otpd_bin, usr_root / "etc/otpd/otpd.toml", tmp_path / "data")
    assert r.returncode == 0, r.stderr


def test_an_existing_config_is_kept(build_dir, tmp_path):
    config = tmp_path / "etc/otpd/otpd.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# mine\n")
    r = make_install(build_dir, tmp_path, "/usr")
    assert config.read_text() == "# mine\n"
    assert "Kept (exists)" in r.stdout


def test_man_pages_come_from_the_help_texts(usr_root):
    for name, commands, options in (("otpd", ["serve", "store init", "key new", "version"], ["--config"]),
                                    ("otp", ["send", "verify", "status", "login"], ["--api-key", "--json"])):
        page = (usr_root / "usr/share/man/man1" / f"{name}.1").read_text()
        assert re.search(rf'^\.TH {name.upper()} "1" .*"{name} 0\.1\.0"', page, re.M), page[:400]
        assert ".SH COMMANDS" in page
        for command in commands:
            assert f'.SS "{command}"' in page, command
        for option in options:
            assert option.replace("-", "\\-") in page or option in page, option


def test_docs_are_installed(usr_root):
    doc = usr_root / "usr/share/doc/otpd"
    for name in ("README.md", "CHANGELOG.md", "operations.md", "otpd.conf", "LICENSE"):
        assert (doc / name).is_file(), name
