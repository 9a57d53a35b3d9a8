"""The agent's recording uploads (issue 18, line 3): an upload whose chunk the broker
never acknowledged is tried again when the link reconnects, even when that reconnect
comes while the stuck upload is still waiting; a finished recording is kept until
central confirms it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers import wait_for

from alarmlink import wire
from edge_agent.rtc import upload
from edge_agent.rtc.upload import RecordingUploads


class Info:
    """paho's MQTTMessageInfo as far as the uploads use it."""

    def __init__(self, acked: bool, waiting: threading.Event | None = None) -> None:
        self.acked = acked
        self.waiting = waiting

    def wait_for_publish(self, timeout: float) -> None:
        if self.waiting is not None:
            self.waiting.set()
            released.wait(timeout)

    def is_published(self) -> bool:
        return self.acked


released = threading.Event()


def header(session_id: str) -> dict[str, object]:
    now = wire.utcnow().isoformat()
    return {"v": 1, "session_id": session_id, "incident_id": 3, "media_type": "video/webm",
            "started": now, "ended": now, "by": "officer-li", "spoke_s": 1.0,
            "reason": "closed"}


def test_a_reconnect_during_a_stuck_upload_sends_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload, "PUBACK_TIMEOUT_S", 5.0)
    released.clear()
    stuck = threading.Event()
    published: list[int] = []

    def publish_rec(session_id: str, payload: bytes) -> Info:
        chunk, _data = wire.decode_rec_chunk(payload, session_id)
        published.append(chunk.seq)
        if len(published) == 1:   # the first chunk's PUBACK never comes (the link broke)
            return Info(False, stuck)
        return Info(True)

    session_id = wire.new_id()
    uploads = RecordingUploads(tmp_path / "recordings", publish_rec)
    media = uploads.media(session_id)
    media.parent.mkdir()
    media.write_bytes(b"\x1aE\xdf\xa3" + bytes(wire.REC_CHUNK_BYTES + 10))   # two chunks
    uploads.add(media, header(session_id))
    wait_for(stuck.is_set, what="the first chunk waiting for its PUBACK")
    uploads.resume()        # the link reconnected meanwhile
    released.set()          # the stuck wait ends without a PUBACK
    wait_for(lambda: uploads.sent_chunks == 2, what="the whole recording sent again")
    assert published == [0, 0, 1]
    assert uploads.pending() == [session_id]      # kept until central confirms
    uploads.stored(session_id)
    assert uploads.pending() == [] and not media.exists()
    uploads.stop()
