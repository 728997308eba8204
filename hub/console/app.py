"""The operations console under /console: server-side pages (Jinja2), behind operator login.

Pages: overview, exchange log (keyset pages), one message (document, signature verdict, deliveries
with every attempt), a dossier's timeline, dead deliveries (retry, replay), alerts and operators'
actions, the ledger's integrity. Operators' actions (login, logout, retry, replay, verification)
are events in the ledger (``operator.*``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from hub import alerts
from hub.alerts import record_verification
from hub.console import charts, clock, hints, sessions
from hub.console.documents import readable
from hub.console.i18n import DEFAULT_LANGUAGE, LANG_COOKIE, LANGUAGES, glossary, translator
from hub.console.signatures import signature_verdict
from hub.console.throttle import LoginThrottle
from hub.delivery import retry_matching
from hub.ledger.queries import MessageFilter, decode_cursor
from hub.operators import Operator, Operators
from hub.problems import Problem
from hub.receipts import signed_receipt
from hub.runtime import Runtime

HERE = Path(__file__).resolve().parent
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DELIVERY_STATES = ("queued", "delivering", "delivered", "retrying", "dead")
VERDICT_KIND = "ledger.verified"
PAGE_SIZE = 50

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["data"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@dataclass
class Console:
    runtime: Runtime
    operators: Operators
    signer: sessions.SessionSigner
    throttle: LoginThrottle
    zone: ZoneInfo

    @property
    def ledger(self):  # the runtime's ledger, whatever its store
        return self.runtime.hub.ledger

    def record(self, kind: str, operator: str, **data: Any) -> None:
        self.ledger.append_event(
            f"operator.{kind}",
            message_id=data.pop("message_id", None),
            delivery_id=data.pop("delivery_id", None),
            data={"operator": operator, **data},
        )


def mount_console(app: FastAPI, runtime: Runtime) -> None:
    """Serve the console from `app` (its pages, static files and login redirect)."""
    settings = runtime.hub.settings
    secret = sessions.derive_secret(settings.console_secret, settings.effective_hub_key_file)
    app.state.console = Console(
        runtime,
        Operators.load(settings.operators_file),
        sessions.SessionSigner(secret, settings.console_session_hours * 3600),
        LoginThrottle(
            per_account=settings.console_login_limit_per_account,
            per_address=settings.console_login_limit_per_address,
            lockout_seconds=settings.console_lockout_seconds,
        ),
        clock.zone_named(settings.timezone),
    )
    zone = app.state.console.zone
    templates.env.globals["zone_name"] = settings.timezone
    templates.env.globals["zone_label"] = clock.offset_label(zone)
    templates.env.filters["local"] = lambda value, fmt="%Y-%m-%d %H:%M:%S": clock.shown(value, zone, fmt)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)
    from hub.console import reports  # its pages use this module's helpers

    app.include_router(reports.router)

    def problem_page(request: Request, problem: Problem) -> Response:
        session = app.state.console.signer.read(request.cookies.get(sessions.SESSION_COOKIE))
        operator = app.state.console.operators.get(session.operator_id) if session else None
        if operator is None:  # no page of the console's is shown to a stranger, not even a 404
            return RedirectResponse("/console/login", status_code=303)
        return page(
            request,
            "problem.html",
            problem.status,
            who=(operator, session),
            problem=problem,
            status=problem.status,
        )

    app.state.problem_page = problem_page

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, error: LoginRequired) -> Response:
        return RedirectResponse(f"/console/login?{urlencode({'next': error.next_url})}", status_code=303)


# -- plumbing --------------------------------------------------------------------------------------


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def signed_in(request: Request) -> tuple[Operator, sessions.Session]:
    """The operator of this request's session, or a redirect to the login page."""
    console = console_of(request)
    session = console.signer.read(request.cookies.get(sessions.SESSION_COOKIE))
    operator = console.operators.get(session.operator_id) if session else None
    if session is None or operator is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return operator, session


