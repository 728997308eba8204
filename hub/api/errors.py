"""Every error the API answers is RFC 9457 problem+json with a stable type."""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from hub.problems import Problem
from hub.signing.keys import SigningUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("hub.api")

_HTTP_STATUS_SLUGS = {
    401: "unauthenticated",
    404: "not-found",
    405: "invalid-request",
    413: "body-too-large",
    415: "unsupported-media-type",
}


STORAGE_RETRY_AFTER_SECONDS = 10


def storage_trouble(error: BaseException) -> str | None:
    """A short description when `error` says the ledger's storage cannot take writes (a full disk, a
    read-only or unreachable database), None for anything else."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT):
        return f"{type(error).__name__}: {error.strerror or error}"
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return _first_line(error)
    if isinstance(error, sa_exc.InternalError) and getattr(error.orig, "sqlstate", None) == "25006":
        return _first_line(error)  # PostgreSQL: a read-only transaction
    return None


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0] if text else ''}"[:300]


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        problem.to_dict(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, problem: Problem) -> Response:
        # A browser page (the console) shows a refusal as a page of its own, not raw JSON.
        html_page = getattr(request.app.state, "problem_page", None)
        browser = "text/html" in request.headers.get("accept", "")
        if html_page is not None and browser and request.url.path.startswith("/console/"):
            return html_page(request, problem)
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_STATUS_SLUGS.get(error.status_code, "invalid-request")
        problem = Problem(slug, str(error.detail))
        response = problem_response(problem, request)
        response.status_code = error.status_code
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": "/".join(str(part) for part in item.get("loc", ())), "message": item.get("msg", "")}
            for item in error.errors()
        ]
        return problem_response(
            Problem("invalid-request", "the request is malformed", errors=errors), request
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, error: ClientDisconnect) -> Response:
        # Nobody is listening: one line, no traceback, and nothing more to answer.
        log.info("client went away during %s %s", request.method, request.url.path)
        return Response(status_code=400)

    # Registered for these classes (not Exception), so Starlette answers here and does not re-raise
    # to the server: one log line, no traceback, the connection kept.
    async def _storage(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, sa_exc.DataError):  # a value the database refuses: the request's fault
            log.warning(
                "the database refused a value of %s %s: %s",
                request.method,
                request.url.path,
                _first_line(error),
            )
            return problem_response(
                Problem("invalid-request", "the request holds a value the ledger cannot take"), request
            )
        trouble = storage_trouble(error)
        if trouble is None:
            raise error  # not storage: the internal-error handler below answers and logs it
        log.error("storage unavailable during %s %s: %s", request.method, request.url.path, trouble)
        response = problem_response(Problem("storage-unavailable", trouble), request)
        response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(SigningUnavailable)
    async def _signing(request: Request, error: SigningUnavailable) -> JSONResponse:
        # The hub's key (an HSM) cannot sign now: nothing was accepted; the sender tries again.
        log.error("signing unavailable during %s %s: %s", request.method, request.url.path, error)
        response = problem_response(Problem("not-ready", str(error)), request)
        response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response

    app.add_exception_handler(sa_exc.SQLAlchemyError, _storage)
    app.add_exception_handler(OSError, _storage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem("internal-error", f"{type(error).__name__}; see the hub's log"), request
        )
