#!/usr/bin/env python3
"""Checks that every place stating otpd's version agrees with CMake's project(VERSION):
`otpd version`, `otpd --version`, `otp --version`, the newest release in CHANGELOG.md and
the man pages' source; and that the OpenAPI document keeps its own API version (1.0.0).
Used by `make version` and by tests/deploy/test_version.py. Exit status 1 on a mismatch."""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
API_VERSION = "1.0.0"


def project_version() -> str:
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*otpd\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", text)
    if not m:
        raise SystemExit("CMakeLists.txt: no project(otpd VERSION x.y.z)")
    return m.group(1)


def changelog_version() -> str:
    for line in (REPO / "CHANGELOG.md").read_text().splitlines():
        m = re.match(r"## \[([0-9]+\.[0-9]+\.[0-9]+)\] - \d{4}-\d{2}-\d{2}$", line)
        if m:
            return m.group(1)
    raise SystemExit("CHANGELOG.md: no '## [x.y.z] - YYYY-MM-DD' release heading")


def output(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def problems(build_dir: pathlib.Path) -> list[str]:
    want = project_version()
    found = {
        "CHANGELOG.md newest release": changelog_version(),
        "otpd version": output([str(build_dir / "bin" / "otpd"), "version"]),
        "otpd --version": output([str(build_dir / "bin" / "otpd"), "--version"]),
        "otp --version": output([str(build_dir / "bin" / "otp"), "--version"]),
    }
    expected = {
        "CHANGELOG.md newest release": want,
        "otpd version": f"otpd {want}",
        "otpd --version": f"otpd {want}",
        "otp --version": f"otp {want}",
    }
    out = [f"{where}: {found[where]!r}, expected {expected[where]!r}"
           for where in found if found[where] != expected[where]]
    api = json.loads((REPO / "docs" / "openapi.json").read_text())["info"]["version"]
    if api != API_VERSION:
        out.append(f"docs/openapi.json info.version: {api!r}, expected the API version {API_VERSION!r}")
    # The release version lives in CMakeLists.txt only: no source file repeats it.
    literal = re.compile(r'"(?:otpd |otp )?' + re.escape(want) + r'"')
    for path in list((REPO / "src").rglob("*.cpp")) + list((REPO / "src").rglob("*.hpp")):
        if literal.search(path.read_text(errors="replace")):
            out.append(f"{path.relative_to(REPO)}: repeats the version {want} as a literal")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", default=str(REPO / "build"))
    args = parser.parse_args()
    found = problems(pathlib.Path(args.build_dir))
    for p in found:
        print(f"version: {p}", file=sys.stderr)
    if not found:
        print(f"version: {project_version()} everywhere (HTTP API {API_VERSION})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