async def posted_form(request: Request, expected_csrf: str | None) -> dict[str, str]:
    """The urlencoded form of a console POST, refused unless it carries the session's CSRF token and
    comes from the console's own origin."""
    body = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if not sessions.same_origin(request) or not sessions.tokens_match(expected_csrf, form.get("csrf")):
        raise Problem("forbidden-operator", "the console form is stale or comes from elsewhere (CSRF check)")
    return form


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    operator, session = context.pop("who", (None, None))
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(lang),
            "gloss": glossary(lang),
            "lang": lang,
            "operator": operator,
            "csrf": session.csrf if session else None,
            "path": request.url.path,
            "query": request.url.query,
            **context,
        },
        status_code=status_code,
    )


def parse_moment(request: Request, value: str | None) -> datetime | None:
    """A datetime-local value from a form, read in the province's zone (what the rows show)."""
    return clock.read_input(value, console_of(request).zone)


# -- login -----------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/console", failed: bool = False) -> HTMLResponse:
    token = request.cookies.get(sessions.LOGIN_CSRF_COOKIE) or sessions.secrets.token_urlsafe(24)
    response = page(request, "login.html", next=next, failed=failed, login_csrf=token)
    sessions.set_cookie(response, request, sessions.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    console = console_of(request)
    form = await posted_form(request, request.cookies.get(sessions.LOGIN_CSRF_COOKIE))
    target = form.get("next", "/console")
    if not target.startswith("/console"):  # never an open redirect
        target = "/console"
    operator_id = form.get("operator", "").strip()
    client = request.client.host if request.client else None
    wait = console.throttle.wait(operator_id, client)
    if wait > 0:  # locked out: the password is not even checked, and nothing more is recorded
        seconds = math.ceil(wait)
        token = request.cookies.get(sessions.LOGIN_CSRF_COOKIE, "")
        response = page(request, "login.html", 429, next=target, locked_seconds=seconds, login_csrf=token)
        response.headers["Retry-After"] = str(seconds)
        return response
    operator = await run_in_threadpool(console.operators.authenticate, operator_id, form.get("password", ""))
    if operator is None:
        verdict = console.throttle.failed(operator_id, client)
        if verdict.burst_started:  # one event per burst of failures, not one per attempt
            await run_in_threadpool(console.record, "login-refused", operator_id[:64], client=client)
        if verdict.locked_for:
            await run_in_threadpool(
                console.record, "login-throttled", operator_id[:64], client=client, seconds=verdict.locked_for
            )
        return RedirectResponse(f"/console/login?{urlencode({'next': target, 'failed': 1})}", status_code=303)
    console.throttle.succeeded(operator_id, client)
    await run_in_threadpool(console.record, "login", operator.id, client=client)
    _session, value = console.signer.issue(operator.id)
    welcome = RedirectResponse(target, status_code=303)
    sessions.set_cookie(welcome, request, sessions.SESSION_COOKIE, value, int(console.signer.lifetime))
    welcome.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path=sessions.COOKIE_PATH)
    return welcome


@router.post("/logout")
async def logout(request: Request) -> Response:
    operator, session = signed_in(request)
    await posted_form(request, session.csrf)
    await run_in_threadpool(console_of(request).record, "logout", operator.id)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path=sessions.COOKIE_PATH)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/console") -> Response:
    response = RedirectResponse(next if next.startswith("/console") else "/console", status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, path="/console", samesite="strict")
    return response


# -- overview --------------------------------------------------------------------------------------


