"""`/v1/schemas`: the schema of every registered document type (JSON Schema or XSD), for integrators
who validate before they send, without a copy of the repository."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from hub.api.models import SchemaInfo
from hub.doctypes import DocType
from hub.problems import Problem

router = APIRouter(prefix="/v1/schemas", tags=["schemas"])

JSON_SCHEMA = "application/schema+json"
XSD = "application/xml"


def _media_type(path: Path) -> str:
    return JSON_SCHEMA if path.suffix == ".json" else XSD


def _info(doctype: DocType, schemas_dir: Path) -> SchemaInfo:
    relative = doctype.schema_file.resolve().relative_to(schemas_dir.resolve()).as_posix()
    return SchemaInfo(
        type=doctype.name,
        format=doctype.format,
        media_type=_media_type(doctype.schema_file),
        url=f"/v1/schemas/files/{relative}",
    )


@router.get("", response_model=list[SchemaInfo])
def list_schemas(request: Request) -> list[SchemaInfo]:
    """Every document type the hub accepts, with where its schema is."""
    registry = request.app.state.hub.doctypes
    return [_info(doctype, registry.schemas_dir) for doctype in registry]


@router.get(
    "/files/{path:path}",
    response_class=FileResponse,
    responses={200: {"content": {JSON_SCHEMA: {}, XSD: {}}, "description": "the schema file"}},
)
def schema_file(path: str, request: Request) -> FileResponse:
    """A schema file, including those an XSD imports or includes (relative locations resolve here)."""
    root = request.app.state.hub.doctypes.schemas_dir.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix not in (".json", ".xsd"):
        raise Problem("not-found", f"no schema file {path!r}")
    return FileResponse(target, media_type=_media_type(target))


@router.get(
    "/{doctype}",
    response_class=FileResponse,
    responses={200: {"content": {JSON_SCHEMA: {}, XSD: {}}, "description": "the type's schema"}},
)
def schema_of(doctype: str, request: Request) -> FileResponse:
    """The schema of one document type: JSON Schema for a JSON type, the XSD for an XML one."""
    registry = request.app.state.hub.doctypes
    if doctype not in registry:
        raise Problem("not-found", f"no document type {doctype!r}")
    found = registry.get(doctype)
    return FileResponse(found.schema_file, media_type=_media_type(found.schema_file))
