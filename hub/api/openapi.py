"""The published OpenAPI document: the security schemes, problem+json answers, no phantom 422.

FastAPI generates the operations and response schemas from the routers; this module finishes what
it cannot know: every error the hub answers is RFC 9457 problem+json (hub.api.errors), including a
malformed request, which FastAPI would otherwise document as a 422 ``HTTPValidationError`` the hub
never sends; and how a participant authenticates — a bearer token, and when the hub serves TLS
itself (``LIENTHONG_TLS_CERT_FILE``) a TLS client certificate too (OpenAPI 3.1 ``mutualTLS``), which
``LIENTHONG_REQUIRE_CLIENT_CERTIFICATE`` makes the only way in (hub.api.auth).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.errors import PROBLEM_MEDIA_TYPE
from hub.api.models import ProblemDetails, RetryFilter
from hub.problems import PROBLEM_TYPES
from hub.settings import Settings

BEARER = "bearer"
MUTUAL_TLS = "mutualTLS"
_PHANTOM = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/ProblemDetails"


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF}}}}


def _slugs(status_class: int) -> str:
    return ", ".join(sorted(s for s, t in PROBLEM_TYPES.items() if t.status // 100 == status_class))


def _security_schemes(settings: Settings) -> dict[str, dict[str, Any]]:
    """The ways a participant can authenticate to this hub, as OpenAPI security schemes."""
    schemes: dict[str, dict[str, Any]] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A participant's or operator's token"
            " (config/participants.yaml keeps its SHA-256).",
        }
    }
    if settings.tls_cert_file is not None:  # the hub terminates TLS and asks for client certificates
        required = ""
        if settings.require_client_certificate:
            required = " Required: a bearer token alone is refused."
        schemes[MUTUAL_TLS] = {
            "type": "mutualTLS",
            "description": "A TLS client certificate issued by a CA of the hub's trust store, mapped to its"
            " participant; a bearer token sent beside it must name the same participant." + required,
        }
    return schemes


def _participant_security(settings: Settings) -> list[dict[str, list[str]]]:
    """The `security` of an operation that needs a participant (any one entry suffices)."""
    if settings.tls_cert_file is None:
        return [{BEARER: []}]
    if settings.require_client_certificate:
        return [{MUTUAL_TLS: []}, {MUTUAL_TLS: [], BEARER: []}]
    return [{BEARER: []}, {MUTUAL_TLS: []}]


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
    settings: Settings = app.state.hub.settings
    components["securitySchemes"] = _security_schemes(settings)
    participant_security = _participant_security(settings)
    for route, path in spec.get("paths", {}).items():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # the hub answers a malformed request 400 invalid-request
            if route.startswith("/adapters/"):
                continue  # an outside system's callback: answered in that system's own format
            secured = bool(operation.get("security"))  # FastAPI's [{"bearer": []}] from hub.api.auth
            if secured:
                operation["security"] = participant_security
                responses.setdefault("401", _problem_response("unauthenticated: missing or unknown token"))
            responses.setdefault("4XX", _problem_response(f"refused; problem types {_slugs(4)}"))
            responses.setdefault("5XX", _problem_response(f"the hub cannot serve now; {_slugs(5)}"))
    app.openapi_schema = spec
    return spec


def install_openapi(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