@router.get("")
def overview(request: Request) -> HTMLResponse:
    who = signed_in(request)
    ledger = console_of(request).ledger
    buckets = ledger.throughput(bucket=timedelta(minutes=10), count=36)
    last_hour = buckets[-6:]
    by_type: dict[str, int] = {}
    by_adapter: dict[str, dict[str, int]] = {}
    for bucket in last_hour:
        for doctype, count in bucket.by_type.items():
            by_type[doctype] = by_type.get(doctype, 0) + count
        for (adapter, state), count in bucket.outcomes.items():
            by_adapter.setdefault(adapter, {}).setdefault(state, 0)
            by_adapter[adapter][state] += count
    figures = ledger.queue_figures()
    zone = console_of(request).zone
    waiting: dict[str, int] = {}
    for (adapter, state), count in figures.deliveries_by_state.items():
        if state in ("queued", "delivering", "retrying"):
            waiting[adapter] = waiting.get(adapter, 0) + count
        by_adapter.setdefault(adapter, {})
    dead_now = sum(n for (_, state), n in figures.deliveries_by_state.items() if state == "dead")
    return page(
        request,
        "overview.html",
        who=who,
        chart=charts.activity_chart(buckets, zone, clock.offset_label(zone)),
        colours=charts.type_colours(buckets),
        received=sum(b.received for b in last_hour),
        failed=sum(b.failed for b in last_hour),
        by_type=sorted(by_type.items()),
        by_adapter=sorted(by_adapter.items()),
        figures=figures,
        oldest_age=int(figures.oldest_pushed_age()),
        inbox_age=int(figures.oldest_in_inbox_age()),
        waiting=waiting,
        refresh=30,
        dead_now=dead_now,
        alerts=ledger.events_of_kinds([], prefix="alert.", limit=5),
        verdict=next(iter(ledger.events_of_kinds([VERDICT_KIND], limit=1)), None),
    )


# -- exchange log ----------------------------------------------------------------------------------


@router.get("/messages")
def exchange_log(
    request: Request,
    q: str = "",
    since: str = "",
    until: str = "",
    participant: str = "",
    type: str = "",
    state: str = "",
    adapter: str = "",
    after: str = "",
) -> Response:
    who = signed_in(request)
    console = console_of(request)
    q = q.strip()
    if UUID.match(q.lower()) and console.ledger.get_message(q.lower()) is not None:
        return RedirectResponse(f"/console/messages/{q.lower()}", status_code=303)
    filters = MessageFilter(
        since=parse_moment(request, since),
        until=parse_moment(request, until),
        participant=participant.strip() or None,
        doctype=type or None,
        state=state or None,
        adapter=adapter or None,
        correlation_key=q or None,
    )
    try:
        decode_cursor(after) if after else None
    except ValueError:
        after = ""
    found = console.ledger.search_messages(filters, after=after or None, limit=PAGE_SIZE)
    kept = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return page(
        request,
        "messages.html",
        who=who,
        page=found,
        form={
            "q": q,
            "since": since,
            "until": until,
            "participant": participant,
            "type": type,
            "state": state,
            "adapter": adapter,
        },
        types=console.runtime.hub.doctypes.names(),
        adapters=sorted({*console.runtime.adapters.names(), "inbox"}),
        states=("accepted", *DELIVERY_STATES),
        older=f"/console/messages?{urlencode({**kept, 'after': found.next_cursor})}"
        if found.next_cursor
        else None,
        newest=f"/console/messages?{urlencode(kept)}" if after else None,
    )


# -- one message -----------------------------------------------------------------------------------


def _message_or_404(request: Request, message_id: str):  # a message record, or a 404 page
    message = console_of(request).ledger.get_message(message_id)
    if message is None:
        raise Problem("not-found", f"no message {message_id}")
    return message


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: str) -> HTMLResponse:
    who = signed_in(request)
    console = console_of(request)
    message = _message_or_404(request, message_id)
    document, content_type, _signature = console.ledger.get_document(message_id)
    events = console.ledger.list_events(message_id)
    attempts: dict[str, list[Any]] = {d.id: [] for d in message.deliveries}
    for event in events:
        if event.delivery_id in attempts:
            attempts[event.delivery_id].append(event)
    replay_of = next((e.data.get("replay_of") for e in events if e.kind == "message.received"), None)
    return page(
        request,
        "message.html",
        who=who,
        message=message,
        events=events,
        attempts=attempts,
        replay_of=replay_of,
        verdict=signature_verdict(console.runtime.hub, message, document),
        readable=readable(document, content_type),
    )


