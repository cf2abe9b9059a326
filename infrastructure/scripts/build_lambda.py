#!/usr/bin/env python3
"""Build the Lambda package of MDReader (API and Cognito user-migration trigger), sized.

    python3 infrastructure/scripts/build_lambda.py [--out build/lambda] [--zip build/mdreader-lambda.zip]
        [--python-version 3.12] [--arch x86_64|arm64] [--with-boto3] [--max-mb 250] [--dry-run]

What goes in: the pinned runtime dependencies of requirements/runtime.lock (hashes checked,
wheels for the Lambda runtime's Linux, never this machine's), then MDReader itself. What stays
out: development and test tools (the lock has none), the server-only parts a Lambda never
imports (uvicorn and its event loop, HTTP parser, YAML config reader, file watcher and
WebSocket libraries; click and rich, the CLI's), Alembic and Mako with MDReader's migrations
(the release's ECS task migrates, the function never does), and, unless --with-boto3,
boto3/botocore and their dependencies, which the Lambda Python runtime provides. h11 stays:
uvicorn uses it, but so does httpx (through httpcore), which webhook deliveries and single
sign-on send with. Of what goes in, the built web app (mdreader/web: CloudFront serves it
from S3; the Lambda answers /api/* only), the packages' own test suites and test helpers,
SQLAlchemy's dialects of databases MDReader does not run on (MySQL, SQL Server, Oracle),
console scripts and C headers, and the sources of compiled extensions (.pyx, .pxd, .c, .h,
.pyi) are dropped, and the extensions' debug information is stripped (``strip
--strip-debug``, when binutils' strip is here): symbols and code stay, the package loses a
third of its size. Bytecode is compiled for the target Python when that interpreter is on
PATH (python3.12, or --target-python), so a cold start does not compile.

With that interpreter the built package is then tried as Lambda runs it
(infrastructure/scripts/lambda_smoke.py: nothing but the standard library and the package on
the path, a request to /health and a person's first steps through the API); the build fails
when it does not answer, so a dependency left out by mistake is found here, not in production.

The zip is reproducible: entries sorted, fixed timestamps and permissions. The report gives
the unzipped size (Lambda's limit is 250 MB), the zip size and the largest packages; the
build fails when the unzipped size reaches --max-mb.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "runtime.lock"

# Imported only by `mdreader serve` and the CLI, never on Lambda.
SERVER_ONLY = {
    "uvicorn", "uvloop", "httptools", "watchfiles", "websockets", "pyyaml",
    "click", "rich", "pygments",
}
# The schema migrations run as the release's ECS task (jobs.yml, `mdreader migrate`); the
# function starts with MDREADER_MIGRATE_ON_START=false and never loads Alembic.
MIGRATIONS_ONLY = {"alembic", "mako"}
# Files of the packages that nothing imports at run time: compiled extensions' sources and
# type stubs. And the web app, which CloudFront serves from S3.
UNUSED_SUFFIXES = {".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".pyi"}
UNUSED_DIRS = [
    "mdreader/web", "mdreader/migrations", "bin", "include",
    "sqlalchemy/testing", "alembic/testing", "mako/testing",
    "sqlalchemy/dialects/mysql", "sqlalchemy/dialects/mssql", "sqlalchemy/dialects/oracle",
]
# A package's own test suite (``<package>/tests``), imported by nothing at run time.
UNUSED_SUBDIRS = {"tests"}
SMOKE = ROOT / "infrastructure" / "scripts" / "lambda_smoke.py"
# Provided by the Lambda Python runtime.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
# The Lambda Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34): any manylinux wheel up
# to 2_34 runs there.
PLATFORMS = {"x86_64": "x86_64", "arm64": "aarch64"}
GLIBC_MINORS = range(17, 35)
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_requirements(lock: Path, exclude: set[str]) -> tuple[list[str], list[str]]:
    """(requirement blocks kept, names left out) of a `uv pip compile --generate-hashes` lock:
    each block is ``name==version`` with its ``--hash`` continuation lines."""
    blocks: list[list[str]] = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith(" "):
            if blocks:
                blocks[-1].append(line)
        else:
            blocks.append([line])
    kept: list[str] = []
    left_out: list[str] = []
    for block in blocks:
        name = normalize(block[0].split("==", 1)[0].split("[", 1)[0].strip())
        if name in exclude:
            left_out.append(name)
        else:
            text = "\n".join(block)
            kept.append(text[:-1].rstrip() if text.endswith("\\") else text)
    return kept, sorted(left_out)


def pip_commands(args: argparse.Namespace, requirements: Path, wheel_dir: Path) -> list[list[str]]:
    pip = [sys.executable, "-m", "pip"]
    return [
        [*pip, "install", "--quiet", "--target", str(args.out), "--no-deps", "--require-hashes",
         "--only-binary=:all:", "--implementation", "cp", "--python-version", args.python_version,
         *platforms(args.arch), "--no-compile", "-r", str(requirements)],
        [*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheel_dir), str(ROOT)],
    ]


def platforms(arch: str) -> list[str]:
    machine = PLATFORMS[arch]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in GLIBC_MINORS] + [f"manylinux2014_{machine}"]
    return [part for tag in tags for part in ("--platform", tag)]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def write_zip(folder: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())


def prune(folder: Path) -> tuple[int, int]:
    """Drop what nothing imports on Lambda and strip the extensions' debug information:
    (bytes dropped, bytes stripped)."""
    before = folder_size(folder)
    for name in UNUSED_DIRS:
        shutil.rmtree(folder / name, ignore_errors=True)
    for package in folder.iterdir():
        for name in UNUSED_SUBDIRS:
            if (package / name).is_dir():
                shutil.rmtree(package / name)
    for path in list(folder.rglob("*")):
        if path.is_file() and path.suffix in UNUSED_SUFFIXES:
            path.unlink()
    dropped = before - folder_size(folder)
    strip = shutil.which("strip")
    stripped = 0
    if strip:
        for path in sorted(folder.rglob("*.so")):
            size = path.stat().st_size
            # A strip that cannot read the file (another architecture's) leaves it as it was.
            if subprocess.run([strip, "--strip-debug", str(path)], capture_output=True).returncode == 0:
                stripped += size - path.stat().st_size
    return dropped, stripped


def _plain_env() -> dict[str, str]:
    """This environment without MDReader's or AWS's settings (the smoke test sets its own)."""
    skip = ("MDREADER_", "AWS_", "PYTHON")
    return {k: v for k, v in os.environ.items() if not k.startswith(skip)}


def largest(folder: Path, count: int = 8) -> list[tuple[str, int]]:
    sizes = {p.name: folder_size(p) if p.is_dir() else p.stat().st_size for p in folder.iterdir()}
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--zip", type=Path, default=ROOT / "build" / "mdreader-lambda.zip")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="x86_64")
    parser.add_argument("--with-boto3", action="store_true", help="bundle boto3 instead of the runtime's")
    parser.add_argument("--max-mb", type=float, default=250.0)
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument(
        "--target-python", help="interpreter of the Lambda's Python version, to compile bytecode"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, build nothing")
    args = parser.parse_args(argv)

    exclude = SERVER_ONLY | MIGRATIONS_ONLY | (set() if args.with_boto3 else RUNTIME_PROVIDED)
    kept, left_out = locked_requirements(args.lock, exclude)
    with tempfile.TemporaryDirectory(prefix="mdreader-lambda-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(kept) + "\n", encoding="utf-8")
        wheel_dir = Path(tmp) / "wheels"
        commands = pip_commands(args, requirements, wheel_dir)
        if args.dry_run:
            print(f"lock: {args.lock.relative_to(ROOT) if args.lock.is_relative_to(ROOT) else args.lock}")
            print("packages: " + " ".join(b.split("==", 1)[0] for b in kept))
            print("left out: " + " ".join(left_out))
            for command in commands:
                print(" ".join(command))
            return 0
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)
        for command in commands:
            subprocess.run(command, check=True)
        (wheel,) = wheel_dir.glob("mdreader-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(args.out)
    for cache in list(args.out.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    dropped, stripped = prune(args.out)
    target_python = args.target_python or shutil.which(f"python{args.python_version}")
    if target_python and subprocess.run([target_python, "-c", "pass"], capture_output=True).returncode:
        target_python = None  # a shim of a version manager with no such interpreter active
    if target_python:
        subprocess.run([target_python, "-m", "compileall", "-q", "-j", "0", str(args.out)], check=True)
        compiled = f"bytecode compiled with {target_python}"
    else:
        compiled = f"no python{args.python_version} here: bytecode not compiled (first import compiles)"
    write_zip(args.out, args.zip)
    unzipped = folder_size(args.out)
    if target_python:
        # The smoke test's database is migrated by this (the build's) interpreter: the package
        # has no Alembic.
        smoke = subprocess.run(
            [target_python, "-S", str(SMOKE), "--migrate-with", sys.executable],
            env={
                **_plain_env(),
                "PYTHONPATH": str(args.out.resolve()),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        if smoke.returncode:
            print("build_lambda: the package does not answer:", file=sys.stderr)
            print(smoke.stderr[-3000:], file=sys.stderr)
            return 1
        tried = "answers /health and a first session (lambda_smoke.py)"
    else:
        tried = "not tried (no interpreter of the target version)"
    mb = 1024 * 1024
    print(f"Lambda package {args.out} (python {args.python_version}, {args.arch}); {compiled}")
    print(f"  unzipped: {unzipped / mb:.1f} MB (Lambda's limit 250 MB; this build's ceiling {args.max_mb:.0f} MB)")
    print(f"  zip:      {args.zip.stat().st_size / mb:.1f} MB  {args.zip}")
    print(f"  tried:    {tried}")
    print(f"  left out: {' '.join(left_out)}")
    print(
        f"  dropped:  {dropped / mb:.1f} MB ({' '.join(UNUSED_DIRS)}, tests, "
        "extension sources, stubs); "
        f"debug information stripped: {stripped / mb:.1f} MB"
    )
    for name, size in largest(args.out):
        print(f"  {size / mb:7.1f} MB  {name}")
    if unzipped >= args.max_mb * mb:
        print(f"build_lambda: {unzipped / mb:.1f} MB unzipped is over {args.max_mb:.0f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
