"""Render :class:`hub.problems.Problem` raised by the simulators' admin API as problem+json."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub.problems import Problem


def install_problem_handler(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def render_problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(
            exc.to_dict(instance=request.url.path),
            status_code=exc.status,
            media_type="application/problem+json",
        )
