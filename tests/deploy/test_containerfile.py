"""deploy/container/Containerfile, checked without a container engine (there is none here):
a Dockerfile linter (dockerfile-utils, pinned in tests/deploy/package-lock.json) finds
nothing, every apt package it installs exists in Debian 12, the runtime stage installs the
package of every shared library otpd and otp link, and its shape (stages, user, volume,
health check, entrypoint) is what docs/operations.md describes."""

from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest

from conftest import REPO, run, store_init_with

CONTAINERFILE = REPO / "deploy" / "container" / "Containerfile"
CONTAINER_CONFIG = REPO / "deploy" / "container" / "otpd.toml"
HERE = pathlib.Path(__file__).resolve().parent


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def apt_packages(run_args: str) -> list[str]:
    m = re.search(r"apt-get install (.*?)(?:&&|$)", run_args)
    assert m, run_args
    return [w for w in m.group(1).split() if not w.startswith("-")]


def install_deps_base_packages() -> list[str]:
    # The list the script installs without flags, read by bash itself.
    r = run(["bash", "-c", 'eval "$(sed -n "/^packages=(/,/^)/p" scripts/install-deps)"; '
                           'printf "%s\\n" "${packages[@]}"'], cwd=REPO)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def apt_cache_missing(packages: list[str]) -> set[str]:
    """The packages apt-cache knows nothing about (one call for all of them)."""
    r = run(["apt-cache", "show", "--no-all-versions", *packages])
    found = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    return set(packages) - found


@pytest.fixture(scope="module")
def linter() -> pathlib.Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Dockerfile linter (dockerfile-utils) runs on Node.js")
    marker = HERE / "node_modules" / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if not marker.exists() or lock.stat().st_mtime > marker.stat().st_mtime:
        r = run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    return HERE / "node_modules" / ".bin" / "dockerfile-utils"


def test_linter_finds_nothing(linter):
    r = run([linter, "lint", CONTAINERFILE])
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_linter_would_catch_a_mistake(linter, tmp_path):
    bad = tmp_path / "Containerfile"
    bad.write_text(CONTAINERFILE.read_text().replace("HEALTHCHECK --interval", "HEALTHCHEK --interval"))
    r = run([linter, "lint", bad])
    assert r.returncode != 0 and "Unknown instruction" in r.stdout, r.stdout


def test_two_stages_on_debian_12():
    build, runtime = stages(CONTAINERFILE.read_text())
    assert build[0] == ("FROM", "debian:12 AS build")
    assert runtime[0] == ("FROM", "debian:12-slim")


def test_build_stage_uses_install_deps_without_test_packages():
    build = stages(CONTAINERFILE.read_text())[0]
    runs = [args for word, args in build if word == "RUN"]
    assert any(args.startswith("./scripts/install-deps &&") for args in runs), runs
    assert not any("--test" in args for args in runs), runs
    assert any("-DOTPD_BUILD_TESTS=OFF" in args and "--target otpd otp" in args for args in runs), runs


def test_every_apt_package_exists_in_debian_12():
    runtime = stages(CONTAINERFILE.read_text())[1]
    packages = install_deps_base_packages()
    packages += [p for word, args in runtime if word == "RUN" and "apt-get install" in args
                 for p in apt_packages(args)]
    assert len(packages) > 10, packages
    missing = apt_cache_missing(packages)
    assert missing == set(), f"not in this machine's Debian 12 archive (apt-get update?): {missing}"
    # The check itself can fail.
    assert apt_cache_missing(["libssl3", "libssl-does-not-exist"]) == {"libssl-does-not-exist"}


def build_type(build_dir) -> str:
    cache = build_dir / "CMakeCache.txt"
    text = cache.read_text() if cache.exists() else ""
    found = re.search(r"^CMAKE_BUILD_TYPE:STRING=(\S*)$", text, re.M)
    return found.group(1) if found else ""


def test_runtime_stage_has_every_shared_library(otpd_bin, otp_bin, build_dir):
    runtime = stages(CONTAINERFILE.read_text())[1]
    installed = {p for word, args in runtime if word == "RUN" and "apt-get install" in args
                 for p in apt_packages(args)}
    libs = set()
    for binary in (otpd_bin, otp_bin):
        r = run(["ldd", binary])
        assert r.returncode == 0, r.stderr
        # A sanitizer build (make test-asan) links its runtime; the image ships a release build.
        libs.update(lib for lib in re.findall(r"=> (/\S+)", r.stdout)
                    if not re.search(r"/lib(a|ub|t|l)san\.so", lib))
    if build_type(build_dir) == "Debug":
        # At -O0 Boost.JSON calls Boost.Container's memory resource instead of inlining it
        # (the sanitizer builds); the image ships a RelWithDebInfo build, which does not.
        libs = {lib for lib in libs if "libboost_container" not in lib}
    assert len(libs) >= 5, libs
    # Debian 12 merged /lib into /usr/lib: dpkg knows a library under one of its names.
    names = {lib: {lib, os.path.realpath(lib), "/usr" + lib if lib.startswith("/lib") else lib} for lib in libs}
    r = run(["dpkg", "-S", *sorted(set().union(*names.values()))])
    owner_of = {}
    for line in r.stdout.splitlines():
        package, _, path = line.partition(": ")
        owner_of[path.strip()] = package.split(":")[0]
    needed = set()
    for lib, candidates in names.items():
        owners = {owner_of[c] for c in candidates if c in owner_of}
        assert owners, f"no Debian package owns {lib}"
        needed |= owners
    needed.discard("libc6")  # in every Debian image
    assert needed - installed == set(), f"the runtime stage lacks {sorted(needed - installed)}"


def test_runs_otpd_serve_as_a_non_root_user_with_a_data_volume_and_health_check():
    runtime = dict((word, args) for word, args in stages(CONTAINERFILE.read_text())[1])
    assert runtime["USER"] not in ("root", "0")
    assert "useradd --system --uid 10001" in CONTAINERFILE.read_text()
    assert runtime["VOLUME"] == '["/var/lib/otpd"]'
    assert runtime["ENTRYPOINT"] == '["/usr/local/bin/otpd", "serve"]'
    assert runtime["CMD"] == '["--config", "/etc/otpd/otpd.toml"]'
    assert "http://127.0.0.1:8080/healthz" in runtime["HEALTHCHECK"] and "--fail" in runtime["HEALTHCHECK"]
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    config = CONTAINER_CONFIG.read_text()
    assert 'data_dir = "/var/lib/otpd"' in config and 'listen = "0.0.0.0:8080"' in config


def test_the_images_config_parses(otpd_bin, tmp_path):
    r = store_init_with(otpd_bin, CONTAINER_CONFIG, tmp_path / "data")
    assert r.returncode == 0, r.stderr


def test_build_context_leaves_local_builds_out():
    ignore = (REPO / ".dockerignore").read_text().split()
    for entry in ("build", "build-*", ".git", "node_modules"):
        assert entry in ignore, entry
