"""deploy/aws/template.yaml: valid against the CloudFormation specification (and the
validator proven to fail on broken copies), routes for the whole API, the table the store
expects, least-privilege IAM, and a generated configuration that otpd accepts."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

from lambda_process import SECRET

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "aws" / "template.yaml"
VALIDATE = REPO / "deploy" / "aws" / "validate-template"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: !Ref X -> {"Ref": X}, !Sub -> {"Fn::Sub": ...}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = suffix if suffix in ("Ref", "Condition") else "Fn::" + suffix
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def validate(path: pathlib.Path) -> subprocess.CompletedProcess:
    if not shutil.which("npm"):
        pytest.fail("node and npm are needed to validate the template")
    return subprocess.run([str(VALIDATE), str(path)], capture_output=True, text=True, timeout=600)


def test_template_is_valid():
    out = validate(TEMPLATE)
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout


# Each edit breaks the template in one way; the validator must name it.
BREAKAGES = [
    ("      Runtime: provided.al2023", "      Runtim: provided.al2023", "Runtim: not a property"),
    ("Type: AWS::DynamoDB::Table", "Type: AWS::DynamoDB::Tabel", "not a resource type"),
    ("!GetAtt CodesTable.Arn", "!GetAtt CodesTabel.Arn", "no resource named CodesTabel"),
    ("!GetAtt CodesTable.Arn", "!GetAtt CodesTable.Name", "has no attribute Name"),
    ("${ServerSecretsName}", "${ServerSecretName}", "names nothing"),
    ("      MemorySize: !Ref MemorySize", "      MemorySize: lots", "expected Integer"),
    ("    Default: x86_64", "    Default: sparc", "not among AllowedValues"),
    ("      KeySchema:", "      KeySchemas:", "KeySchema: required"),
    ("BillingMode: PAY_PER_REQUEST", "BillingMode: [PAY_PER_REQUEST]", "expected String"),
    ("          Type: HttpApi", "          Type: HttpApii", "not a SAM event type"),
    ("Method: POST, Path: /v1/otp/send", "Methd: POST, Path: /v1/otp/send", "Methd: not a property"),
    ("              - SmsEnabled\n              - Sid: PublishSms",
     "              - SmsEnable\n              - Sid: PublishSms", "unknown condition"),
    ("Transform: AWS::Serverless-2016-10-31\n", "", "needs \"Transform"),
    ("ApiId: !Ref Api, Method: GET, Path: /healthz", "ApiId: !Ref Apii, Method: GET, Path: /healthz",
     "Ref to unknown"),
    ("Resources:\n", "Resources:\n  Broken: [\n", "not a readable YAML template"),
]


@pytest.mark.parametrize("old, new, finding", BREAKAGES, ids=[b[2] for b in BREAKAGES])
def test_validator_fails_on_a_broken_copy(tmp_path, old, new, finding):
    text = TEMPLATE.read_text()
    assert old in text, f"the template no longer contains {old!r}: update this breakage"
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(old, new, 1))
    out = validate(broken)
    assert out.returncode == 1, out.stdout
    assert finding in out.stderr, out.stderr


def test_function_and_routes():
    t = load_template()
    fn = t["Resources"]["Function"]
    assert fn["Type"] == "AWS::Serverless::Function"
    props = fn["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Handler"] == "bootstrap"
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert t["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert (TEMPLATE.parent / props["CodeUri"]).resolve() == REPO / "build" / "otpd-lambda.zip"
    routes = set()
    for event in props["Events"].values():
        assert event["Type"] == "HttpApi"
        p = event["Properties"]
        assert p["ApiId"] == {"Ref": "Api"} and p["PayloadFormatVersion"] == "2.0"
        routes.add(f"{p['Method']} {p['Path']}")
    assert routes == {
        "POST /v1/otp/send", "POST /v1/otp/verify", "GET /v1/otp/{id}", "POST /v1/otp/{id}/cancel",
        "GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/openapi.json",
        "GET /otp", "POST /otp",
    }


def test_table_is_on_demand_with_ttl():
    table = load_template()["Resources"]["CodesTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at_ttl", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == \
        {"pk": "S", "sk": "S"}
    assert "GlobalSecondaryIndexes" not in table


def test_iam_is_least_privilege():
    statements = []
    for policy in load_template()["Resources"]["Function"]["Properties"]["Policies"]:
        assert isinstance(policy, dict) and "Statement" in policy, "only inline statements"
        for s in policy["Statement"]:
            statements.append(s["Fn::If"][1] if "Fn::If" in s else s)
    allowed = {}
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        assert all("*" not in a for a in actions), s
        if s["Effect"] == "Allow":
            for a in actions:
                allowed[a] = s["Resource"]
    for action, resource in allowed.items():
        if action.startswith("dynamodb:"):
            assert resource == {"Fn::GetAtt": ["CodesTable", "Arn"]}, action
    assert set(a.split(":")[0] for a in allowed) == {"dynamodb", "ses", "sns"}
    assert "identity/${SesIdentity}" in allowed["ses:SendEmail"]["Fn::Sub"]
    assert allowed["sns:Publish"] == "*"
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Action"] == "sns:Publish"  # to phone numbers only, never a topic


# ---- the configuration the template hands otpd

PARAMETERS = {
    "TenantName": "acme", "AppName": "Acme", "SesSender": "Acme <no-reply@acme.example>",
    "SesIdentity": "acme.example", "EnableSms": "false", "EnableCompat": "true",
    "ServerSecretsName": "otpd/secrets", "LogLevel": "info",
    "ApiKeyHashes": ["sha256:" + "ab" * 32, "sha256:" + "cd" * 32],
}
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


def evaluate(value, params: dict, conditions: dict):
    """The few intrinsic functions the environment uses, as CloudFormation resolves them."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return {**params, **PSEUDO}.get(arg, f"<{arg}>")
        if fn == "Fn::Join":
            return arg[0].join(evaluate(arg[1], params, conditions))
        if fn == "Fn::If":
            return evaluate(arg[1] if conditions[arg[0]] else arg[2], params, conditions)
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else arg
            names = {k: evaluate(v, params, conditions) for k, v in names.items()}
            scope = {**{k: (",".join(v) if isinstance(v, list) else v) for k, v in params.items()},
                     **PSEUDO, **names}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(scope.get(m.group(1), "<" + m.group(1) + ">")),
                          text)
    if isinstance(value, dict):
        return {k: evaluate(v, params, conditions) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, params, conditions) for v in value]
    return value


