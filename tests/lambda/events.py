"""API Gateway proxy events shaped as API Gateway sends them to Lambda.

The shapes follow the AWS documentation's examples: HTTP API payload format 2.0
(`rawPath`, `rawQueryString`, comma-joined lower-case `headers`, `cookies`,
`requestContext.http`) and REST API payload format 1.0 (`httpMethod`, `path`,
`headers` + `multiValueHeaders`, `queryStringParameters` +
`multiValueQueryStringParameters` already decoded, `requestContext.identity`).
"""

from __future__ import annotations

import base64
import time
import urllib.parse
import uuid

SOURCE_IP = "203.0.113.7"
USER_AGENT = "curl/8.4.0"


def _body(body, base64_encoded: bool):
    if body is None:
        return None, False
    raw = body.encode() if isinstance(body, str) else body
    if base64_encoded:
        return base64.b64encode(raw).decode(), True
    return raw.decode(), False


def http_v2(method: str, path: str, *, query: str = "", headers=(), cookies=(), body=None,
            base64_encoded: bool = False, stage: str = "$default",
            route_key: str | None = None) -> dict:
    """`headers` is a list of (name, value) pairs; repeated names are comma-joined, as the
    2.0 format does. `query` is the raw query string as the client sent it."""
    joined: dict[str, str] = {
        "accept": "*/*",
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": "Root=1-65f0c1d2-0a1b2c3d4e5f60718293a4b5",
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    for name, value in headers:
        key = name.lower()
        joined[key] = joined[key] + "," + value if key in joined else value
    event = {
        "version": "2.0",
        "routeKey": route_key or "$default",
        "rawPath": (f"/{stage}" if stage != "$default" else "") + path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route_key or "$default",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = list(cookies)
    if query:
        params: dict[str, str] = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[k] = params[k] + "," + v if k in params else v
        event["queryStringParameters"] = params
    text, encoded = _body(body, base64_encoded)
    if text is not None:
        event["body"] = text
        event["isBase64Encoded"] = encoded
    return event


def rest_v1(method: str, path: str, *, query=(), headers=(), body=None,
            base64_encoded: bool = False, stage: str = "prod") -> dict:
    """`query` is a list of (name, value) pairs already decoded, as API Gateway gives them
    (a '+' stays a '+'); `headers` a list of (name, value) pairs, repeats allowed."""
    all_headers = [
        ("Accept", "*/*"),
        ("Host", "abc123.execute-api.eu-west-1.amazonaws.com"),
        ("User-Agent", USER_AGENT),
        ("X-Amzn-Trace-Id", "Root=1-65f0c1d2-0a1b2c3d4e5f60718293a4b5"),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ] + list(headers)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in all_headers:
        single[name] = value  # the last value, as API Gateway fills `headers`
        multi.setdefault(name, []).append(value)
    qs_single: dict[str, str] | None = None
    qs_multi: dict[str, list[str]] | None = None
    if query:
        qs_single, qs_multi = {}, {}
        for k, v in query:
            qs_single[k] = v
            qs_multi.setdefault(k, []).append(v)
    text, encoded = _body(body, base64_encoded)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": qs_single,
        "multiValueQueryStringParameters": qs_multi,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoIdentityId": None,
                "sourceIp": SOURCE_IP,
                "user": None,
                "userAgent": USER_AGENT,
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "roq9wj",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }
