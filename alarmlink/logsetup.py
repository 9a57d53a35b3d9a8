"""Logging for people and for machines: ``alarmlink --log-format text|json``.

``text`` is one line per record for a terminal or the journal. ``json`` is one JSON
object per line (``ts``, ``level``, ``logger``, ``message``, and ``exc`` for a failure),
for journald's structured fields via a log shipper, Loki, Elasticsearch and the like.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the stream of
    the moment it was configured (a redirected or closed stderr then never breaks a
    background thread's logging)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: int, fmt: str = "text") -> None:
    """The root logger: ``level``, to stderr, as ``fmt`` (``text`` or ``json``)."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's loggers at INFO, printed by the root handler (so in the same format)."""
    return {"version": 1, "disable_existing_loggers": False,
            "loggers": {"uvicorn": {"level": "INFO"}, "uvicorn.access": {"level": "INFO"}}}