@pytest.mark.parametrize("sms", ["false", "true"])
def test_generated_config_is_accepted_by_otpd(make_function, sms):
    params = {**PARAMETERS, "EnableSms": sms}
    conditions = {"SmsEnabled": sms == "true"}
    variables = evaluate(load_template()["Resources"]["Function"]["Properties"]["Environment"]
                         ["Variables"], params, conditions)
    assert variables["OTPD_STORE"] == "dynamodb://<CodesTable>?region=eu-west-1"
    assert variables["OTPD_SECRETS"] == "{{resolve:secretsmanager:otpd/secrets:SecretString}}"
    toml = variables["OTPD_CONFIG_TOML"]
    assert '"sha256:' + "ab" * 32 + '", "sha256:' + "cd" * 32 + '"' in toml
    assert ("[tenants.acme.channels.sms]" in toml) == (sms == "true")

    f = make_function(start=False)
    f.env.pop("OTPD_CONFIG")
    f.env.update({
        "OTPD_CONFIG_TOML": toml,
        "OTPD_LOG_LEVEL": variables["OTPD_LOG_LEVEL"],
        # What CloudFormation resolves at deploy time, and (until the DynamoDB store is part
        # of this build) an embedded store in its place.
        "OTPD_SECRETS": SECRET,
        "OTPD_STORE": f"sqlite://{f.workdir}/data/otpd.db",
    })
    f.start()
    assert f.call("2.0", "GET", "/healthz", tenant=None).status == 200
    assert not f.api.init_errors
    # Compat is on: the original service's wording, without any outbound call.
    compat = f.invoke(__import__("events").http_v2(
        "POST", "/otp", headers=[("content-type", "application/json")],
        body='{"email":"nobody@acme.example","otp":"123456"}'))
    assert (compat.status, compat.text) == (404, "invalid otp")
