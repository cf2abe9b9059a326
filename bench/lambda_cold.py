"""bench/lambda_cold: the Lambda handler's cold start, beside a bare Mangum + Starlette app.

Each sample is a fresh interpreter (what a new Lambda execution environment pays): it imports
the handler module, then answers its first event (an HTTP API v2 ``GET /health``). The same is
done for a one-route Starlette app behind Mangum (the reference), for a one-route FastAPI app
importing the libraries MDReader stands on (context: the framework's share), and
``python -c pass`` is timed as the floor; the figures to watch are the ratios
MDReader / reference (lower is better). "import + first" is the cold start a request waits
for (on Lambda the handler module builds and starts the app at import, in the init phase;
here, without AWS_LAMBDA_FUNCTION_NAME, the first event does). Each figure is given in wall
time and in CPU time (user + system, all threads): on a shared, loaded machine the CPU
figures are the steadier ones.
With ``--package DIR`` (the output of infrastructure/scripts/build_lambda.py) every sample
runs in ``--python`` (the Lambda runtime's version) with nothing but the standard library and
DIR on its path, as on Lambda; the package's size is printed too.
Usage: python -m bench.lambda_cold [--runs 7] [--package build/lambda --python python3.12]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/health",
    "rawQueryString": "",
    "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com"},
    "requestContext": {
        "http": {
            "method": "GET",
            "path": "/health",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.1",
            "userAgent": "bench",
        },
        "requestId": "bench",
        "routeKey": "$default",
        "stage": "$default",
    },
    "body": None,
    "isBase64Encoded": False,
}

MDREADER = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
from mdreader.lambda_handler import handler
t1, c1 = time.perf_counter(), time.process_time()
r = handler(json.loads(EVENT), None)
t2, c2 = time.perf_counter(), time.process_time()
assert r["statusCode"] == 200, r
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "import_cpu": c1 - c0, "first_cpu": c2 - c1}))
"""

REFERENCE = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
from mangum import Mangum
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def health(request):
    return JSONResponse({"status": "healthy"})

handler = Mangum(Starlette(routes=[Route("/health", health)]), lifespan="off")
t1, c1 = time.perf_counter(), time.process_time()
r = handler(json.loads(EVENT), None)
t2, c2 = time.perf_counter(), time.process_time()
assert r["statusCode"] == 200, r
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "import_cpu": c1 - c0, "first_cpu": c2 - c1}))
"""

# For context: the libraries MDReader stands on (FastAPI, SQLAlchemy, pydantic-settings,
# redis, PyJWT), imported with a one-route FastAPI app behind Mangum: the framework's share.
FRAMEWORK = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
import jwt, pydantic_settings, redis.asyncio, sqlalchemy.ext.asyncio, sqlalchemy.orm
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()

@app.get("/health")
async def health():
    return {"status": "healthy"}

handler = Mangum(app, lifespan="off")
t1, c1 = time.perf_counter(), time.process_time()
r = handler(json.loads(EVENT), None)
t2, c2 = time.perf_counter(), time.process_time()
assert r["statusCode"] == 200, r
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "import_cpu": c1 - c0, "first_cpu": c2 - c1}))
"""


PYTHON = [sys.executable]


def sample(code: str, env: dict[str, str]) -> dict[str, float]:
    script = f"EVENT = {json.dumps(json.dumps(EVENT))}\n{code}"
    start = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [*PYTHON, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    total = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"sample failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
    result["total"] = total
    # The child's user + system CPU time (all its threads): what a loaded machine's wall
    # clock blurs, and what a Lambda's init phase, at full CPU, mostly pays.
    result["total_cpu"] = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    if "import" in result:
        result["cold"] = result["import"] + result["first"]
        result["cold_cpu"] = result["import_cpu"] + result["first_cpu"]
    return result


def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--package", type=Path, help="a built Lambda package (build_lambda.py)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for --package")
    args = parser.parse_args()
    if args.package:
        # -S: no site-packages; the package and the standard library only, as on Lambda.
        PYTHON[:] = [args.python, "-S"]
        size = sum(f.stat().st_size for f in args.package.rglob("*") if f.is_file())
        print(f"package {args.package}: {size / 1024 / 1024:.1f} MB unzipped")

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MDREADER_", "AWS_"))}
        env.update(
            MDREADER_DATA_DIR=tmp,
            MDREADER_SECRET_KEY="bench-" + "k" * 58,
            MDREADER_WEB_DIST=str(Path(tmp) / "no-web"),
            MDREADER_LOG_JSON="false",
            PYTHONDONTWRITEBYTECODE="",
        )
        if args.package:
            env["PYTHONPATH"] = str(args.package.resolve())
        from mdreader.db import migrate

        migrate(f"sqlite+aiosqlite:///{Path(tmp) / 'mdreader.db'}")  # done at deploy time
        floor, reference, framework, mdreader = [], [], [], []
        # Interleaved, so that machine noise hits all three alike; one warm-up of each fills
        # the OS file cache and the bytecode cache (a Lambda image ships compiled bytecode).
        sample("pass", env)
        sample(REFERENCE, env)
        sample(FRAMEWORK, env)
        sample(MDREADER, env)
        for _ in range(args.runs):
            floor.append(sample("pass", env)["total"])
            reference.append(sample(REFERENCE, env))
            framework.append(sample(FRAMEWORK, env))
            mdreader.append(sample(MDREADER, env))

    python_ms = statistics.median(floor) * 1000
    rows = {
        "import": "import",
        "first event": "first",
        "import + first": "cold",
        "process total": "total",
        "import CPU": "import_cpu",
        "first event CPU": "first_cpu",
        "import + first CPU": "cold_cpu",
        "process CPU": "total_cpu",
    }
    figures = {name: (med(mdreader, key), med(reference, key)) for name, key in rows.items()}
    print(
        f"bench/lambda_cold  median of {args.runs} fresh interpreters  (python -c pass: {python_ms:.0f} ms)"
    )
    print(f"{'':20}{'MDReader ms':>13}{'Mangum+Starlette ms':>21}{'ratio':>8}")
    for name, (m, r) in figures.items():
        print(f"{name:20}{m * 1000:>13.0f}{r * 1000:>21.0f}{m / r:>8.2f}")
    cold_m = figures["process total"][0] * 1000 - python_ms
    cold_r = figures["process total"][1] * 1000 - python_ms
    print(
        f"beyond the interpreter: MDReader {cold_m:.0f} ms, reference {cold_r:.0f} ms, ratio {cold_m / cold_r:.2f}"
    )
    fw_import = med(framework, "import")
    print(
        f"For context, FastAPI+SQLAlchemy+pydantic-settings+redis+PyJWT behind Mangum imports in "
        f"{fw_import * 1000:.0f} ms = {fw_import / figures['import'][1]:.2f} of the reference; "
        f"MDReader's import = {figures['import'][0] / fw_import:.2f} of it"
    )
    print(
        json.dumps(
            {
                "runs": args.runs,
                "python_ms": round(python_ms, 1),
                "framework_import_ms": round(fw_import * 1000, 1),
                **{
                    name.replace(" + ", "_").replace(" ", "_").lower(): {
                        "mdreader_ms": round(m * 1000, 1),
                        "reference_ms": round(r * 1000, 1),
                        "ratio": round(m / r, 2),
                    }
                    for name, (m, r) in figures.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
