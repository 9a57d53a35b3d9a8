"""The agent's camera: sources, the pre-alarm ring buffer, bursts, live view, supervision.

Modules:

- :mod:`edge_agent.camera.config` -- the ``[camera]`` table of the agent config
  (imported by :mod:`edge_agent.config`; pydantic only, no Pillow).
- :mod:`edge_agent.camera.sources` -- ``picamera2``, ``test-pattern`` and
  ``directory`` cameras behind one small interface; :func:`open_camera`.
- :mod:`edge_agent.camera.jpeg` -- fit a JPEG under a byte cap.
- :mod:`edge_agent.camera.service` -- :class:`CameraService`, which the agent runs.

The snapshot outbox and its sender live in :mod:`edge_agent.snapshots`.
"""
