"""A new alarm -> live video playing in the duty console (issue 18, line 1), end to end.

Real Mosquitto and a real ``alarmlink central serve`` child (``_rig.Rig``), the school
venue simulated in this process with its one-key button on a mock pin and ``[rtc]`` with
the test-pattern camera (the wall clock burnt into every frame, 320x180 at 10 fps as in
``tests/camera/test_live_av.py``), and Debian's headless Chromium with fake media
devices (the officer's microphone plays a tone) logged into the console as an admin.

Each trial presses the button and times, in the page against the press (``Date.now()``
there, ``time.time()`` here: the same clock on one machine):

- the baseline, the alarm path without video: the new incident's row appears in the
  console's queue (a MutationObserver on the page);
- the video: the console opens the alarm by itself, its live session connects, and the
  ``<video>`` element shows changing frames, read as the test reads them: the burnt-in
  clock decoded from the element through a canvas (``simulators.av_probe.READ_CLOCK``),
  every 15 ms in the page, until a read differs from the first one.

Then the incident is resolved through the API (central ends its live session: "incident
resolved"), the bench waits until the agent has ended the session and uploaded its
recording, and reloads the console (nothing selected, as an officer waiting for the next
alarm: a console still showing the resolved incident does not open the next alarm by
itself), so each trial opens a new incident with nothing else running. ``--warmup``
trials (default 1: the browser's first ``getUserMedia``, codecs) are printed but not
counted. ``--fresh-browser`` starts a new Chromium for every trial instead: the cold
case, the first alarm after the console's browser started. Every wait
is bounded; the browser, the agent, central, the broker and the temporary directory are
removed at the end, also on failure or Ctrl-C.

    .venv/bin/python bench/live_open.py --trials 10
    .venv/bin/python bench/live_open.py --trials 10 --warmup 0 --fresh-browser
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from _rig import ROOT, Api, Rig, pct
from playwright.sync_api import Browser, Page, sync_playwright

from edge_agent.config import load_config
from simulators.av_probe import READ_CLOCK, fake_media_args, tone_wav
from simulators.venue import VenueSimulator

logger = logging.getLogger("bench.live_open")

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run"]
AGENT = "school-01"
RTC = {"width": 320, "height": 180, "fps": 10, "tone_hz": 1000.0}
OFFICER_HZ = 600.0

#: Started just before a press: stamps (``Date.now()``) of the new incident's queue row,
#: of its detail pane opening, of its session connecting (LIVE), of its first decoded
#: frame and of a frame whose burnt-in clock differs from the first one's (the video
#: plays), in ``window.benchProbe``.
PROBE = """(known) => {
  const readClock = READ_CLOCK_SOURCE;
  const seen = new Set(known);
  const out = { row: null, opened: null, live: null, frame: null, moving: null, id: null,
    width: 0 };
  window.benchProbe = out;
  const rows = () => {
    if (out.row !== null) return;
    for (const li of document.querySelectorAll("#queue li.incident")) {
      if (!seen.has(Number(li.dataset.incidentId))) { out.row = Date.now(); return; }
    }
  };
  const observer = new MutationObserver(rows);
  observer.observe(document.querySelector("main"), { childList: true, subtree: true });
  let first = null;
  const timer = setInterval(() => {
    rows();
    const shown = Number(document.getElementById("detail").dataset.incidentId || 0);
    if (out.id === null && shown && !seen.has(shown)) {
      out.opened = Date.now(); out.id = shown;
    }
    if (out.id === null) return;
    const s = window.alarmlink.av.get(out.id);
    if (out.live === null && s && s.state === "live") out.live = Date.now();
    const read = readClock(out.id);
    if (!read) return;
    if (first === null) { first = read.clock; out.frame = Date.now(); return; }
    if (read.clock !== first) {
      out.moving = Date.now(); out.width = read.width;
      clearInterval(timer); observer.disconnect();
    }
  }, 15);
}""".replace("READ_CLOCK_SOURCE", READ_CLOCK.strip())


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {timeout:g} s")
        time.sleep(every)
    return value


def login(page: Page, url: str, username: str, password: str) -> None:
    """The console's login form (用户名, 密码, 登录), then its WebSocket up."""
    page.goto(url + "/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    ready(page)


def ready(page: Page) -> None:
    page.locator("#app").wait_for(state="visible", timeout=20_000)
    wait_until(lambda: page.evaluate("() => document.getElementById('conn').className")
               == "conn up", 20, "the console's WebSocket up")


def start_central(rig: Rig, attempts: int = 3) -> None:
    """``rig.start_central()``, again on a new port when another process took the free
    port it picked (the machine is shared); otherwise central's log ends the run."""
    log = rig.work / "central.log"
    for attempt in range(1, attempts + 1):
        try:
            rig.start_central()
            return
        except SystemExit:
            text = log.read_text(errors="replace") if log.exists() else ""
            if "address already in use" not in text or attempt == attempts:
                print(text[-2000:], file=sys.stderr)   # removed with the rig
                raise
            print(f"central's port was taken by another process: attempt {attempt + 1}",
                  flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<44} n={len(ms):3d}  p50={pct(ms, 50):7.0f} ms  p99={pct(ms, 99):7.0f} ms"
            f"  max={max(ms):7.0f} ms")


