"""Uploads finished session recordings to central in chunks (``rtc/rec/{session_id}``,
:mod:`alarmlink.wire.recording`) and keeps each file until central says it arrived
whole and its SHA-256 verified (``rec_stored``).

Layout of ``{state_dir}/recordings/``: ``<session_id>.webm`` (the recording, whole:
the recorder renames it into place when its container is closed) and
``<session_id>.json`` (the chunk header without ``seq``: written after the file, so a
recording without its ``.json`` is never sent). While a session runs, its file is
``<session_id>.webm.part`` beside ``<session_id>.start.json`` (who, which incident,
when); an agent killed during a session leaves both, and :meth:`RecordingUploads.salvage`
(at the next start) turns them into a recording that ends where the file ends, with the
reason "agent stopped during the session". Uploads run on one worker thread, one
chunk at a time, each waiting for the broker's PUBACK (QoS 1), so memory stays at one
chunk whatever the file's size. An upload broken by a lost connection starts over on
the next connection (:meth:`RecordingUploads.resume`); central ignores the chunks it
already has.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alarmlink import wire

logger = logging.getLogger(__name__)

#: How long one chunk may wait for the broker's PUBACK before the upload is retried later.
PUBACK_TIMEOUT_S = 30.0

#: publish_rec(session_id, payload) -> paho's message info, or None when not connected.
PublishRec = Callable[[str, bytes], Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class RecordingUploads:
    """The agent's pending recordings and their uploads."""

    def __init__(self, root: Path, publish_rec: PublishRec) -> None:
        self.root = root
        self.publish_rec = publish_rec
        self.sent_chunks = 0
        self._busy: set[str] = set()
        #: Asked for again while their upload ran (a reconnect during a stuck chunk):
        #: uploaded once more when that run ends without central's PUBACKs.
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rtc-upload")

    def begin(self, session_id: str, header: dict[str, Any]) -> None:
        """A recording starts: keep what identifies it, should the agent die before its end."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"{session_id}.start.json").write_text(json.dumps(header, default=str))

    def salvage(self) -> list[str]:
        """Recordings left unfinished by an agent that died: make them uploadable (call at
        start, when no session runs). Returns their session ids."""
        saved = []
        for start in sorted(self.root.glob("*.start.json")):
            session_id = start.name.removesuffix(".start.json")
            part = self.media(session_id).with_name(f"{session_id}.webm.part")
            try:
                header = json.loads(start.read_text())
                if part.exists() and part.stat().st_size > 0:
                    ended = datetime.fromtimestamp(part.stat().st_mtime, UTC)
                    part.replace(self.media(session_id))
                    self.add(self.media(session_id), {
                        **header, "ended": ended.isoformat(),
                        "reason": "agent stopped during the session"}, upload=False)
                    saved.append(session_id)
            except (OSError, ValueError) as exc:
                logger.warning("unfinished recording of session %s not kept: %s",
                               session_id, exc)
            start.unlink(missing_ok=True)
        return saved

    def media(self, session_id: str) -> Path:
        return self.root / f"{session_id}.webm"

    def _meta(self, session_id: str) -> Path:
        return self.root / f"{session_id}.json"

    def add(self, path: Path, header: dict[str, Any], *, upload: bool = True) -> None:
        """A finished recording (``header``: the RecChunk fields but ``seq``, ``size``,
        ``sha256``): hash it, write its ``.json``, upload it."""
        session_id = str(header["session_id"])
        header = {**header, "size": path.stat().st_size, "sha256": file_sha256(path)}
        tmp = self._meta(session_id).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(header, default=str))
        tmp.replace(self._meta(session_id))
        (self.root / f"{session_id}.start.json").unlink(missing_ok=True)
        logger.info("recording of session %s: %d bytes, sha256 %s", session_id,
                    header["size"], header["sha256"])
        if upload:
            self.submit(session_id)

    def pending(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json") if self.media(p.stem).exists())

    def resume(self) -> None:
        """Upload every recording central has not confirmed (after a (re)connect)."""
        for session_id in self.pending():
            self.submit(session_id)

    def submit(self, session_id: str) -> None:
        with self._lock:
            if session_id in self._busy:
                self._again.add(session_id)
                return
            self._busy.add(session_id)
        try:
            self._pool.submit(self._upload, session_id)
        except RuntimeError:   # stopped: the next start uploads it
            with self._lock:
                self._busy.discard(session_id)

    def stored(self, session_id: str) -> None:
        """Central has the recording whole and verified: delete the agent's copy."""
        for path in (self.media(session_id), self._meta(session_id)):
            path.unlink(missing_ok=True)
        logger.info("recording of session %s stored at central; local copy deleted",
                    session_id[:32])

    def rejected(self, session_id: str, reason: str) -> None:
        logger.warning("central refused the recording of session %s: %s (kept in %s)",
                       session_id[:32], reason, self.root)

    def _upload(self, session_id: str) -> None:
        sent = False
        try:
            sent = self._send(session_id)
        except (OSError, ValueError, wire.ContractError) as exc:
            logger.warning("recording of session %s not sent: %s", session_id, exc)
        else:
            if sent:
                logger.info("recording of session %s sent", session_id)
        finally:
            with self._lock:
                self._busy.discard(session_id)
                again = session_id in self._again
                self._again.discard(session_id)
        if again and not sent:   # a (re)connect asked for it while this run was stuck
            self.submit(session_id)

    def _send(self, session_id: str) -> bool:
        meta_path, media = self._meta(session_id), self.media(session_id)
        if not meta_path.exists() or not media.exists():
            return False
        fields = json.loads(meta_path.read_text())
        with open(media, "rb") as source:
            for seq in range(wire.chunk_count(int(fields["size"]))):
                data = source.read(wire.REC_CHUNK_BYTES)
                header = wire.RecChunk.model_validate({**fields, "seq": seq})
                info = self.publish_rec(session_id, wire.encode_rec_chunk(header, data))
                if info is None:
                    logger.info("recording of session %s: not connected at chunk %d; "
                                "resent on the next connection", session_id, seq)
                    return False
                try:
                    info.wait_for_publish(PUBACK_TIMEOUT_S)
                except (RuntimeError, ValueError) as exc:
                    logger.info("recording of session %s: chunk %d not acknowledged (%s); "
                                "resent on the next connection", session_id, seq, exc)
                    return False
                if not info.is_published():
                    logger.info("recording of session %s: chunk %d not acknowledged in %.0f s;"
                                " resent on the next connection", session_id, seq,
                                PUBACK_TIMEOUT_S)
                    return False
                self.sent_chunks += 1
        return True

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
