"""The CloudFormation templates: lint-clean, wired together by exports, and carrying
the properties the deployment relies on (routing, rate limits, retention, secrets)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    ENVIRONMENTS,
    OTHER_REGION,
    STACK_ORDER,
    TEMPLATES,
    effective_value,
    load_parameters,
    resources_of_type,
    walk,
)


def test_one_template_per_stack():
    assert sorted(p.stem for p in TEMPLATES.glob("*.yml")) == sorted(STACK_ORDER)


@pytest.mark.parametrize("name", STACK_ORDER)
def test_cfn_lint_passes(name):
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(
        Path(TEMPLATES / f"{name}.yml"),
        ManualArgs(regions=["us-east-1", "eu-west-1"]),
    )
    assert [str(m) for m in matches] == []


# ------------------------------------------------------------------ exports/imports


def _present(items: list[Any]) -> list[dict[str, Any]]:
    """A list's entries, a conditional one (Fn::If [cond, value, AWS::NoValue]) as its value."""
    return [
        item["Fn::If"][1] if isinstance(item, dict) and "Fn::If" in item else item for item in items
    ]


def _sub_string(value: Any) -> str:
    """The name in an Export or ImportValue: a plain string or {"Fn::Sub": "..."}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    raise AssertionError(f"export/import names must be literal or Fn::Sub strings: {value!r}")


def _exports(template: dict[str, Any]) -> set[str]:
    return {
        _sub_string(output["Export"]["Name"])
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def _imports(template: dict[str, Any]) -> set[str]:
    return {
        _sub_string(node["Fn::ImportValue"])
        for node in walk(template.get("Resources", {}))
        if isinstance(node, dict) and "Fn::ImportValue" in node
    } | {
        _sub_string(node["Fn::ImportValue"])
        for node in walk(template.get("Outputs", {}))
        if isinstance(node, dict) and "Fn::ImportValue" in node
    }


def test_every_import_has_an_export_from_an_earlier_stack(templates):
    exported_by: dict[str, str] = {}
    for name in STACK_ORDER:
        for export in _exports(templates[name]):
            assert export not in exported_by, f"{export} exported twice"
            exported_by[export] = name
    for position, name in enumerate(STACK_ORDER):
        for imported in _imports(templates[name]):
            assert imported in exported_by, f"{name} imports {imported}, which nobody exports"
            source = exported_by[imported]
            assert STACK_ORDER.index(source) < position, (
                f"{name} imports {imported} from {source}, which is deployed later"
            )


def test_every_export_is_named_after_the_environment(templates):
    for name in STACK_ORDER:
        for export in _exports(templates[name]):
            assert re.fullmatch(r"\$\{EnvironmentName\}-[A-Z][A-Za-z0-9]+", export), export


def test_every_template_takes_the_environment_name(templates):
    for name in STACK_ORDER:
        assert "EnvironmentName" in templates[name]["Parameters"], name


# ------------------------------------------------------------------ parameter files


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_parameter_files_name_only_declared_parameters(env, templates):
    parameters = load_parameters(env)
    assert set(parameters) <= set(STACK_ORDER), set(parameters) - set(STACK_ORDER)
    for stack, values in parameters.items():
        declared = templates[stack]["Parameters"]
        undeclared = set(values) - set(declared)
        assert not undeclared, f"{env}.json sets {undeclared} which {stack}.yml does not declare"
        # deploy.sh derives it from ENV; a second source could only disagree.
        assert "EnvironmentName" not in values
        for key, value in values.items():
            assert isinstance(value, str), f"{env}.json {stack}.{key} must be a string"
            allowed = declared[key].get("AllowedValues")
            if allowed is not None:
                assert value in [str(a) for a in allowed], f"{stack}.{key}={value!r}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_parameter_without_default_is_supplied(env, templates):
    supplied_by_script = {"EnvironmentName", "ImageUri", "WebAclArn"}
    parameters = load_parameters(env)
    for stack in STACK_ORDER:
        for key, spec in templates[stack]["Parameters"].items():
            if "Default" not in spec:
                assert key in supplied_by_script or key in parameters.get(stack, {}), (
                    f"{stack}.{key} has no default and no value in {env}.json"
                )


def test_prod_is_highly_available_and_dev_is_small(templates):
    def value(env, stack, key):
        return effective_value(templates[stack], stack, env, key)

    assert value("prod", "vpc", "NatGateways") == "2"
    assert value("dev", "vpc", "NatGateways") == "1"
    assert value("prod", "database", "DbMultiAz") == "true"
    assert value("dev", "database", "DbMultiAz") == "false"
    assert int(value("prod", "database", "RedisNodes")) >= 2
    assert value("prod", "database", "DbDeletionProtection") == "true"
    assert int(value("prod", "backend", "ApiMinCount")) >= 2
    assert int(value("prod", "websocket", "WsMinCount")) >= 2
    assert value("dev", "database", "DbInstanceClass").startswith("db.t")
    assert not value("prod", "database", "DbInstanceClass").startswith("db.t")


# ----------------------------------------------------------------------- network


def test_private_subnets_reach_aws_services(templates):
    vpc = templates["vpc"]
    assert resources_of_type(vpc, "AWS::EC2::NatGateway")
    services = {}
    for name, endpoint in resources_of_type(vpc, "AWS::EC2::VPCEndpoint").items():
        props = endpoint["Properties"]
        service = props["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1]
        services[service] = (props["VpcEndpointType"], name)
    assert services["s3"][0] == "Gateway"
    for service in ("secretsmanager", "logs", "api", "dkr"):  # ecr.api, ecr.dkr
        assert services[service][0] == "Interface", service


def test_no_capacity_reservations_anywhere(templates):
    """RDS reserved instances are a billing purchase, not EC2 capacity reservations."""
    for name in STACK_ORDER:
        kinds = {r["Type"] for r in templates[name]["Resources"].values()}
        assert "AWS::EC2::CapacityReservation" not in kinds, name


# ----------------------------------------------------------------------- secrets


def _json_with_placeholders(text: str) -> dict[str, Any]:
    text = re.sub(r"\{\{resolve:[^}]*\}\}", "SECRET", text)
    text = re.sub(r'(?<!")\$\{[^}]+\}(?!")', "5432", text)  # unquoted: numbers
    text = re.sub(r"\$\{[^}]+\}", "value", text)
    return json.loads(text)


def test_database_secrets_name_the_rds_managed_rotated_credentials(templates):
    database = templates["database"]
    primary = resources_of_type(database, "AWS::RDS::DBInstance")["Database"]["Properties"]
    assert primary["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in primary
    managed = {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}
    (rotation,) = resources_of_type(database, "AWS::SecretsManager::RotationSchedule").values()
    assert rotation["Properties"]["SecretId"] == managed
    secrets = resources_of_type(database, "AWS::SecretsManager::Secret")
    for name, suffix in (("DatabaseSecret", "database"), ("DatabaseReadSecret", "database-read")):
        props = secrets[name]["Properties"]
        assert props["Name"] == {"Fn::Sub": f"${{EnvironmentName}}/{suffix}"}
        template, values = props["SecretString"]["Fn::Sub"]
        shape = _json_with_placeholders(template)
        assert set(shape) == {"host", "port", "dbname", "engine", "credentials_secret"}
        assert values["Credentials"] == managed  # both read the one rotated secret


def test_redis_secret_has_the_application_shape(templates):
    database = templates["database"]
    redis = resources_of_type(database, "AWS::ElastiCache::ReplicationGroup")["Redis"]
    assert redis["Properties"]["TransitEncryptionEnabled"] is True
    assert "AuthToken" in redis["Properties"]
    secret = resources_of_type(database, "AWS::SecretsManager::Secret")["RedisSecret"]
    assert secret["Properties"]["Name"] == {"Fn::Sub": "${EnvironmentName}/redis"}
    shape = _json_with_placeholders(secret["Properties"]["SecretString"]["Fn::Sub"][0])
    assert set(shape) == {"host", "port", "auth_token", "tls"}
    assert shape["tls"] is True


def test_database_is_private_encrypted_and_replicated(templates):
    instances = resources_of_type(templates["database"], "AWS::RDS::DBInstance")
    primary = instances["Database"]["Properties"]
    assert primary["Engine"] == "postgres"
    assert primary["PubliclyAccessible"] is False
    assert primary["StorageEncrypted"] is True
    assert primary["MultiAZ"] == {"Ref": "DbMultiAz"}
    replica = instances["DatabaseReplica"]["Properties"]
    assert replica["SourceDBInstanceIdentifier"] == {"Ref": "Database"}


# ------------------------------------------------------------------ services


def _container(template: dict[str, Any]) -> dict[str, Any]:
    (task,) = resources_of_type(template, "AWS::ECS::TaskDefinition").values()
    (container,) = [
        c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "mdreader"
    ]
    return container


def _environment_names(container: dict[str, Any]) -> dict[str, Any]:
    names = {}
    for entry in container["Environment"]:
        if isinstance(entry, dict) and "Fn::If" in entry:
            entry = entry["Fn::If"][1]
        names[entry["Name"]] = entry["Value"]
    return names


def test_both_services_get_the_same_configuration(templates):
    api = _container(templates["backend"])
    collab = _container(templates["websocket"])
    assert api["Environment"] == collab["Environment"]
    assert api["Secrets"] == collab["Secrets"]
    env = _environment_names(api)
    assert env["MDREADER_SECRETS_MANAGER_PREFIX"] == {"Fn::Sub": "${EnvironmentName}/"}
    assert env["MDREADER_STORAGE"] == "s3"
    assert env["MDREADER_EMAIL_BACKEND"] == "ses"
    assert "MDREADER_S3_BUCKET" in env
    assert "MDREADER_PUBLIC_URL" in env
    assert [s["Name"] for s in api["Secrets"]] == ["MDREADER_SECRET_KEY"]
    # The release's migration step migrates; the services only check the schema.
    assert env["MDREADER_MIGRATE_ON_START"] == "false"
    # Behind CloudFront: the viewer's address, believed from the load balancer only.
    assert env["MDREADER_CLIENT_IP_HEADER"] == "CloudFront-Viewer-Address"
    assert "VpcCidr" in json.dumps(env["MDREADER_TRUSTED_PROXIES"])
    # The app's own metrics reach CloudWatch through the agent beside it.
    assert env["MDREADER_LOG_EMF"] == "true"
    assert env["MDREADER_EMF_ENDPOINT"] == "udp://127.0.0.1:25888"
    (task,) = resources_of_type(templates["backend"], "AWS::ECS::TaskDefinition").values()
    names = [c["Name"] for c in task["Properties"]["ContainerDefinitions"]]
    assert names == ["mdreader", "cloudwatch-agent"]


def test_load_balancers_check_liveness_and_accept_only_cloudfront(templates):
    for stack in ("backend", "websocket"):
        template = templates[stack]
        (group,) = resources_of_type(template, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
        assert group["Properties"]["HealthCheckPath"] == "/health"  # liveness, not the database
        (listener,) = resources_of_type(template, "AWS::ElasticLoadBalancingV2::Listener").values()
        props = listener["Properties"]
        assert props["Protocol"] == {"Fn::If": ["HasOriginCertificate", "HTTPS", "HTTP"]}
        (default,) = props["DefaultActions"]
        assert default["FixedResponseConfig"]["StatusCode"] == "403"
        (rule,) = resources_of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
        headers = [c for c in rule["Properties"]["Conditions"] if c["Field"] == "http-header"]
        (header,) = headers
        assert header["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify"
        assert "origin-verify" in json.dumps(header["HttpHeaderConfig"]["Values"])
    security = templates["security"]
    for name in ("ApiLoadBalancerSecurityGroup", "WebSocketLoadBalancerSecurityGroup"):
        ingress = security["Resources"][name]["Properties"]["SecurityGroupIngress"]
        assert all(
            rule["SourcePrefixListId"] == {"Ref": "CloudFrontPrefixListId"} for rule in ingress
        )
    # CloudFront sends the header to every origin except the web bucket.
    (distribution,) = resources_of_type(
        templates["frontend"], "AWS::CloudFront::Distribution"
    ).values()
    for origin in _present(distribution["Properties"]["DistributionConfig"]["Origins"]):
        if origin["Id"] not in ("web", "uploads"):
            (header,) = origin["OriginCustomHeaders"]
            assert header["HeaderName"] == "X-Origin-Verify"


def test_egress_is_narrowed(templates):
    security = templates["security"]
    resources = security["Resources"]
    for name in ("DatabaseSecurityGroup", "RedisSecurityGroup"):
        (rule,) = resources[name]["Properties"]["SecurityGroupEgress"]
        assert rule["CidrIp"] == "127.0.0.1/32"  # no way out
    (rule,) = resources["AppSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    egress = {
        (r["Properties"]["GroupId"]["Ref"], r["Properties"]["FromPort"])
        for r in resources_of_type(security, "AWS::EC2::SecurityGroupEgress").values()
    }
    assert ("AppSecurityGroup", 5432) in egress and ("AppSecurityGroup", 6379) in egress
    assert ("ApiLoadBalancerSecurityGroup", 8000) in egress
    policy = resources_of_type(templates["backend"], "AWS::IAM::ManagedPolicy")["AppPolicy"]
    (mail,) = [
        st
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ses:SendRawEmail" in st["Action"]
    ]
    assert "EmailIdentityArn" in json.dumps(mail["Resource"]) and "*" not in json.dumps(
        mail["Resource"]
    )


def test_stacks_in_other_regions_neither_import_nor_export(templates):
    for stack in OTHER_REGION:
        assert not _imports(templates[stack]), stack
        assert not _exports(templates[stack]), stack


def test_services_run_in_private_subnets_and_autoscale(templates):
    for stack in ("backend", "websocket"):
        template = templates[stack]
        (service,) = resources_of_type(template, "AWS::ECS::Service").values()
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert "PrivateSubnetIds" in json.dumps(network["Subnets"])
        assert service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
            "Enable": True,
            "Rollback": True,
        }
        assert resources_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
        assert resources_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")


def test_lambda_variant_uses_the_mangum_handler(templates):
    functions = resources_of_type(templates["backend"], "AWS::Lambda::Function")
    (function,) = functions.values()
    assert function["Condition"] == "CreateLambdaApi"
    assert function["Properties"]["Handler"] == "mdreader.lambda_handler.handler"
    (api,) = resources_of_type(templates["backend"], "AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "HTTP"


def test_websocket_goes_through_an_alb_without_stickiness(templates):
    websocket = templates["websocket"]
    kinds = {r["Type"] for r in websocket["Resources"].values()}
    assert not any(kind.startswith("AWS::ApiGateway") for kind in kinds)
    (alb,) = resources_of_type(websocket, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == {"Ref": "IdleTimeoutSeconds"}
    for env in ENVIRONMENTS:
        assert int(effective_value(websocket, "websocket", env, "IdleTimeoutSeconds")) >= 3600
    (group,) = resources_of_type(websocket, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    target_attributes = {a["Key"]: a["Value"] for a in group["Properties"]["TargetGroupAttributes"]}
    assert target_attributes["stickiness.enabled"] == "false"
    (rule,) = resources_of_type(websocket, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    paths = rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"]
    assert "/ws" in paths and "/ws/*" in paths


# ---------------------------------------------------------------------- frontend


def test_cloudfront_routes_paths_to_the_right_origins(templates):
    frontend = templates["frontend"]
    (distribution,) = resources_of_type(frontend, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in _present(config["Origins"])}
    assert "OriginAccessControlId" in origins["web"]
    assert "ApiLoadBalancerDnsName" in json.dumps(origins["api"]["DomainName"])
    assert "WsLoadBalancerDnsName" in json.dumps(origins["collab"]["DomainName"])
    behaviours = _present(config["CacheBehaviors"])
    routes = {b["PathPattern"]: b["TargetOriginId"] for b in behaviours}
    assert routes == {
        "/files/*": "uploads",
        "/api/*": "api",
        "/s/*": "api",
        "/health*": "api",
        "/ws*": "collab",
    }
    # Uploads: the bucket through OAC, for signed URLs only.
    (files,) = [b for b in behaviours if b["PathPattern"] == "/files/*"]
    assert files["TrustedKeyGroups"] == [{"Ref": "UploadsKeyGroup"}]
    assert "OriginAccessControlId" in origins["uploads"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "web"
    # No distribution-wide error page: it would turn the API's JSON 404s into HTML.
    assert "CustomErrorResponses" not in config


def test_web_bucket_is_private_and_versioned(templates):
    frontend = templates["frontend"]
    bucket = resources_of_type(frontend, "AWS::S3::Bucket")["WebBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert resources_of_type(frontend, "AWS::CloudFront::OriginAccessControl")


def test_route53_names_the_app_and_the_api_when_a_zone_is_given(templates):
    frontend = templates["frontend"]
    records = resources_of_type(frontend, "AWS::Route53::RecordSet")
    named = {}
    for record in records.values():
        properties = record["Properties"]
        assert properties["HostedZoneId"] == {"Ref": "HostedZoneId"}
        assert properties["AliasTarget"]["DNSName"] == {
            "Fn::GetAtt": ["Distribution", "DomainName"]
        }
        named.setdefault(properties["Name"]["Ref"], set()).add(
            (properties["Type"], record["Condition"])
        )
    assert named == {
        "DomainName": {("A", "CreateDnsRecords"), ("AAAA", "CreateDnsRecords")},
        "ApiDomainName": {("A", "CreateApiDnsRecords"), ("AAAA", "CreateApiDnsRecords")},
    }
    # The API name is an alias of the same distribution: the same WAF and behaviours.
    (distribution,) = resources_of_type(frontend, "AWS::CloudFront::Distribution").values()
    aliases = json.dumps(distribution["Properties"]["DistributionConfig"]["Aliases"])
    assert '"Ref": "ApiDomainName"' in aliases and '"Ref": "DomainName"' in aliases


def test_waf_limits_api_to_1000_requests_per_5_minutes_per_ip(templates):
    edge = templates["edge"]
    (acl,) = resources_of_type(edge, "AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    rules = [r for r in acl["Properties"]["Rules"] if "RateBasedStatement" in r["Statement"]]
    (rule,) = rules
    statement = rule["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["EvaluationWindowSec"] == 300
    assert statement["Limit"] == {"Ref": "ApiRateLimit"}
    for env in ENVIRONMENTS:
        assert effective_value(edge, "edge", env, "ApiRateLimit") == "1000"
    scope = statement["ScopeDownStatement"]["ByteMatchStatement"]
    assert scope["SearchString"] == "/api/"
    assert scope["PositionalConstraint"] == "STARTS_WITH"
    assert "UriPath" in scope["FieldToMatch"]
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    # The distribution always has the ACL (by ARN: it lives in us-east-1).
    (distribution,) = resources_of_type(
        templates["frontend"], "AWS::CloudFront::Distribution"
    ).values()
    assert distribution["Properties"]["DistributionConfig"]["WebACLId"] == {"Ref": "WebAclArn"}


def test_waf_blocks_sqli_and_xss_but_not_markdown_bodies(templates):
    (acl,) = resources_of_type(templates["edge"], "AWS::WAFv2::WebACL").values()
    groups = {}
    for rule in acl["Properties"]["Rules"]:
        managed = rule["Statement"].get("ManagedRuleGroupStatement")
        if managed:
            groups[managed["Name"]] = {
                o["Name"]: o["ActionToUse"] for o in managed.get("RuleActionOverrides", [])
            }
    # SQL injection and XSS rule groups block everywhere but in bodies, which only count:
    # a document is Markdown up to 2 MB and may quote SQL or HTML.
    assert groups["AWSManagedRulesSQLiRuleSet"] == {"SQLi_BODY": {"Count": {}}}
    assert groups["AWSManagedRulesCommonRuleSet"] == {
        "SizeRestrictions_BODY": {"Count": {}},
        "CrossSiteScripting_BODY": {"Count": {}},
    }
    (auth,) = [r for r in acl["Properties"]["Rules"] if r["Name"] == "auth-body-sqli-xss"]
    text = json.dumps(auth["Statement"])
    assert "SqliMatchStatement" in text and "XssMatchStatement" in text and "/api/auth/" in text


# -------------------------------------------------------------- monitoring/backup


def test_alarms_cover_the_agreed_signals(templates):
    alarms = resources_of_type(templates["monitoring"], "AWS::CloudWatch::Alarm")
    metrics = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        if "MetricName" in props:
            metrics.add(props["MetricName"])
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metrics.add(query["MetricStat"]["Metric"]["MetricName"])
    assert {
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "CPUUtilization",
        "FreeStorageSpace",
        "DatabaseMemoryUsagePercentage",
    } <= metrics
    assert resources_of_type(templates["monitoring"], "AWS::SNS::Topic")


def test_dashboard_body_is_valid_json(templates):
    (dashboard,) = resources_of_type(templates["monitoring"], "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    assert len(widgets) >= 6


def test_backups_daily_30_days_weekly_90_days(templates):
    backup = templates["backup"]
    (plan,) = resources_of_type(backup, "AWS::Backup::BackupPlan").values()
    rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}
    assert set(rules) == {"daily", "weekly"}

    def retention(rule: str, env: str) -> int:
        ref = rules[rule]["Lifecycle"]["DeleteAfterDays"]["Ref"]
        return int(effective_value(backup, "backup", env, ref))

    for env in ENVIRONMENTS:
        assert retention("daily", env) == 30
        assert retention("weekly", env) == 90
    assert rules["daily"]["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert "SUN" in rules["weekly"]["ScheduleExpression"]

    (selection,) = resources_of_type(backup, "AWS::Backup::BackupSelection").values()
    selected = json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    assert "DatabaseInstanceArn" in selected
    assert "UploadsBucketArn" in selected


def test_alarms_for_outages_connections_edge_and_backups(templates):
    def metrics_of(template: dict[str, Any]) -> set[str]:
        found = set()
        for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
            props = alarm["Properties"]
            if "MetricName" in props:
                found.add(props["MetricName"])
            for query in props.get("Metrics", []):
                if "MetricStat" in query:
                    found.add(query["MetricStat"]["Metric"]["MetricName"])
        return found

    assert {"HealthyHostCount", "DatabaseConnections", "ServerErrors"} <= metrics_of(
        templates["monitoring"]
    )
    assert {"5xxErrorRate", "BlockedRequests"} <= metrics_of(templates["edge"])
    assert {"NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed"} <= metrics_of(templates["backup"])
    for stack in ("monitoring", "edge"):
        assert resources_of_type(templates[stack], "AWS::SNS::Subscription")  # e-mail parameter
    assert "AlarmEmail" in templates["edge"]["Parameters"]


def test_backups_are_copied_to_the_dr_vault_for_365_days(templates):
    backup = templates["backup"]
    (plan,) = resources_of_type(backup, "AWS::Backup::BackupPlan").values()
    daily = next(
        r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"] if r["RuleName"] == "daily"
    )
    (copy,) = daily["CopyActions"]["Fn::If"][1]
    assert copy["DestinationBackupVaultArn"] == {"Ref": "DrVaultArn"}
    for env in ENVIRONMENTS:
        assert effective_value(backup, "backup", env, "DrRetentionDays") == "365"
    (vault,) = resources_of_type(templates["dr"], "AWS::Backup::BackupVault").values()
    assert vault["Properties"]["LockConfiguration"]["Fn::If"][0] == "LockVault"
    assert effective_value(templates["dr"], "dr", "prod", "EnableVaultLock") == "true"


def test_uploads_lifecycle_cors_and_access_logs(templates):
    bucket = resources_of_type(templates["database"], "AWS::S3::Bucket")["UploadsBucket"][
        "Properties"
    ]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    (transition,) = rule["NoncurrentVersionTransitions"]
    assert transition["StorageClass"] == "GLACIER"
    for env in ENVIRONMENTS:
        assert (
            effective_value(templates["database"], "database", env, "NoncurrentGlacierDays") == "90"
        )
    assert "NoncurrentVersionExpiration" in rule
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert "PublicUrl" in json.dumps(cors["AllowedOrigins"])
    assert "LogsBucketName" in json.dumps(bucket["LoggingConfiguration"])
    (distribution,) = resources_of_type(
        templates["frontend"], "AWS::CloudFront::Distribution"
    ).values()
    assert "LogsBucketDomainName" in json.dumps(
        distribution["Properties"]["DistributionConfig"]["Logging"]
    )
    for stack in ("backend", "websocket"):
        (alb,) = resources_of_type(
            templates[stack], "AWS::ElasticLoadBalancingV2::LoadBalancer"
        ).values()
        attributes = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
        assert attributes["access_logs.s3.enabled"] == "true"


def test_cognito_pool_hosted_ui_mfa_providers_and_migration_trigger(templates):
    security = templates["security"]
    pool = resources_of_type(security, "AWS::Cognito::UserPool")["UserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Ref": "CognitoMfa"}
    assert pool["DeletionProtection"] == {"Ref": "UserPoolDeletionProtection"}
    assert effective_value(security, "security", "prod", "UserPoolDeletionProtection") == "ACTIVE"
    assert pool["LambdaConfig"]["Fn::If"][1] == {
        "UserMigration": {"Fn::GetAtt": ["UserMigrationFunction", "Arn"]}
    }
    function = security["Resources"]["UserMigrationFunction"]["Properties"]
    assert function["Handler"] == "mdreader.cognito_migration.handler"
    providers = resources_of_type(security, "AWS::Cognito::UserPoolIdentityProvider")
    assert {p["Properties"]["ProviderName"] for p in providers.values()} == {"Google", "GitHub"}
    client = resources_of_type(security, "AWS::Cognito::UserPoolClient")["UserPoolClient"][
        "Properties"
    ]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert "/auth/callback" in json.dumps(client["CallbackURLs"])
    assert resources_of_type(security, "AWS::Cognito::UserPoolDomain")


def test_the_lambda_api_reads_its_secrets_and_sits_behind_cloudfront(templates):
    (function,) = resources_of_type(templates["backend"], "AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert "MDREADER_SECRET_KEY" not in variables  # <prefix>secret-key, read at start
    assert variables["MDREADER_SECRETS_MANAGER_PREFIX"] == {"Fn::Sub": "${EnvironmentName}/"}
    assert variables["MDREADER_ORIGIN_SECRET_NAME"] == {
        "Fn::Sub": "${EnvironmentName}/origin-verify"
    }
    (distribution,) = resources_of_type(
        templates["frontend"], "AWS::CloudFront::Distribution"
    ).values()
    (api,) = [
        o
        for o in _present(distribution["Properties"]["DistributionConfig"]["Origins"])
        if o["Id"] == "api"
    ]
    assert "HttpApiDomain" in json.dumps(api["DomainName"])
