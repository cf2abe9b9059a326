"""The stacks deployed as an operator would, in deploy.sh's order, on a moto server (real
CloudFormation API over HTTP, cross-stack exports and imports included), with dev's
parameters; then the resources are looked at through their own services' APIs.

moto's CloudFormation does not implement every resource type these templates use (no
CloudFront, WAF, Cognito, Secrets Manager, ElastiCache, CloudWatch alarms, AWS Backup or
security-group egress rules, for instance) nor every attribute (a load balancer's full name,
an RDS-managed secret's ARN). Those resources are left out of what is sent, and references
to them become placeholder strings; everything else is created for real. The list of what
was left out is printed, and must stay within UNSUPPORTED below: a type moto learns is then
deployed too, and a new template resource moto cannot create is noticed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import OTHER_REGION, STACK_ORDER, load_parameters, load_template

UNSUPPORTED = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::KeyGroup",
    "AWS::CloudFront::PublicKey",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::OriginRequestPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::ECR::Repository",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::Logs::MetricFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::EmailIdentity",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::WAFv2::WebACL",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolIdentityProvider",
}
# Properties moto's CloudFormation mishandles (a moto bug, not a template error), left out.
MOTO_QUIRKS = {
    # moto passes the parameter group object where it expects its name.
    ("AWS::RDS::DBInstance", "DBParameterGroupName"),
}
ENV = "mdreader-dev"


def _supported() -> dict[str, Any]:
    from moto.backends import get_backend
    from moto.cloudformation.parsing import get_model_map

    for service in ("ec2", "ecs", "elbv2", "iam", "logs", "rds", "s3", "sns", "lambda", "route53"):
        get_backend(service)  # imports the service's CloudFormation models
    return get_model_map()


def for_moto(
    template: dict[str, Any], supported: dict[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """The template without what moto cannot create; references to it become strings."""
    resources = template["Resources"]
    dropped = {name for name, r in resources.items() if r["Type"] not in supported}

    def missing_attribute(name: str, attribute: str) -> bool:
        model = supported.get(resources.get(name, {}).get("Type", ""))
        if model is None:
            return False
        return not (hasattr(model, "get_cfn_attribute") and model.has_cfn_attr(attribute))

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in dropped:
                return f"stub-{node['Ref']}"
            if set(node) == {"Fn::GetAtt"}:
                name, attribute = node["Fn::GetAtt"]
                if name in dropped or missing_attribute(name, attribute):
                    return _stub(name, attribute)
            if set(node) == {"Fn::Sub"}:
                return {"Fn::Sub": rewrite_sub(node["Fn::Sub"])}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    def rewrite_sub(value: Any) -> Any:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
        for name in dropped:
            text = text.replace(f"${{{name}}}", f"stub-{name}")
        for token in list(_sub_tokens(text)):
            if "." in token:
                name, attribute = token.split(".", 1)
                if name in resources and (name in dropped or missing_attribute(name, attribute)):
                    text = text.replace(f"${{{token}}}", f"stub-{name}")
        variables = {k: rewrite(v) for k, v in variables.items()}
        return [text, variables] if variables else text

    body = {key: value for key, value in template.items() if key != "Resources"}
    body["Resources"] = {
        name: rewrite(_without_quirks(r) | _depends(r, dropped))
        for name, r in resources.items()
        if name not in dropped
    }
    body["Outputs"] = rewrite(template.get("Outputs", {}))
    return body, {resources[name]["Type"] for name in dropped}


def _stub(name: str, attribute: str) -> str:
    """A stand-in value; ARN-shaped for ARN attributes (IAM policies check their shape)."""
    label = f"stub-{name}-{attribute}".replace(".", "-")
    if attribute.endswith("Arn"):
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{label}"
    return label


def _without_quirks(resource: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in resource.items() if k != "DependsOn"}
    properties = {
        k: v
        for k, v in resource.get("Properties", {}).items()
        if (resource["Type"], k) not in MOTO_QUIRKS
    }
    return kept | {"Properties": properties}


def _depends(resource: dict[str, Any], dropped: set[str]) -> dict[str, Any]:
    depends = resource.get("DependsOn")
    if depends is None:
        return {}
    names = [depends] if isinstance(depends, str) else depends
    kept = [n for n in names if n not in dropped]
    return {"DependsOn": kept} if kept else {}


def _sub_tokens(text: str):
    import re

    yield from re.findall(r"\$\{([^}!]+)\}", text)


@pytest.fixture(scope="module")
def deployed(moto_server) -> dict[str, Any]:
    supported = _supported()
    parameters = load_parameters("dev")
    extra = {
        "jobs": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mdreader-dev:t1"},
        "backend": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mdreader-dev:t1"},
        "websocket": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mdreader-dev:t1"},
        "frontend": {
            "WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mdreader-dev-edge/x"
        },
    }
    left_out: dict[str, set[str]] = {}
    statuses: dict[str, str] = {}
    for stack in STACK_ORDER:
        region = OTHER_REGION.get(stack, "us-east-1")
        template, dropped = for_moto(load_template(stack), supported)
        left_out[stack] = dropped
        values = {"EnvironmentName": ENV, **parameters.get(stack, {}), **extra.get(stack, {})}
        cloudformation = _client(moto_server, "cloudformation", region)
        cloudformation.create_stack(
            StackName=f"{ENV}-{stack}",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        (description,) = cloudformation.describe_stacks(StackName=f"{ENV}-{stack}")["Stacks"]
        statuses[stack] = description["StackStatus"]
    print("left out for moto:", {s: sorted(t) for s, t in left_out.items() if t})
    return {"left_out": left_out, "statuses": statuses, "moto": moto_server}


def _client(moto_server, service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=moto_server.endpoint)


def test_every_stack_deploys(deployed):
    assert deployed["statuses"] == {stack: "CREATE_COMPLETE" for stack in STACK_ORDER}
    left = set().union(*deployed["left_out"].values())
    assert left <= UNSUPPORTED, f"new resource types moto cannot create: {left - UNSUPPORTED}"


def test_the_deployed_resources_are_there(deployed):
    moto = deployed["moto"]
    ecs = _client(moto, "ecs", "us-east-1")
    clusters = set(ecs.list_clusters()["clusterArns"])
    assert any(arn.endswith(f"/{ENV}") for arn in clusters)
    assert any(arn.endswith(f"/{ENV}-jobs") for arn in clusters)
    migrate = ecs.describe_task_definition(taskDefinition=f"{ENV}-migrate")["taskDefinition"]
    assert migrate["containerDefinitions"][0]["command"] == ["mdreader", "migrate"]
    api = ecs.describe_task_definition(taskDefinition=f"{ENV}-api")["taskDefinition"]
    env = {e["name"]: e["value"] for e in api["containerDefinitions"][0]["environment"] if e}
    assert env["MDREADER_MIGRATE_ON_START"] == "false"
    assert env["MDREADER_CLIENT_IP_HEADER"] == "CloudFront-Viewer-Address"
    assert [c["name"] for c in api["containerDefinitions"]] == ["mdreader", "cloudwatch-agent"]

    elbv2 = _client(moto, "elbv2", "us-east-1")
    groups = elbv2.describe_target_groups()["TargetGroups"]
    assert groups and all(g["HealthCheckPath"] == "/health" for g in groups)
    for balancer in elbv2.describe_load_balancers()["LoadBalancers"]:
        (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
        assert listener["DefaultActions"][0]["Type"] == "fixed-response"
        rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        fields = {c["Field"] for r in rules for c in r.get("Conditions", [])}
        assert "http-header" in fields

    rds = _client(moto, "rds", "us-east-1")
    instances = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    assert {f"{ENV}-postgres", f"{ENV}-postgres-replica"} <= instances

    s3 = _client(moto, "s3", "us-east-1")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    uploads = next(b for b in buckets if "uploadsbucket" in b)
    assert uploads  # (moto's CloudFormation applies neither lifecycle nor versioning of a
    # bucket: test_cfn_templates checks those in the template.)
    assert any("artifactsbucket" in b for b in buckets) and any("logsbucket" in b for b in buckets)

    exports = {
        e["Name"] for e in _client(moto, "cloudformation", "us-east-1").list_exports()["Exports"]
    }
    assert {f"{ENV}-MigrateTaskDefinitionArn", f"{ENV}-RepositoryUri"} <= exports
