"""Live video: glass-to-glass latency on the LAN and the agent's CPU while streaming.

The agent side runs in a child process (so its CPU is its own): the real
:class:`edge_agent.rtc.service.RtcService` with the test-pattern camera, whose frames
carry the sender's wall clock burnt into their top edge (``edge_agent/rtc/media.py``).
Headless Chromium (Debian's, via Playwright) makes the offer (receive-only video and
audio, no ICE servers), the child answers, and the page reads the clock back from
the ``<video>`` element through a canvas every 100 ms: latency = the page's
``Date.now()`` minus the burnt-in clock (same machine, same clock). It includes
encode, packetisation, the loopback network, jitter buffer, decode and the
compositor's frame, i.e. what the officer sees.

CPU: the child's ``time.process_time`` over ``--window`` seconds of wall time, as %
of one core, for two scenarios in fresh children:

- ``camera``: the baseline, the test-pattern camera alone producing frames at the
  same size and rate, nobody watching;
- ``streaming``: the same camera streamed to one browser (VP8 encode, SRTP, the tone),
  not recorded (``[rtc] record = false``);
- ``recording``: the same, recorded as evidence (a second VP8 encoder in real-time mode
  and Opus into WebM, ``edge_agent/rtc/recorder.py``; the upload is not part of it).

Reproduce::

    .venv/bin/python bench/video.py                 # 640x360 at 15 fps, 2 x 15 s
    .venv/bin/python bench/video.py --window 5 --width 320 --height 180
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"

OFFER_JS = """async () => {
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; document.body.append(video);
  window.video = video;
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { if (pc.iceGatheringState === "complete") r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
    setTimeout(r, 2000); });
  return pc.localDescription.sdp;
}"""

SAMPLE_JS = """async ([count, every]) => {
  const v = window.video, c = document.createElement("canvas"), out = [];
  for (let n = 0; n < count; n++) {
    await new Promise((r) => v.requestVideoFrameCallback
      ? v.requestVideoFrameCallback(r) : setTimeout(r, 30));
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext("2d"); g.drawImage(v, 0, 0);
    const row = g.getImageData(0, 12, c.width, 1).data;
    const block = Math.floor(c.width / 32); let value = 0;
    for (let b = 0; b < 32; b++) { const i = (b * block + Math.floor(block / 2)) * 4;
      value = value * 2 + ((row[i] + row[i + 1] + row[i + 2]) / 3 > 127 ? 1 : 0); }
    out.push((Date.now() % 2 ** 32) - value);
    await new Promise((r) => setTimeout(r, every));
  }
  return out;
}"""


def child(scenario: str, width: int, height: int, fps: int, window: float) -> None:
    """Agent side: read the offer on stdin, print the answer, stream, print CPU."""
    from alarmlink import wire
    from edge_agent.rtc.config import RtcConfig
    from edge_agent.rtc.media import PatternTrack
    from edge_agent.rtc.service import RtcService
    from edge_agent.rtc.upload import RecordingUploads

    config = RtcConfig(width=width, height=height, fps=fps)
    if scenario == "camera":
        async def camera_alone() -> None:
            track = PatternTrack(width, height, fps)
            end = time.monotonic() + window + 1
            while time.monotonic() < end:
                await track.recv()
        print(json.dumps({"sdp": None}), flush=True)
        cpu0, wall0 = time.process_time(), time.monotonic()
        asyncio.run(camera_alone())
    else:
        answers: queue.Queue[wire.RtcSignal] = queue.Queue()
        uploads = None
        if scenario == "recording":   # kept in a temporary directory, never uploaded
            uploads = RecordingUploads(Path(tempfile.mkdtemp(prefix="bench-rec-")),
                                       lambda session_id, payload: None)
        service = RtcService(config, lambda s: answers.put(s) is None, uploads)
        service.start()
        offer = json.loads(sys.stdin.readline())["sdp"]
        service.on_signal(wire.RtcSignal(session_id=wire.new_id(), kind=wire.RtcKind.OFFER,
                                         ts=wire.utcnow(), sdp=offer, incident_id=1))
        print(json.dumps({"sdp": answers.get(timeout=20).sdp}), flush=True)
        time.sleep(1)   # connect
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(window)
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
    print(json.dumps({"cpu_pct": round(cpu, 1)}), flush=True)
    if scenario != "camera":
        service.stop()


def run(scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", scenario, "--width", str(args.width),
         "--height", str(args.height), "--fps", str(args.fps), "--window", str(args.window)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    result: dict[str, Any] = {"scenario": scenario}
    if scenario == "camera":
        proc.stdout.readline()
    else:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page()
            page.set_content("<body></body>")
            offer = page.evaluate(OFFER_JS)
            proc.stdin.write(json.dumps({"sdp": offer}) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())["sdp"]
            page.evaluate("(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})",
                          answer)
            page.wait_for_function("window.video.videoWidth > 0", timeout=15_000)
            lat = page.evaluate(SAMPLE_JS, [int(args.window * 5), 150])
            lat = sorted(x for x in lat if 0 <= x < 10_000)
            browser.close()
        result.update(samples=len(lat), p50_ms=statistics.median(lat),
                      p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))], max_ms=lat[-1])
    result.update(json.loads(proc.stdout.readline()))
    proc.wait(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", choices=["camera", "streaming", "recording"])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.width, args.height, args.fps, args.window)
        return
    print(f"live video {args.width}x{args.height} at {args.fps} fps, {args.window:.0f} s windows")
    for scenario in ("camera", "streaming", "recording"):
        print(json.dumps(run(scenario, args)), flush=True)


if __name__ == "__main__":
    main()
