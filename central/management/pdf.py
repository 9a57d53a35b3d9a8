"""The rectification notice (责令改正通知书) as a PDF: Chinese text in reportlab's built-in
``STSong-Light`` CID font (a reader's standard CJK font: nothing to download or embed) and
a QR code (segno, PNG) that opens the notice in the console."""

from __future__ import annotations

import io
import logging
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

logger = logging.getLogger(__name__)

FONT = "STSong-Light"
KINDS = {"immediate": "责令立即改正", "deadline": "责令限期改正"}
SEVERITY = {"general": "一般隐患", "major": "重大隐患"}


def _font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def notice_url(base_url: str, notice_id: int) -> str:
    return f"{base_url.rstrip('/')}/#/notice/{notice_id}"


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def render(notice: dict[str, Any], url: str) -> bytes:
    """The notice's PDF. ``notice``: :func:`central.management.notices.get_notice`."""
    _font()
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.setTitle(f"责令改正通知书 {notice['number']}")
    width, height = A4
    y = height - 25 * mm
    page.setFont(FONT, 18)
    page.drawCentredString(width / 2, y, notice["station_name"])
    y -= 10 * mm
    page.drawCentredString(width / 2, y, f"{KINDS[notice['kind']]}通知书")
    y -= 8 * mm
    page.setFont(FONT, 11)
    page.drawCentredString(width / 2, y, f"文书编号：{notice['number']}")
    y -= 12 * mm
    lines = [f"被检查单位：{notice['venue_name']}",
             f"地址：{notice.get('venue_address') or ''}",
             f"检查时间：{notice['issued_at'][:10]}",
             "经检查，你单位存在下列消防安全隐患："]
    for i, hazard in enumerate(notice["hazards"], 1):
        text = f"{i}. {hazard['description']}（{SEVERITY[hazard['severity']]}）"
        lines += _wrap(text, 38)
    if notice["kind"] == "deadline":
        lines.append(f"责令你单位于{notice['deadline'][:10]}前改正完毕，并将整改情况报告本所。")
    else:
        lines.append("责令你单位立即改正。")
    lines.append("扫描右下角二维码可查看本通知书。")
    for line in lines:
        page.drawString(20 * mm, y, line)
        y -= 7 * mm
    qr = io.BytesIO()
    segno.make(url, error="m").save(qr, kind="png", scale=6, border=4)
    qr.seek(0)
    page.drawImage(ImageReader(qr), width - 60 * mm, 20 * mm, 40 * mm, 40 * mm)
    page.drawString(20 * mm, 30 * mm, f"{notice['station_name']}（印章）")
    page.showPage()
    page.save()
    return out.getvalue()
