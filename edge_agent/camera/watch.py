"""Camera supervision: no good frame for ``offline_after_s`` is a camera-offline trouble.

The capture thread tells the watch when a capture begins and ends, and whether it gave
a frame; the dispatch thread asks :meth:`CameraWatch.verdict` on each pass and, once the
trouble or restore event is committed, confirms it with :meth:`CameraWatch.reported`.
A capture that hangs is named as such in the cause ("capture hung for 40 s").
"""

from __future__ import annotations

from alarmlink import wire

Detail = dict[str, wire.DetailValue]


class CameraWatch:
    """Offline/online state of one camera, judged from the times of its good frames."""

    def __init__(self, name: str, offline_after_s: float, now: float) -> None:
        self.name = name
        self.offline_after_s = offline_after_s
        #: True from a reported trouble until its reported restore.
        self.offline = False
        #: The last capture failure, for status and the trouble's cause.
        self.last_error: str | None = None
        self.last_ok = now
        self.offline_since = 0.0
        #: When the capture running now began (None between captures).
        self.capture_started: float | None = None

    def verdict(self, now: float) -> tuple[bool, Detail] | None:
        """``(True, detail)`` to raise the trouble, ``(False, detail)`` the restore, or None."""
        silent = now - self.last_ok
        if not self.offline and silent > self.offline_after_s:
            started = self.capture_started
            if started is not None and now - started > self.offline_after_s / 2:
                cause = f"capture hung for {now - started:.0f} s"
            else:
                cause = self.last_error or "no frames"
            return True, {"reason": "camera offline", "cause": cause[:400],
                          "camera": self.name, "silent_s": round(silent, 1)}
        if self.offline and self.last_ok > self.offline_since:
            return False, {"reason": "camera back online", "camera": self.name,
                           "offline_s": round(now - self.offline_since, 1)}
        return None

    def reported(self, offline: bool, now: float) -> None:
        """The trouble (``offline``) or restore event was committed."""
        self.offline = offline
        if offline:
            self.offline_since = now
