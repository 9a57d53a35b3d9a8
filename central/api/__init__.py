"""Central's HTTP API, WebSocket and console: :func:`create_app` builds the FastAPI app.

One router per area: :mod:`~central.api.incidents`, :mod:`~central.api.devices`
(devices, commands, stations), :mod:`~central.api.commissioning`,
:mod:`~central.api.snapshots`, :mod:`~central.api.audit`, :mod:`~central.api.health`
(health, dead letters); shared dependencies in :mod:`~central.api.deps`, request and response
shapes in :mod:`~central.api.models`.
"""

from central.api.app import STATIC_DIR, create_app

__all__ = ["STATIC_DIR", "create_app"]