@router.get("/messages/{message_id}/document")
def message_document(request: Request, message_id: str) -> Response:
    signed_in(request)
    _message_or_404(request, message_id)
    document, content_type, signature = console_of(request).ledger.get_document(message_id)
    extension = "json" if content_type.endswith("json") else "xml"
    headers = {"Content-Disposition": f'attachment; filename="{message_id}.{extension}"'}
    if signature:
        headers["x-jws-signature"] = signature
    return Response(document, media_type=content_type, headers=headers)


@router.get("/messages/{message_id}/receipt")
def message_receipt(request: Request, message_id: str) -> Response:
    signed_in(request)
    message = _message_or_404(request, message_id)
    hub = console_of(request).runtime.hub
    body, signature = signed_receipt(message, hub.identity, hub.ledger.latest_checkpoint())
    headers = {
        "Content-Disposition": f'attachment; filename="receipt-{message_id}.json"',
        "x-jws-signature": signature,
    }
    return Response(body, media_type="application/json", headers=headers)


@router.post("/messages/{message_id}/replay")
async def replay(request: Request, message_id: str) -> Response:
    operator, session = signed_in(request)
    await posted_form(request, session.csrf)
    console = console_of(request)
    result = await run_in_threadpool(console.runtime.intake.replay, message_id, by=operator.id)
    await run_in_threadpool(
        console.record, "replay", operator.id, message_id=message_id, replay=result.message.id
    )
    return RedirectResponse(f"/console/messages/{result.message.id}", status_code=303)


# -- timeline --------------------------------------------------------------------------------------


@router.get("/timeline")
def timeline_search(request: Request, key: str = "") -> Response:
    who = signed_in(request)
    if key.strip():
        return RedirectResponse(f"/console/timeline/{quote(key.strip(), safe='')}", status_code=303)
    return page(request, "timeline.html", who=who, key="", timeline=None)


@router.get("/timeline/{key:path}")
def timeline_page(request: Request, key: str) -> HTMLResponse:
    who = signed_in(request)
    timeline = console_of(request).ledger.timeline(key)
    by_id = {m.id: m for m in timeline.messages}
    return page(
        request,
        "timeline.html",
        who=who,
        key=key,
        timeline=timeline,
        by_id=by_id,
        status_code=200 if timeline.messages else 404,
    )


# -- deliveries ------------------------------------------------------------------------------------


@dataclass
class DeliveryRow:
    """One line of the deliveries page: what is stuck, for whom, since when, what to do."""

    delivery: Any
    message: Any
    recipient_name: str
    failing_since: datetime | None
    failure: str | None  # a hints class, None when the delivery has not failed
    can_retry: bool


def delivery_rows(console: Console, found: list[Any]) -> list[DeliveryRow]:
    participants = console.runtime.hub.participants
    rows = []
    for d in found:
        events = [e for e in console.ledger.list_events(d.message_id) if e.delivery_id == d.id]
        failed = [e for e in events if e.kind in ("delivery.retrying", "delivery.dead")]
        permanent = any(e.kind == "delivery.dead" and e.data.get("permanent") for e in events[-3:])
        failure = hints.failure_class(d.last_error, permanent) if failed else None
        known = participants.get(d.recipient)
        rows.append(
            DeliveryRow(
                delivery=d,
                message=console.ledger.get_message(d.message_id),
                recipient_name=known.name if known else "",
                failing_since=failed[0].at if failed else None,
                failure=failure,
                can_retry=d.state in ("dead", "retrying") and hints.RETRYABLE.get(failure or "", True),
            )
        )
    return rows


