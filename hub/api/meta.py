"""Liveness, readiness, Prometheus metrics and the human pages behind problem types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from hub import health, metrics
from hub.problems import PROBLEM_TYPES, Problem

router = APIRouter(tags=["meta"])


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """The process is up; with what it knows of the outside systems its adapters call (each check
    cached a few seconds). A peer down is reported here, not made a reason to be unready."""
    peers = await run_in_threadpool(request.app.state.peers.report)
    return {"status": "ok", "peers": peers}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, Any]:
    """Ready to accept and record: the ledger takes a write, the queue answers (RabbitMQ, when
    configured), the hub's key is usable. 503 `not-ready` names what does not. Outside peers are not
    part of readiness (see /healthz)."""
    runtime = request.app.state.runtime
    checks = await run_in_threadpool(health.readiness, runtime.hub, runtime.queue)
    report = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
    failing = [c for c in checks if not c.ok]
    if failing:
        detail = "; ".join(f"{c.name}: {c.detail}" for c in failing)
        raise Problem("not-ready", detail, extra={"checks": report})
    return {"status": "ready", "checks": report}


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text exposition: intake and delivery counters, queue and ledger gauges."""
    body = await run_in_threadpool(
        metrics.exposition, request.app.state.hub.ledger, request.app.state.metrics_registry
    )
    return Response(body, media_type=metrics.CONTENT_TYPE)


@router.get("/problems/{slug}")
def problem_type(slug: str) -> dict[str, Any]:
    """What a problem type means (the `type` of every refusal points here)."""
    known = PROBLEM_TYPES.get(slug)
    if known is None:
        raise Problem("not-found", f"no problem type {slug!r}")
    return {"type": f"/problems/{slug}", "title": known.title, "status": known.status}


@router.get("/problems")
def problem_types() -> list[dict[str, Any]]:
    """Every problem type the hub can answer with."""
    return [
        {"type": f"/problems/{t.slug}", "title": t.title, "status": t.status} for t in PROBLEM_TYPES.values()
    ]
