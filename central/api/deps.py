"""What every router shares: the running service and who is acting.

Routes are ``async def`` and never touch SQLite on the event loop: they await
``service.writer`` (writes, one thread) or ``service.readers`` (reads), see
:mod:`central.service`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from central.api.models import ActionBody
from central.service import CentralService

logger = logging.getLogger(__name__)


def get_service(request: Request) -> CentralService:
    """The :class:`CentralService` the app's lifespan started."""
    service: CentralService = request.app.state.central
    return service


Service = Annotated[CentralService, Depends(get_service)]


def acting_officer(request: Request, body: ActionBody) -> str:
    """Who is acting. The ONE place that decides it.

    Today the console sends the officer's id in the body. When login and
    roles arrive, this derives the officer from the session and checks that
    they may act for the incident's station.
    """
    del request  # the session will live here
    return body.actor
