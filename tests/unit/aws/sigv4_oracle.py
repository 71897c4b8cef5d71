"""An independent SigV4 signer for the tests: botocore's SigV4Auth (Debian's python3-botocore).

Reads a JSON list of requests on stdin and prints a JSON list of the Authorization headers
botocore computes for them at the given timestamp. Each request:
  {"method", "url", "headers": [[name, value], ...], "body_b64", "params": [[k, v], ...] or null,
   "access_key", "secret_key", "token", "region", "service", "timestamp": "YYYYMMDDTHHMMSSZ"}
"params", when given, is the decoded query (the url then has none): botocore encodes it itself,
so the C++ signer's decoding and re-encoding of the URL's query is checked, not copied.
"""
import base64
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(case):
    credentials = Credentials(case["access_key"], case["secret_key"], case["token"] or None)
    request = AWSRequest(method=case["method"], url=case["url"],
                         data=base64.b64decode(case["body_b64"]),
                         params=[tuple(p) for p in case.get("params") or []])
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    auth = SigV4Auth(credentials, case["service"], case["region"])
    # add_auth() reads the wall clock; these are its steps at a fixed timestamp.
    request.context["timestamp"] = case["timestamp"]
    auth._modify_request_before_signing(request)
    canonical_request = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical_request)
    signature = auth.signature(string_to_sign, request)
    auth._inject_signature_to_request(request, signature)
    return request.headers["Authorization"]


if __name__ == "__main__":
    json.dump([sign(case) for case in json.load(sys.stdin)], sys.stdout)
