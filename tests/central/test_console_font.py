"""Issue 12, line 9: readable Chinese without a Chinese font on the machine. The console
ships a Noto Sans CJK SC subset (central/static/vendor/fonts, OFL); every Chinese
character of its own files is in it; scripts/console_screenshots.py draws with it and
writes both README screenshots at their sizes."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "central" / "static"
FONT = STATIC / "vendor" / "fonts" / "alarmlink-cjk-sc.woff2"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def test_the_font_has_every_chinese_character_of_the_console() -> None:
    cmap = TTFont(str(FONT))["cmap"].getBestCmap()
    used = {c for f in STATIC.glob("*.*") for c in CJK.findall(f.read_text(encoding="utf-8"))}
    assert len(used) > 200, "the catalogue's Chinese was not found"
    missing = sorted(c for c in used if ord(c) not in cmap)
    assert missing == [], f"run scripts/make_cjk_font.py: {''.join(missing)} not in {FONT.name}"
    assert len(cmap) > 3700   # GB 2312 level 1: venue names, addresses, officers' names
    assert FONT.stat().st_size < 2_000_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONT.parent / "OFL.txt").read_text()
    assert "vendor/fonts/alarmlink-cjk-sc.woff2" in (STATIC / "console.css").read_text()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.browser
def test_the_screenshot_script_writes_both_sizes(tmp_path: Path) -> None:
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True,
                           check=False).stdout
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "console_screenshots.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert png_size(tmp_path / "console-1440x900.png") == (1440, 900)
    assert png_size(tmp_path / "console-1920x1080.png") == (1920, 1080)
    assert png_size(tmp_path / "map-1440x900.png") == (1440, 900)
    # the script stops when the vendored face did not load; say which font drew the text
    print("system CJK fonts:", fonts.strip() or "none (the vendored font drew the Chinese)")
