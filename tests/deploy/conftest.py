"""pytest wiring for tests/deploy, the checks of otpd's deployment recipes and release
metadata: the --build-dir option (where otpd and otp were built) and small helpers.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/deploy --build-dir=build
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption("--build-dir", action="store", default=str(REPO / "build"),
                     help="CMake build directory holding bin/otpd and bin/otp (default: build)")


@pytest.fixture(scope="session")
def build_dir(pytestconfig) -> pathlib.Path:
    return pathlib.Path(pytestconfig.getoption("--build-dir")).resolve()


def _binary(build_dir: pathlib.Path, name: str) -> pathlib.Path:
    path = build_dir / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (cmake --build {build_dir} --target otpd otp)")
    return path


@pytest.fixture(scope="session")
def otpd_bin(build_dir) -> pathlib.Path:
    return _binary(build_dir, "otpd")


@pytest.fixture(scope="session")
def otp_bin(build_dir) -> pathlib.Path:
    return _binary(build_dir, "otp")


def require_tool(name: str, package: str) -> str:
    """The path of a tool that scripts/install-deps --test installs; a clear failure if absent."""
    path = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}")
                                       if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.fail(f"{name} is missing: scripts/install-deps --test installs {package}")
    return path


def run(args, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in args], **kw)


def store_init_with(otpd_bin, config: pathlib.Path, data_dir: pathlib.Path) -> subprocess.CompletedProcess:
    """Loads `config` the way serve does (file + environment) and creates its store, with the
    data directory and store moved to `data_dir`: proves a shipped config parses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update({"OTPD_DATA_DIR": str(data_dir), "OTPD_STORE": f"sqlite://{data_dir}/otpd.db"})
    return run([otpd_bin, "store", "init", "--config", config], env=env)
