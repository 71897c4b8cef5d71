"""pytest wiring for the Python SDK half of the Twilio compatibility tests: Debian's
python3-twilio against the real otpd, started by tests/e2e's harness (Otpd, and Receiver as
the fake Twilio Messages API behind the sms channel).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/twilio/python --otpd=build/bin/otpd
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "e2e"))


def pytest_addoption(parser):
    parser.addoption("--otpd", action="store",
                     default=os.environ.get("OTPD_BIN") or str(REPO / "build" / "bin" / "otpd"),
                     help="path to the otpd binary under test")


@pytest.fixture(scope="session")
def otpd_bin(pytestconfig) -> str:
    path = pytestconfig.getoption("--otpd")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"otpd binary not found or not executable: {path}")
    return os.path.abspath(path)
