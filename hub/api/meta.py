"""Liveness, readiness, Prometheus metrics and the human pages behind problem types."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import health, metrics
from hub.api.models import Health, ProblemTypeInfo, Ready
from hub.problems import PROBLEM_TYPES, Problem, ProblemType

router = APIRouter(tags=["meta"])


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> dict[str, Any]:
    """The process is up; with what it knows of the outside systems its adapters call (each check
    cached a few seconds) and where its delivery runs (a delivery process that died shows `down`
    until it is restarted). A peer down is reported here, not made a reason to be unready."""
    peers = await run_in_threadpool(request.app.state.peers.report)
    return {"status": "ok", "peers": peers, "delivery": _delivery(request)}


def _delivery(request: Request) -> dict[str, Any]:
    """Where delivery runs; in a child process, whether it is running now (hub.delivery_process)."""
    child = request.app.state.delivery_process
    if child is None:
        engine = request.app.state.runtime.engine
        return {"mode": "threads", "workers": engine.threads}
    return {**child.status().as_dict(), "workers": child.workers}


@router.get("/readyz", response_model=Ready)
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


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text exposition: intake and delivery counters, queue and ledger gauges."""
    body = await run_in_threadpool(
        metrics.exposition,
        request.app.state.hub.ledger,
        request.app.state.metrics_registry,
        request.app.state.delivery_process,
    )
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _wants_html(request: Request) -> bool:
    """A browser asks for text/html before JSON; a client asks for JSON (or anything)."""
    accept = request.headers.get("accept", "")
    html, json_ = accept.find("text/html"), accept.find("json")
    return html >= 0 and (json_ < 0 or html < json_)


def _info(known: ProblemType) -> dict[str, Any]:
    return {"type": f"/problems/{known.slug}", "title": known.title, "status": known.status}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · lienthong</title></head>
<body style="font-family: sans-serif; max-width: 46rem; margin: 2rem auto; line-height: 1.5">
<p><a href="/problems">All problem types</a></p>
{body}
</body></html>
"""


@router.get(
    "/problems/{slug}",
    response_model=ProblemTypeInfo,
    responses={200: {"content": {"text/html": {}}, "description": "JSON, or an HTML page for a browser"}},
)
def problem_type(slug: str, request: Request) -> Response:
    """What a problem type means (the `type` of every refusal points here): an HTML page for a
    browser (Accept: text/html), JSON for a client."""
    known = PROBLEM_TYPES.get(slug)
    if known is None:
        raise Problem("not-found", f"no problem type {slug!r}")
    if _wants_html(request):
        body = (
            f"<h1>{escape(known.title)}</h1>"
            f"<p>HTTP status <b>{known.status}</b>; problem type <code>/problems/{escape(slug)}</code>.</p>"
            "<p>The hub answers this as RFC 9457 <code>application/problem+json</code>: its "
            "<code>detail</code> says what was wrong with this request, and <code>errors</code> (when "
            "present) lists every finding with its location. Every refusal is recorded in the hub's "
            "ledger.</p>"
        )
        return HTMLResponse(_PAGE.format(title=escape(known.title), body=body))
    return JSONResponse(_info(known))


@router.get(
    "/problems",
    response_model=list[ProblemTypeInfo],
    responses={200: {"content": {"text/html": {}}, "description": "JSON, or an HTML page for a browser"}},
)
def problem_types(request: Request) -> Response:
    """Every problem type the hub can answer with (the catalogue)."""
    if _wants_html(request):
        rows = "".join(
            f'<tr><td><a href="/problems/{t.slug}"><code>{t.slug}</code></a></td>'
            f"<td>{t.status}</td><td>{escape(t.title)}</td></tr>"
            for t in PROBLEM_TYPES.values()
        )
        body = (
            f"<h1>Problem types</h1><table><tr><th>type</th><th>status</th><th>title</th></tr>{rows}</table>"
        )
        return HTMLResponse(_PAGE.format(title="Problem types", body=body))
    return JSONResponse([_info(t) for t in PROBLEM_TYPES.values()])
