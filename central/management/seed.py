"""The starting data central stores at every start (each only once): the checklists for
school, hotel and village workshop, the telemetry rules and version 1 of the score rules."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlite_utils import Database

from central.management import checklists, scores, telemetry

logger = logging.getLogger(__name__)


def seed_all(db: Database, now: datetime) -> None:
    checklists.seed(db, now)
    telemetry.seed(db)
    scores.seed(db, now)
