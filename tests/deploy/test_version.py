"""One version number: CMake's project(VERSION) is what otpd and otp print and what the
changelog's newest release says; the OpenAPI document keeps the API's own version."""

import re

import check_version
from conftest import REPO


def test_every_place_agrees_with_cmake(build_dir, otpd_bin, otp_bin):
    assert check_version.problems(build_dir) == []


def test_the_version_comes_from_a_generated_header():
    template = (REPO / "src" / "app" / "version.hpp.in").read_text()
    assert "@PROJECT_VERSION@" in template
    assert re.search(r"^project\(otpd VERSION \d+\.\d+\.\d+", (REPO / "CMakeLists.txt").read_text(), re.M)


def test_a_mismatch_is_reported(build_dir, otpd_bin, otp_bin, monkeypatch):
    monkeypatch.setattr(check_version, "project_version", lambda: "9.9.9")
    found = check_version.problems(build_dir)
    assert any(p.startswith("otpd --version:") for p in found), found
    assert any(p.startswith("otp --version:") for p in found), found
    assert any(p.startswith("CHANGELOG.md") for p in found), found


def test_readme_and_docs_say_which_version_is_which():
    ops = (REPO / "docs" / "operations.md").read_text()
    assert "info.version" in ops and "1.0.0" in ops
