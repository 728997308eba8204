"""Liveness and the human pages behind problem types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hub.problems import PROBLEM_TYPES, Problem

router = APIRouter(tags=["meta"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


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
