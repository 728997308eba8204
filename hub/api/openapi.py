"""The published OpenAPI document: the bearer scheme, problem+json answers, no phantom 422.

FastAPI generates the operations and response schemas from the routers; this module finishes what
it cannot know: every error the hub answers is RFC 9457 problem+json (hub.api.errors), including a
malformed request, which FastAPI would otherwise document as a 422 ``HTTPValidationError`` the hub
never sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.errors import PROBLEM_MEDIA_TYPE
from hub.api.models import ProblemDetails, RetryFilter
from hub.problems import PROBLEM_TYPES

BEARER = "bearer"
_PHANTOM = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/ProblemDetails"


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF}}}}


def _slugs(status_class: int) -> str:
    return ", ".join(sorted(s for s, t in PROBLEM_TYPES.items() if t.status // 100 == status_class))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of `app`, cached on it (FastAPI's contract for ``app.openapi``)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _PHANTOM:
        schemas.pop(name, None)
    for model in (ProblemDetails, RetryFilter):  # models of bodies the routers read themselves
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A participant's or operator's token (config/participants.yaml keeps its SHA-256).",
    }
    for route, path in spec.get("paths", {}).items():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # the hub answers a malformed request 400 invalid-request
            if route.startswith("/adapters/"):
                continue  # an outside system's callback: answered in that system's own format
            secured = bool(operation.get("security"))
            if secured:
                responses.setdefault("401", _problem_response("unauthenticated: missing or unknown token"))
            responses.setdefault("4XX", _problem_response(f"refused; problem types {_slugs(4)}"))
            responses.setdefault("5XX", _problem_response(f"the hub cannot serve now; {_slugs(5)}"))
    app.openapi_schema = spec
    return spec


def install_openapi(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
