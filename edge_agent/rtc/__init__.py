"""Live audio and video from the venue to duty consoles over WebRTC (aiortc).

:mod:`~edge_agent.rtc.config` the ``[rtc]`` table, :mod:`~edge_agent.rtc.media` the
test-pattern video, tone and ALSA sources and the audio sink,
:mod:`~edge_agent.rtc.devices` the camera, microphone and speaker and their troubles,
:mod:`~edge_agent.rtc.service` the sessions, driven by ``rtc`` signals from central.
aiortc is imported only when a session starts, so an agent without the ``rtc`` extra
still runs (and answers ``error`` with the install hint).
"""