@router.get("/deliveries")
def deliveries_page(
    request: Request, state: str = "dead", adapter: str = "", recipient: str = ""
) -> HTMLResponse:
    who = signed_in(request)
    console = console_of(request)
    state = state if state in DELIVERY_STATES else "dead"
    found = console.ledger.list_deliveries(
        state=state, adapter=adapter or None, recipient=recipient.strip() or None, limit=200
    )
    return page(
        request,
        "deliveries.html",
        who=who,
        rows=delivery_rows(console, found),
        state=state,
        states=DELIVERY_STATES,
        form={"adapter": adapter, "recipient": recipient.strip()},
        adapters=sorted({*console.runtime.adapters.names(), "inbox"}),
        participants=sorted(console.runtime.hub.participants, key=lambda p: p.id),
        retried=request.query_params.get("retried"),
        retried_count=request.query_params.get("retried_count"),
        refresh=30,
    )


@router.post("/deliveries/retry")
async def retry_many(request: Request) -> Response:
    """Bulk retry: every dead (or retrying) delivery matching the page's filter."""
    operator, session = signed_in(request)
    form = await posted_form(request, session.csrf)
    console = console_of(request)
    state = form.get("state", "dead")
    recipient, adapter = form.get("recipient", "").strip() or None, form.get("adapter", "") or None
    engine = console.runtime.engine
    requeued = await run_in_threadpool(
        lambda: retry_matching(
            engine.hub.ledger, state=state, recipient=recipient, adapter=adapter, limit=200, by=operator.id
        )
    )
    await run_in_threadpool(engine.enqueue_deliveries, requeued)
    await run_in_threadpool(
        console.record,
        "bulk-retry",
        operator.id,
        state=state,
        recipient=recipient,
        adapter=adapter,
        count=len(requeued),
    )
    query = {
        "state": state,
        "adapter": adapter or "",
        "recipient": recipient or "",
        "retried_count": len(requeued),
    }
    return RedirectResponse(f"/console/deliveries?{urlencode(query)}", status_code=303)


