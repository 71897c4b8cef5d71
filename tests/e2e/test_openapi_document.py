"""docs/openapi.json is what otpd serves, and it describes the answers every route can get
from the listener and the router (the statuses Prism's proxy cannot provoke: malformed HTTP,
slow headers, oversized requests, a connection cap, an internal error)."""

import json
import pathlib

from harness import assert_json

DOCUMENT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
LISTENER = {"400", "408", "413", "431", "500", "503"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _doc() -> dict:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def _operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS & item.keys():
            yield path, method, item[method]


def _resolve(doc, node):
    while "$ref" in node:
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/")]
        node = target
    return node


def test_served_document_is_the_repository_one(server):
    # Embedded at build time: a build older than the document would serve another one.
    assert assert_json(server.anon().get("/v1/openapi.json"), 200) == _doc()


def test_every_operation_lists_the_listener_answers():
    doc = _doc()
    for path, method, op in _operations(doc):
        missing = LISTENER - op["responses"].keys()
        assert not missing, f"{method.upper()} {path} lacks {sorted(missing)}"
        if path.startswith("/v1/otp/") and op.get("security") != []:
            assert {"401", "429"} <= op["responses"].keys(), f"{method.upper()} {path}"
        for status, response in op["responses"].items():
            headers = _resolve(doc, response).get("headers", {})
            assert "X-Request-Id" in headers, f"{method.upper()} {path} {status} without X-Request-Id"


def test_every_route_describes_get_and_post():
    # A client's likeliest wrong method is the other one of the two: it answers 405 with Allow.
    doc = _doc()
    for path, item in doc["paths"].items():
        assert {"get", "post"} <= item.keys(), path
        for method in ("get", "post"):
            op = item[method]
            if "405" in op["responses"]:
                response = _resolve(doc, op["responses"]["405"])
                assert response["headers"]["Allow"]["required"] is True, path
                assert set(op["responses"]) == LISTENER | {"405"}, (method, path)
