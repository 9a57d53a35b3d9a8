"""What the ingest mixins (:mod:`central.ingest_events`, :mod:`central.ingest_devices`)
need from the :class:`central.ingest.Ingestor` they are part of: declared once here."""

from __future__ import annotations

from collections.abc import Callable


class IngestHooks:
    """The ingestor's own methods the message handlers call (it overrides each)."""

    def _push(self, incident_id: int | None) -> None:
        """Push a changed incident to the consoles after the batch's commit."""
        raise NotImplementedError

    def _later(self, action: Callable[[], object]) -> None:
        """Run ``action`` after the batch's commit (receipts, pushes, signals)."""
        raise NotImplementedError

    def dead_letter(self, topic: str, payload: bytes, reason: str,
                    device_id: str | None = None) -> None:
        """Keep a refused message with its reason (:mod:`central.dead_letters`)."""
        raise NotImplementedError
