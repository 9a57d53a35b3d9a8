"""Central's HTTP API, WebSocket and console: :func:`create_app` builds the FastAPI app."""

from central.api.app import STATIC_DIR, create_app

__all__ = ["STATIC_DIR", "create_app"]
