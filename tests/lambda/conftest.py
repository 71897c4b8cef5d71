"""pytest wiring for Lambda mode: the --otpd option and a `function` fixture that starts the
real binary as a Lambda custom runtime against the Runtime API emulator.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/lambda --otpd=build/bin/otpd
"""

from __future__ import annotations

import os
import pathlib

import pytest

from lambda_process import LambdaFunction

REPO = pathlib.Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    try:
        parser.addoption("--otpd", action="store",
                         default=os.environ.get("OTPD_BIN") or str(REPO / "build" / "bin" / "otpd"),
                         help="path to the otpd binary under test")
    except ValueError:  # tests/e2e's conftest already defined it (both directories at once)
        pass


@pytest.fixture(scope="session")
def otpd_bin(pytestconfig) -> str:
    path = pytestconfig.getoption("--otpd")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"otpd binary not found or not executable: {path} (use --otpd or $OTPD_BIN)")
    return os.path.abspath(path)


@pytest.fixture
def make_function(otpd_bin, tmp_path):
    made: list[LambdaFunction] = []

    def make(**kwargs) -> LambdaFunction:
        f = LambdaFunction(otpd_bin, tmp_path / f"fn{len(made)}", **kwargs)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


@pytest.fixture
def function(make_function) -> LambdaFunction:
    return make_function()
