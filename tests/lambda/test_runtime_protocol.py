"""The custom runtime's side of the Lambda Runtime API: how it starts (as `bootstrap`, or
whenever AWS_LAMBDA_RUNTIME_API is set), where its config comes from, what a failed start
posts, and what malformed or oversized events get."""

from __future__ import annotations

import os
import signal

import pytest

import events
from lambda_process import SECRET


def test_started_as_otpd_with_the_runtime_api_set(make_function):
    f = make_function(argv0="otpd")
    assert f.call("2.0", "GET", "/healthz", tenant=None).status == 200


def test_bootstrap_without_the_runtime_api_says_so(make_function):
    f = make_function(start=False)
    del f.env["AWS_LAMBDA_RUNTIME_API"]
    f.start()
    assert f.wait_exit() == 1
    assert "AWS_LAMBDA_RUNTIME_API is not set" in f.logs()


def test_plain_otpd_without_the_runtime_api_is_the_cli(otpd_bin, tmp_path):
    import subprocess
    out = subprocess.run([otpd_bin, "version"], capture_output=True, text=True, timeout=10,
                         env={"PATH": "/usr/bin"})
    assert out.returncode == 0 and out.stdout.startswith("otpd ")


def test_config_from_one_environment_variable(make_function):
    f = make_function(config_in_env=True)
    assert f.call("1.0", "POST", "/v1/otp/send", body={"to": "gina@example.com"}).status == 201


def test_config_file_and_config_variable_together_are_refused(make_function):
    f = make_function(start=False)
    f.env["OTPD_CONFIG_TOML"] = (f.workdir / "otpd.toml").read_text()
    f.start()
    assert "set either OTPD_CONFIG or OTPD_CONFIG_TOML" in f.api.wait_init_error().json()["errorMessage"]
    assert f.wait_exit() == 78


def test_packaged_config_file_is_the_default(make_function):
    # Without OTPD_CONFIG, /var/task/otpd.toml: absent here, so the defaults apply, and they
    # have no API keys, which Lambda mode refuses.
    f = make_function(start=False)
    f.env.pop("OTPD_CONFIG")
    f.start()
    assert "refuses protected mode" in f.api.wait_init_error().json()["errorMessage"]


def test_environment_overrides_the_config_file(make_function):
    f = make_function(env={"OTPD_SECRETS": "another-secret-of-enough-length", "OTPD_LOG_LEVEL": "warn"})
    assert f.call("2.0", "GET", "/healthz", tenant=None).status == 200
    assert '"msg":"request"' not in f.logs()  # info lines are off at warn


@pytest.mark.parametrize("change, message", [
    ({"tenants": {"acme": {"code_length": 99}}}, "tenants.acme.code_length"),
    ({"secrets": []}, "secrets: Lambda mode needs the server secrets"),
    ({"tenants": {"acme": {"channels": {"console": {}}}}}, "channels.console"),
])
def test_bad_config_posts_an_init_error(make_function, change, message):
    f = make_function(config=change)
    error = f.api.wait_init_error()
    doc = error.json()
    assert doc["errorType"] == "otpd.ConfigError"
    assert message in doc["errorMessage"]
    assert error.headers["lambda-runtime-function-error-type"] == "otpd.ConfigError"
    assert f.wait_exit() == 78
    assert f.api.next_calls == 0


def test_protected_mode_is_refused(make_function):
    f = make_function(start=False)
    for tenant in f.config["tenants"].values():
        tenant["api_keys"] = []
    f.config["tenants"]["acme"]["api_keys"] = []
    from harness import to_toml
    (f.workdir / "otpd.toml").write_text(to_toml(f.config))
    f.start()
    assert "refuses protected mode" in f.api.wait_init_error().json()["errorMessage"]
    assert f.wait_exit() == 78


def test_unreachable_store_posts_a_start_error(make_function):
    f = make_function(env={"OTPD_STORE": "sqlite:///proc/no/such/dir/otpd.db"})
    doc = f.api.wait_init_error().json()
    assert doc["errorType"] == "otpd.StartError"
    assert f.wait_exit() == 1


@pytest.mark.parametrize("payload, fragment", [
    (b"{malformed", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"Records":[{"eventSource":"aws:sqs","body":"x"}]}', "no version and no httpMethod"),
    (b'{"version":"2.0","rawPath":"/healthz","requestContext":{"http":{}}}',
     "requestContext.http.method: missing"),
])
def test_malformed_events_are_invocation_errors(function, payload, fragment):
    result = function.api.invoke(payload)
    assert result.kind == "error"
    doc = result.json()
    assert doc["errorType"] == "otpd.InvalidEvent"
    assert fragment in doc["errorMessage"]
    # And the runtime goes on.
    assert function.call("2.0", "GET", "/healthz", tenant=None).status == 200
    assert function.proc.poll() is None


def test_event_over_the_bound_gets_a_413(function):
    event = events.http_v2("POST", "/v1/otp/send", body="x" * (7 * 1024 * 1024 + 1))
    answer = function.invoke(event)
    assert answer.status == 413
    assert set(answer.doc) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert function.call("2.0", "GET", "/healthz", tenant=None).status == 200


def test_runtime_exits_when_the_runtime_api_goes_away(function):
    assert function.call("2.0", "GET", "/healthz", tenant=None).status == 200
    function.api.close()
    assert function.wait_exit() == 1


def test_sigterm_stops_it(function):
    assert function.call("2.0", "GET", "/healthz", tenant=None).status == 200
    function.proc.send_signal(signal.SIGTERM)
    assert function.wait_exit() == 0
