#!/usr/bin/env python3
"""Screenshots of the duty console for the README, at 1440x900 and 1920x1080.

    .venv/bin/python scripts/console_screenshots.py [--out docs/screenshots]

Starts central in this process (demo registry, a scratch database, no MQTT), raises a
handful of alarms and a trouble, logs in as a duty officer in Debian's headless Chromium
and saves docs/screenshots/console-{1440x900,1920x1080}.png and map-1440x900.png.
Chinese is drawn with the console's vendored font (central/static/vendor/fonts), so no
CJK font needs to be installed; the script stops with an error if that font did not load.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from alarmlink.broker import free_port
from alarmlink.wire import Event, encode, new_id, utcnow
from alarmlink.wire.topics import Topics
from central.api import create_app
from central.auth import users
from central.config import CentralConfig
from central.db import open_db

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "screenshot-password-1"
ALARMS = [("hotel-01", "corridor-3f-smoke", "smoke"), ("school-01", "gate-button", "panic"),
          ("village-01", "warehouse-cable", "tamper"), ("school-01", "kitchen-heat", "heat")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = CentralConfig(data_dir=Path(tmp), registry=ROOT / "central/demo_registry.toml")
        db = open_db(config.db_path)
        users.add(db, users.Actor("screenshots", "admin", "script"), utcnow(),
                  username="duty-chengxiang", role="admin", node="root", password=PASSWORD,
                  display_name="李警官")
        db.close()
        app = create_app(config, publisher=lambda _topic, _payload: None)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            shoot(app, f"http://127.0.0.1:{port}", args.out)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def shoot(app: object, url: str, out: Path) -> None:
    service = app.state.central  # type: ignore[attr-defined]
    topics = Topics("alarmlink/v1")
    for seq, (device, zone, kind) in enumerate(ALARMS, start=1):
        event = Event(event_id=new_id(), device_id=device, seq=seq, ts=utcnow(), kind=kind,
                      state="alarm", zone=zone, source="gpio")
        service.ingestor.handle(topics.event(device), encode(event))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless", "--no-sandbox"])
        for width, height in ((1440, 900), (1920, 1080)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url + "/")
            page.get_by_label("用户名").fill("duty-chengxiang")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.locator("#queue li.incident").nth(2).wait_for()
            page.locator("#queue li.incident").first.click()
            page.locator("#detail .timeline li").first.wait_for()
            faces = page.evaluate("document.fonts.load('16px \"alarmlink CJK\"', '报警')"
                                  ".then(f => f.length)")
            if not faces:
                raise SystemExit("error: the console's CJK font did not load: check "
                                 "central/static/vendor/fonts/alarmlink-cjk-sc.woff2")
            page.evaluate("document.fonts.ready.then(() => true)")
            page.screenshot(path=str(out / f"console-{width}x{height}.png"))
            if width == 1440:
                page.locator("[data-tab=map]").click()
                page.locator(".venue-marker").first.wait_for()
                page.screenshot(path=str(out / "map-1440x900.png"))
            page.close()
        browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
