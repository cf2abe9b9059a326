"""Dockerfile, .dockerignore, compose.yaml and the Caddy configuration. There is no
Docker engine in CI, so these check the files' structure rather than build them."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
CADDYFILE = REPO / "deploy" / "caddy" / "Caddyfile"
ENV_EXAMPLE = REPO / "deploy" / "env.example"
REPLICAS = ("mdreader-1", "mdreader-2")


# ----------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages() -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {rest}"
            current = match.group(2)
            result[current] = []
        elif current is not None:
            result[current].append((keyword, rest))
    return result


def test_dockerfile_is_multi_stage():
    names = list(stages())
    assert names == ["web", "build", "runtime"]
    froms = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert froms[0].startswith("${NODE_IMAGE}")
    args = dict(
        rest.split("=", 1) for keyword, rest in dockerfile_instructions() if keyword == "ARG"
    )
    assert args["NODE_IMAGE"].startswith("node:")
    assert "slim" in args["PYTHON_IMAGE"]


def test_web_stage_builds_the_bundle_with_npm_ci():
    runs = [rest for keyword, rest in stages()["web"] if keyword == "RUN"]
    assert any("npm ci" in r for r in runs)
    assert any("npm run build" in r for r in runs)


def test_build_stage_installs_exactly_the_lock_then_the_wheel():
    runs = [rest for keyword, rest in stages()["build"] if keyword == "RUN"]
    joined = " ".join(runs)
    assert "--require-hashes -r requirements/runtime.lock" in joined
    assert "pip wheel" in joined and "pip install --no-deps /wheels/mdreader-" in joined
    assert "pip check" in joined
    copies = [rest for keyword, rest in stages()["build"] if keyword == "COPY"]
    # The lock is copied (and installed) before the sources: editing code reuses that layer.
    assert copies[0] == "requirements/runtime.lock requirements/runtime.lock"


def test_the_lock_pins_the_runtime_and_nothing_for_development():
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (REPO / "requirements" / "runtime.lock").read_text()
    pinned = {
        re.sub(r"[-_.]+", "-", m.group(1)).lower()
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, flags=re.MULTILINE)
    }
    wanted = project["dependencies"] + project["optional-dependencies"]["aws"]
    for requirement in wanted:
        name = re.split(r"[<>=\[; ]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in pinned, name
    assert all("--hash=sha256:" in block for block in lock.split(" \\\n    # via")[0:1])
    for dev_only in ("pytest", "ruff", "mypy", "moto", "cfn-lint", "hypothesis", "uv"):
        assert dev_only not in pinned, dev_only


def test_runtime_runs_as_non_root_with_healthcheck_and_command():
    runtime = stages()["runtime"]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after every RUN: nothing later runs as root.
    keywords = [keyword for keyword, _ in runtime]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")

    (healthcheck,) = [rest for keyword, rest in runtime if keyword == "HEALTHCHECK"]
    assert "urllib.request" in healthcheck and "/health" in healthcheck
    assert "curl" not in healthcheck
    assert ("EXPOSE", "8000") in runtime
    (cmd,) = [rest for keyword, rest in runtime if keyword == "CMD"]
    assert yaml.safe_load(cmd) == ["mdreader", "serve", "--host", "0.0.0.0", "--port", "8000"]


def test_runtime_serves_the_bundle_from_mdreader_web_dist():
    runtime = stages()["runtime"]
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    match = re.search(r"MDREADER_WEB_DIST=(\S+)", env)
    assert match
    web_dist = match.group(1)
    copies = [shlex.split(rest) for keyword, rest in runtime if keyword == "COPY"]
    assert ["--from=web", "/build/web/dist", web_dist] in copies


def test_dockerignore_keeps_the_context_small_but_complete():
    patterns = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "web/node_modules", ".env"} <= patterns
    copied = {"pyproject.toml", "README.md", "src", "migrations", "web"}
    assert not copied & patterns


# -------------------------------------------------------------------------- compose


def interpolate(text: str) -> str:
    """Compose variable interpolation with every variable unset: defaults apply, and
    required ones (${X:?message}) get a stand-in value."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return f"test-{name.lower()}"
        return ""

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", replace, text)
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8")))


def test_compose_has_the_expected_services(compose):
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "migrate",
        *REPLICAS,
        "proxy",
    }
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["proxy"]["image"].startswith("caddy:")


def test_long_running_services_have_healthchecks(compose):
    for name in ("postgres", "redis", "minio", *REPLICAS, "proxy"):
        healthcheck = compose["services"][name]["healthcheck"]
        assert healthcheck["test"][0] == "CMD", name
    for name in REPLICAS:
        test = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert "urllib" in test and "/health" in test


def test_required_secrets_have_no_default():
    text = COMPOSE.read_text()
    for variable in ("MDREADER_SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        assert re.search(r"\$\{" + variable + r":\?", text), variable
        assert not re.search(r"\$\{" + variable + r":-", text), variable


def test_replicas_share_database_redis_bucket_and_key(compose):
    services = compose["services"]
    envs = [services[name]["environment"] for name in REPLICAS]
    shared = (
        "MDREADER_DATABASE_URL",
        "MDREADER_REDIS_URL",
        "MDREADER_STORAGE",
        "MDREADER_S3_BUCKET",
        "MDREADER_S3_ENDPOINT_URL",
        "MDREADER_SECRET_KEY",
        "MDREADER_PUBLIC_URL",
    )
    for key in shared:
        assert envs[0][key] == envs[1][key], key
    env = envs[0]
    assert env["MDREADER_STORAGE"] == "s3"

    database = urlsplit(env["MDREADER_DATABASE_URL"])
    assert database.scheme == "postgresql+asyncpg"
    assert database.hostname == "postgres"
    postgres = services["postgres"]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]

    assert urlsplit(env["MDREADER_REDIS_URL"]).hostname == "redis"
    assert urlsplit(env["MDREADER_S3_ENDPOINT_URL"]).hostname == "minio"
    minio = services["minio"]["environment"]
    assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]


def test_init_container_creates_the_shared_bucket(compose):
    services = compose["services"]
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing" in " ".join(init["command"])
    bucket = services[REPLICAS[0]]["environment"]["MDREADER_S3_BUCKET"]
    assert init["environment"]["MDREADER_S3_BUCKET"] == bucket


def test_replicas_start_after_migrations_and_their_dependencies(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["mdreader", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in REPLICAS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["minio-init"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
        assert "ports" not in services[name], "replicas are reached through the proxy only"


def test_proxy_balances_both_replicas(compose):
    proxy = compose["services"]["proxy"]
    mounts = [volume.split(":")[:2] for volume in proxy["volumes"]]
    assert ["./deploy/caddy/Caddyfile", "/etc/caddy/Caddyfile"] in mounts
    for name in REPLICAS:
        assert proxy["depends_on"][name]["condition"] == "service_healthy"

    caddyfile = CADDYFILE.read_text()
    (upstreams,) = re.findall(r"reverse_proxy\s+([^{]+)\{", caddyfile)
    assert upstreams.split() == [f"{name}:8000" for name in REPLICAS]
    assert "health_uri /health/ready" in caddyfile


def test_trusted_proxies_match_the_compose_network(compose):
    (subnet,) = [c["subnet"] for c in compose["networks"]["default"]["ipam"]["config"]]
    env = compose["services"][REPLICAS[0]]["environment"]
    assert yaml.safe_load(env["MDREADER_TRUSTED_PROXIES"]) == [subnet]


def test_env_example_lists_every_variable_compose_requires():
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required <= example, required - example
