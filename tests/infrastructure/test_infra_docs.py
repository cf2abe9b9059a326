"""The operator documents stay in step with the files they describe."""

from __future__ import annotations

import re

from .conftest import REPO

DOCS = REPO / "docs"


def test_self_host_documents_every_variable_compose_sets():
    compose = (REPO / "compose.yaml").read_text()
    documented = (DOCS / "self-host.md").read_text()
    variables = set(re.findall(r"^\s+(MDREADER_[A-Z0-9_]+):", compose, flags=re.MULTILINE))
    variables |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose))
    missing = {v for v in variables if v not in documented}
    assert not missing, f"docs/self-host.md does not mention {sorted(missing)}"


def test_self_host_documents_backup_and_restore_commands():
    text = (DOCS / "self-host.md").read_text()
    assert "mdreader backup" in text and "mdreader restore" in text


def test_operations_cost_table_has_every_line_item():
    text = (DOCS / "operations.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| ")]
    items = {line.split("|")[1].strip() for line in table}
    for item in (
        "ECS Fargate",
        "RDS PostgreSQL + read replica",
        "ElastiCache Redis",
        "NAT gateways",
        "Application Load Balancers (2)",
        "CloudFront",
        "S3",
        "WAF",
        "CloudWatch",
        "AWS Backup",
        "Secrets Manager",
        "SES",
    ):
        assert item in items, item


def test_operations_states_backup_retention():
    text = (DOCS / "operations.md").read_text()
    assert "kept **30 days**" in text and "kept **90 days**" in text


def test_deploy_guide_explains_the_corrections():
    text = " ".join((DOCS / "deploy-aws.md").read_text().split())
    assert "Application Load Balancer" in text and "API Gateway" in text
    assert "billing purchase" in text
    assert "NAT" in text and "VPC endpoints" in text