def trial(page: Page, sim: VenueSimulator, api: Api, known: list[int],
          timeout: float) -> dict[str, Any]:
    """One press: the probe's stamps against the press, in ms; then the incident
    resolved, the session ended and its recording uploaded."""
    rtc = sim.agent.live.rtc
    assert rtc is not None and rtc.uploads is not None, "[rtc] with record = true"
    uploads = rtc.uploads
    page.evaluate(PROBE, known)
    pressed = time.time() * 1000
    sim.press("gate-button")
    # polled from here (the console's CSP forbids Playwright's in-page polling); the
    # stamps themselves are taken in the page
    stamps: dict[str, Any] = wait_until(lambda: (probe := page.evaluate(
        "() => window.benchProbe"))["moving"] is not None and probe, timeout,
        "live video frames moving in the console")
    incident_id = int(stamps["id"])
    api.call("POST", f"/api/incidents/{incident_id}/resolve",
             {"outcome": "test", "note": "bench/live_open.py"})
    known.append(incident_id)
    wait_until(lambda: not rtc.sessions, 20, "the agent ended the live session")
    wait_until(lambda: not uploads.pending(), 60, "the session's recording uploaded",
               every=0.2)
    return {"incident": incident_id, "width": stamps["width"],
            **{k: stamps[k] - pressed for k in ("row", "opened", "live", "frame", "moving")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="trials not counted (default 1)")
    parser.add_argument("--fresh-browser", action="store_true",
                        help="a newly started Chromium for each trial (the cold case: the "
                             "first alarm after the console's browser started)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds a trial may take to show moving frames (default 30)")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")

    print(f"before: {load()}", flush=True)
    rig = Rig([], extra_accounts=[AGENT])
    sim: VenueSimulator | None = None
    try:
        start_central(rig)
        api = Api(f"http://127.0.0.1:{rig.http_port}", "bench-admin", rig.add_admin())
        config = load_config(ROOT / "firmware_configs" / "school.toml")
        button = config.inputs[0].model_dump(mode="json")
        config = config.with_overrides({
            "broker.url": rig.url, "broker.password": rig.passwords[AGENT],
            "state_dir": str(rig.work / "agent"), "inputs": [button], "rtc": RTC})
        sim = VenueSimulator(config, out=None).start()
        wait_until(lambda: sim is not None and sim.agent.connected, 30, "the agent connected")
        wav = tone_wav(rig.work / "officer.wav", OFFICER_HZ)
        url = f"http://127.0.0.1:{rig.http_port}"
        rows: list[dict[str, Any]] = []
        with sync_playwright() as playwright:
            browser: Browser | None = None
            try:
                known: list[int] = []
                for n in range(args.warmup + args.trials):
                    if browser is None or args.fresh_browser:
                        if browser is not None:
                            browser.close()
                        browser = playwright.chromium.launch(
                            executable_path=CHROMIUM,
                            args=[*BROWSER_ARGS, *fake_media_args(wav)])
                        page = browser.new_context().new_page()
                        page.set_viewport_size({"width": 1280, "height": 1000})
                        page.set_default_timeout(20_000)
                        login(page, url, "bench-admin", "bench-admin-pw-1")
                    else:   # nothing selected, as an officer waiting for the next alarm
                        page.reload()
                        ready(page)
                    row = trial(page, sim, api, known, args.timeout)
                    tag = "warm-up" if n < args.warmup else f"trial {n - args.warmup + 1}"
                    print(f"{tag:>9}: incident {row['incident']}: row {row['row']:.0f} ms, "
                          f"opened {row['opened']:.0f} ms, LIVE {row['live']:.0f} ms, "
                          f"first frame {row['frame']:.0f} ms, frames moving "
                          f"{row['moving']:.0f} ms ({row['width']} px wide); {load()}",
                          flush=True)
                    if n >= args.warmup:
                        rows.append(row)
            finally:
                if browser is not None:
                    browser.close()
        print(f"alarmlink new alarm -> live video in the console: {len(rows)} trials "
              f"(+{args.warmup} warm-up), {RTC['width']}x{RTC['height']} at {RTC['fps']} fps, "
              "recorded sessions, loopback, "
              + ("a new browser each trial" if args.fresh_browser else "console reloaded"))
        print(summary("baseline: press -> incident row in console", [r["row"] for r in rows]))
        print(summary("press -> detail opened by itself", [r["opened"] for r in rows]))
        print(summary("press -> session connected (LIVE)", [r["live"] for r in rows]))
        print(summary("press -> first video frame", [r["frame"] for r in rows]))
        print(summary("press -> live video frames moving", [r["moving"] for r in rows]))
        print(summary("  what the video adds (moving - row)",
                      [r["moving"] - r["row"] for r in rows]))
        print(f"after: {load()}")
        print("command: .venv/bin/python bench/live_open.py " + " ".join(sys.argv[1:]))
    finally:
        if sim is not None:
            sim.stop()
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
