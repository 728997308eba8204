"""Every error the API answers is RFC 9457 problem+json with a stable type."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from hub.problems import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("hub.api")

_HTTP_STATUS_SLUGS = {
    401: "unauthenticated",
    404: "not-found",
    405: "invalid-request",
    413: "body-too-large",
    415: "unsupported-media-type",
}


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
    async def _problem(request: Request, problem: Problem) -> JSONResponse:
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem("internal-error", f"{type(error).__name__}; see the hub's log"), request
        )
