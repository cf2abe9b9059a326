"""/health (liveness), /health/ready (dependencies answer) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mdreader import __version__
from mdreader.api.deps import ServicesDep, public
from mdreader.api.openapi import errors

router = APIRouter(tags=["health"], dependencies=[Depends(public)])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "healthy", "version": __version__}


@router.get("/health/ready", responses=errors(503))
async def ready(services: ServicesDep) -> JSONResponse:
    checks = {
        "database": services.db.ping(),
        "cache": services.cache.ping(),
        "storage": _storage_ping(services),
    }
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, timeout=3)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    if failed:
        return JSONResponse(
            {
                "status": "unavailable",
                "failed": failed,
                "detail": "Not ready: " + ", ".join(failed) + " did not answer.",
                "code": "not_ready",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "checks": {k: "ok" for k in checks}})


async def _storage_ping(services: ServicesDep) -> None:
    await services.storage.ping()


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
