"""Operations endpoints: /healthz, /readyz, /metrics, /v1/openapi.json (the API reference (docs/api.md))."""

import re

from harness import assert_json, media_type, new_email, send_and_code, wrong_code

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def parse_metrics(text):
    samples, types = [], {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = {}
        if m.group(3):
            rest = m.group(3)
            pos = 0
            while pos < len(rest):
                lm = LABEL.match(rest, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        value = m.group(4)
        assert re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN", value), line
        samples.append((m.group(1), labels, value))
    return samples, types


def test_health_and_readiness(server):
    api = server.anon()
    assert api.get("/healthz").status == 200
    assert api.get("/readyz").status == 200


def test_metrics(server, acme, acme_hook):
    to = new_email()
    body, code = send_and_code(acme, acme_hook, to)
    vid = body["id"]
    acme.verify({"id": vid, "code": wrong_code(code)})
    acme.verify({"id": vid, "code": code})
    acme.status(vid)
    acme.get("/nope")
    r = server.anon().get("/metrics")
    assert r.status == 200, r
    assert media_type(r.header("Content-Type")) in ("text/plain", "application/openmetrics-text"), r.headers
    text = r.text
    samples, types = parse_metrics(text)
    names = {n for n, _, _ in samples}

    # requests by route and status
    req = [(n, l) for n, l, _ in samples if "request" in n and "201" in l.values()
           and any("send" in v for v in l.values())]
    assert req, "no request counter labelled with the send route and status 201"
    # latency histogram(s)
    hist = [n for n, t in types.items() if t == "histogram"]
    assert hist, "no histogram TYPE line"
    for h in hist:
        assert f"{h}_count" in names and f"{h}_sum" in names, h
        buckets = [l for n, l, _ in samples if n == f"{h}_bucket"]
        assert buckets and all("le" in l for l in buckets), h
        assert any(l["le"] == "+Inf" for l in buckets), h
    assert any(n.endswith("_bucket") for n in names)
    # sends by channel (and outcome), verifications by outcome
    assert any("send" in n and "webhook" in l.values() for n, l, _ in samples), "no sends-by-channel metric"
    verif = [l for n, l, _ in samples if "verif" in n]
    assert any("approved" in l.values() for l in verif), "no verifications{outcome=approved}"
    assert any(any("invalid" in v for v in l.values()) for l in verif), "no verifications{outcome=invalid_code}"
    # delivery queue depth, store latency
    assert any("queue" in n for n in names), "no delivery queue depth metric"
    assert any("store" in n for n in names), "no store latency metric"
    # nothing secret or high-cardinality in labels
    for secret in (code, to, to.split("@")[0], server.keys["acme"], "whsec_test_0123456789", vid):
        assert secret not in text, f"{secret!r} appears in /metrics"


def test_openapi(server):
    r = server.anon().get("/v1/openapi.json")
    doc = assert_json(r, 200)
    assert isinstance(doc.get("openapi"), str) and re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc.get("openapi")
    assert isinstance(doc.get("info"), dict) and doc["info"].get("title") and doc["info"].get("version")
    paths = doc.get("paths")
    assert isinstance(paths, dict)
    assert "post" in paths["/v1/otp/send"]
    assert "post" in paths["/v1/otp/verify"]
    assert any(re.fullmatch(r"/v1/otp/\{[^}]+\}", p) and "get" in v for p, v in paths.items()), list(paths)
    assert any(re.fullmatch(r"/v1/otp/\{[^}]+\}/cancel", p) and "post" in v for p, v in paths.items()), list(paths)