@router.post("/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str) -> Response:
    operator, session = signed_in(request)
    form = await posted_form(request, session.csrf)
    console = console_of(request)
    delivery = await run_in_threadpool(console.ledger.requeue, delivery_id, by=operator.id)
    console.runtime.engine.enqueue_deliveries([delivery])
    await run_in_threadpool(console.record, "retry", operator.id, delivery_id=delivery_id)
    back = form.get("next", "")
    target = back if back.startswith("/console") else f"/console/deliveries?retried={delivery_id}"
    return RedirectResponse(target, status_code=303)


# -- alerts and the ledger -------------------------------------------------------------------------


@dataclass
class AlertRow:
    event: Any
    status: str  # open, acknowledged, resolved
    resolved: Any | None
    acknowledged: Any | None


@router.get("/alerts")
def alerts_page(request: Request) -> HTMLResponse:
    who = signed_in(request)
    ledger = console_of(request).ledger
    resolutions = {
        e.data.get("raised_event"): e for e in ledger.events_of_kinds([alerts.RESOLVED], limit=1000)
    }
    acks = {e.data.get("raised_event"): e for e in ledger.events_of_kinds([alerts.ACKNOWLEDGED], limit=1000)}
    rows = []
    for event in ledger.events_of_kinds([], prefix="alert.", limit=200):
        resolved, acknowledged = resolutions.get(event.id), acks.get(event.id)
        status = "resolved" if resolved else "acknowledged" if acknowledged else "open"
        rows.append(AlertRow(event, status, resolved, acknowledged))
    return page(
        request,
        "alerts.html",
        who=who,
        rows=rows,
        open_count=sum(1 for r in rows if r.status == "open"),
        actions=ledger.events_of_kinds([alerts.ACKNOWLEDGED], prefix="operator.", limit=100),
        refresh=30,
    )


@router.post("/alerts/{event_id}/acknowledge")
async def acknowledge_alert(request: Request, event_id: str) -> Response:
    """An operator takes an alert in hand: recorded (alert-acknowledged, with who and a note)."""
    operator, session = signed_in(request)  # first: a stranger learns nothing, not even a 400
    form = await posted_form(request, session.csrf)
    hub = console_of(request).runtime.hub
    alert_id = int(event_id) if event_id.isdigit() else -1
    found = [e for e in hub.ledger.events_of_kinds([], prefix="alert.", limit=1000) if e.id == alert_id]
    if not found:
        raise Problem("not-found", f"no alert {event_id}")
    await run_in_threadpool(
        lambda: alerts.acknowledge(hub, alert_id, by=operator.id, note=form.get("note", "").strip())
    )
    return RedirectResponse("/console/alerts", status_code=303)


# -- peers and setup (read-only) -------------------------------------------------------------------


@dataclass
class AdapterHealth:
    name: str
    endpoints: list[dict[str, Any]]  # PeerWatch.report() rows of this adapter
    last_success: Any | None  # the most recently delivered delivery
    last_failure: Any | None  # the most recently failed (retrying or dead) delivery


@router.get("/peers")
def peers_page(request: Request) -> HTMLResponse:
    """Every adapter's outside endpoints (reachable now?), its last success and its last error."""
    who = signed_in(request)
    console = console_of(request)
    report = console.runtime.peers.report()
    for row in report:  # shown on the province's clock like every other time
        since = row.get("down_since")
        row["down_since_at"] = datetime.fromisoformat(str(since)) if since else None
    ledger = console.ledger
    rows = []
    for name in sorted({*console.runtime.adapters.names(), "inbox"}):
        failures = [
            d
            for state in ("retrying", "dead")
            for d in ledger.list_deliveries(state=state, adapter=name, limit=1)
        ]
        rows.append(
            AdapterHealth(
                name=name,
                endpoints=[r for r in report if r["adapter"] == name],
                last_success=next(
                    iter(ledger.list_deliveries(state="delivered", adapter=name, limit=1)), None
                ),
                last_failure=max(failures, key=lambda d: d.updated_at, default=None),
            )
        )
    return page(request, "peers.html", who=who, rows=rows, refresh=30)


@dataclass
class CertificateRow:
    role: str
    subject: str
    serial: str
    not_after: datetime
    days_left: int


def certificate_rows(console: Console) -> list[CertificateRow]:
    hub = console.runtime.hub
    watched = [("hub", hub.identity.certificate)]
    watched += [("trust anchor", c) for c in hub.trust.anchors]
    watched += [("intermediate", c) for c in hub.trust.intermediates]
    now = datetime.now(UTC)
    return [
        CertificateRow(
            role=role,
            subject=cert.subject.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
            days_left=int((cert.not_valid_after_utc - now).total_seconds() // 86400),
        )
        for role, cert in watched
    ]


@router.get("/setup/{section}")
def setup_page(request: Request, section: str) -> HTMLResponse:
    """Read-only views of the configuration: participants, routes, certificates."""
    who = signed_in(request)
    console = console_of(request)
    if section not in ("participants", "routes", "certificates"):
        raise Problem("not-found", f"no setup page {section!r}")
    hub = console.runtime.hub
    return page(
        request,
        "setup.html",
        who=who,
        section=section,
        participants=sorted(hub.participants, key=lambda p: p.id),
        routes=hub.routes.routes,
        certificates=certificate_rows(console),
        warn_days=hub.settings.alert_certificate_days,
    )


@router.get("/ledger")
def ledger_page(request: Request) -> HTMLResponse:
    who = signed_in(request)
    verdicts = console_of(request).ledger.events_of_kinds([VERDICT_KIND], limit=10)
    return page(request, "ledger.html", who=who, verdicts=verdicts)


@router.post("/ledger/verify")
async def verify_ledger(request: Request) -> Response:
    operator, session = signed_in(request)
    await posted_form(request, session.csrf)
    await run_in_threadpool(record_verification, console_of(request).runtime.hub, by=operator.id)
    return RedirectResponse("/console/ledger", status_code=303)
