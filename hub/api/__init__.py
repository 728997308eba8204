"""The hub's HTTP API (FastAPI). :func:`create_app` builds it around one :class:`HubContext`."""

from hub.api.app import create_app

__all__ = ["create_app"]
