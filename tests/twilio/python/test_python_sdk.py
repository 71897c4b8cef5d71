"""Twilio's Python SDK (Debian's python3-twilio) against the real otpd: the one-line change
of the README (`client.verify.base_url = …`), a sign-up style flow, and TwilioRestException
carrying Twilio's code and status."""

from __future__ import annotations

import re
import secrets

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from harness import Otpd, Receiver, new_phone, sha256_hex

ACCOUNT_SID = "AC" + secrets.token_hex(16)
AUTH_TOKEN = secrets.token_hex(16)
SERVICE_SID = "VA" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def server(otpd_bin, tmp_path_factory):
    sms_peer = Receiver()
    workdir = tmp_path_factory.mktemp("otpd")
    data = str(workdir / "data")
    config = {
        "listen": "127.0.0.1:0",
        "data_dir": data,
        "log_level": "warn",
        "twilio": {"account_sid": ACCOUNT_SID, "auth_tokens": [f"sha256:{sha256_hex(AUTH_TOKEN)}"]},
        "tenants": {"shop": {
            "twilio_service_sid": SERVICE_SID,
            "channels": {"sms": {"provider": "twilio", "account_sid": "AC1", "auth_token": "peer",
                                 "from": "+15005550006", "base_url": sms_peer.base_url}},
        }},
    }
    srv = Otpd(otpd_bin, str(workdir), config)
    srv.start()
    srv.sms_peer = sms_peer
    yield srv
    srv.stop()
    sms_peer.close()


def client_for(server, auth_token=AUTH_TOKEN) -> Client:
    client = Client(ACCOUNT_SID, auth_token)
    client.verify.base_url = f"http://127.0.0.1:{server.port}"  # the one line that changes
    return client


def sms_code(server, to: str, nth: int = 0) -> str:
    hits = server.sms_peer.wait_hits(
        lambda h: h.path.endswith("/Messages.json") and h.form.get("To") == to, nth + 1)
    return re.search(r"\d{6}", hits[nth].form["Body"]).group(0)


def test_create_check_wrong_right_again(server):
    service = client_for(server).verify.v2.services(SERVICE_SID)
    to = new_phone()
    v = service.verifications.create(to=to, channel="sms")
    assert re.fullmatch(r"VE[0-9a-f]{32}", v.sid)
    assert v.status == "pending" and v.channel == "sms" and v.service_sid == SERVICE_SID
    assert v.date_created is not None and v.date_created.year >= 2020
    code = sms_code(server, to)
    wrong = service.verification_checks.create(to=to, code="000000" if code != "000000" else "111111")
    assert wrong.status == "pending" and wrong.valid is False
    right = service.verification_checks.create(to=to, code=code)
    assert right.status == "approved" and right.valid is True
    with pytest.raises(TwilioRestException) as e:
        service.verification_checks.create(to=to, code=code)
    assert e.value.status == 404 and e.value.code == 20404


def test_cancel_fetch_and_errors(server):
    service = client_for(server).verify.v2.services(SERVICE_SID)
    v = service.verifications.create(to=new_phone(), channel="sms")
    assert service.verifications(v.sid).fetch().status == "pending"
    assert service.verifications(v.sid).update(status="canceled").status == "canceled"
    with pytest.raises(TwilioRestException) as e:
        service.verifications(v.sid).fetch()
    assert (e.value.status, e.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as e:
        service.verifications.create(to="nobody", channel="sms")
    assert (e.value.status, e.value.code) == (400, 60200)
    with pytest.raises(TwilioRestException) as e:
        service.verifications.create(to=new_phone(), channel="whatsapp")
    assert (e.value.status, e.value.code) == (400, 60223)
    with pytest.raises(TwilioRestException) as e:
        client_for(server, "wrong-token").verify.v2.services(SERVICE_SID).fetch()
    assert (e.value.status, e.value.code) == (401, 20003)


def test_services_listing(server):
    services = client_for(server).verify.v2.services.list(page_size=1)
    assert [s.sid for s in services] == [SERVICE_SID]
    assert services[0].code_length == 6
