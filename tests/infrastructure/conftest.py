"""Shared helpers for the infrastructure tests: paths, template loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
TEMPLATES = INFRA / "templates"
PARAMETERS = INFRA / "parameters"
SCRIPTS = INFRA / "scripts"

# The order deploy.sh deploys the stacks in; every import must come from an earlier stack.
STACK_ORDER = [
    "artifacts",
    "vpc",
    "security",
    "database",
    "jobs",
    "backend",
    "websocket",
    "edge",  # us-east-1
    "frontend",
    "monitoring",
    "dr",  # the disaster-recovery region
    "backup",
]
# Stacks deployed in another region than the rest: they can neither import nor be imported.
OTHER_REGION = {"edge": "us-east-1", "dr": "us-west-2"}
ENVIRONMENTS = ["dev", "prod"]


def load_template(name: str) -> dict[str, Any]:
    """A template as plain data; CloudFormation short tags (!Ref, !Sub...) become
    their long form ({"Ref": ...}, {"Fn::Sub": ...}) through cfn-lint's decoder."""
    from cfnlint.decode import decode

    template, matches = decode(str(TEMPLATES / f"{name}.yml"))
    assert not matches, [str(m) for m in matches]
    assert template is not None
    return template


def load_parameters(env: str) -> dict[str, dict[str, str]]:
    return json.loads((PARAMETERS / f"{env}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    return {name: load_template(name) for name in STACK_ORDER}


def walk(node: Any):
    """Every dict and list inside node, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    }


def parameter_default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name].get("Default")


def effective_value(template: dict[str, Any], stack: str, env: str, name: str) -> str:
    """What a parameter will be in an environment: the parameter file, else the default."""
    section = load_parameters(env).get(stack, {})
    if name in section:
        return str(section[name])
    return str(parameter_default(template, name))
