#!/usr/bin/env python3
"""Make the console's vendored Chinese font: a Noto Sans CJK SC subset, WOFF2.

    apt-get install fonts-noto-cjk          # only on the machine that makes the subset
    .venv/bin/pip install -e '.[dev]'       # fonttools with WOFF2 (brotli)
    .venv/bin/python scripts/make_cjk_font.py

Writes central/static/vendor/fonts/alarmlink-cjk-sc.woff2 (SIL Open Font License 1.1,
OFL.txt beside it) with the 3755 common characters of GB 2312 level 1, which covers
nearly every venue name, address and officer's name, plus every non-ASCII character
of the console's own files (central/static) and of the demo registry. console.css uses
it for CJK code points only (unicode-range), so stations whose PCs have no Chinese font
(and the headless Chromium of scripts/console_screenshots.py) show readable Chinese,
and nothing is downloaded at run time. Run it again after adding Chinese labels to
i18n.js: tests/central/test_console_font.py fails while a label's character is missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = ROOT / "central" / "static" / "vendor" / "fonts" / "alarmlink-cjk-sc.woff2"
#: The face of the collection that is Simplified Chinese ("Noto Sans CJK SC").
SC_FAMILY = "Noto Sans CJK SC"

logger = logging.getLogger(__name__)


def gb2312_level1() -> set[str]:
    """The 3755 characters of GB 2312 level 1 (rows 16-55)."""
    chars = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def used_characters() -> set[str]:
    """Every non-ASCII character of the console's files and the demo registry."""
    files = [*(ROOT / "central" / "static").glob("*.*"), ROOT / "central" / "demo_registry.toml"]
    return {c for f in files for c in f.read_text(encoding="utf-8") if ord(c) > 0x7F}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="Noto Sans CJK collection (.ttc) or Noto Sans SC font file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    try:
        from fontTools import subset
        from fontTools.ttLib import TTCollection, TTFont
    except ImportError:
        print("error: fonttools is missing: run .venv/bin/pip install -e '.[dev]'",
              file=sys.stderr)
        return 2
    if not args.source.exists():
        print(f"error: no font at {args.source}: run apt-get install fonts-noto-cjk, or "
              "give --source", file=sys.stderr)
        return 2
    if args.source.suffix.lower() == ".ttc":
        faces = TTCollection(str(args.source)).fonts
        font = next((f for f in faces if f["name"].getBestFamilyName() == SC_FAMILY), None)
        if font is None:
            print(f"error: {args.source} has no {SC_FAMILY} face", file=sys.stderr)
            return 2
    else:
        font = TTFont(str(args.source))
    cmap = font.getBestCmap()
    wanted = {c for c in gb2312_level1() | used_characters() if ord(c) in cmap}
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in wanted))
    subsetter.subset(font)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff2"
    font.save(str(args.out))
    print(f"{args.out}: {len(wanted)} characters, {args.out.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
