"""Rendering a compliance report with Qt's own PDF writer (offscreen: no browser, no network), and the report use
case that the window and ``workbench report`` both call (issue 18).

The content and the HTML come from :mod:`workbench.services.report` (Qt-free); this module draws the plots with
``QPainter`` into PNGs embedded in the HTML, lays the document out with ``QTextDocument`` and prints it with
``QPdfWriter``; the same layout is painted page by page into PNG images for previews (``render_pages``).
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken, JobGenerator, Progress

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument

    from workbench.services.report import Plot, ReportContent
    from workbench.services.session import ProjectSession

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_PAGE_DPI = 96


def ensure_gui() -> None:
    """A QGuiApplication for painting (the command has none; offscreen when there is no display)."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        QGuiApplication([])


def _bounds(plot: Plot) -> tuple[float, float, float, float]:
    xs = [x for _n, sx, _sy in plot.series for x in sx] or [0.0, 1.0]
    ys = [y for _n, _sx, sy in plot.series for y in sy] or [0.0, 1.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(0.0, min(ys)), max(ys)
    return x0, (x1 if x1 > x0 else x0 + 1), y0, (y1 if y1 > y0 else y0 + 1)


def plot_png(plot: Plot, width: int = 900, height: int = 420) -> bytes:
    """One line chart as PNG bytes: axes with labels, each series a coloured line with a dot on its last point,
    and the legend under the plot (never over the curves)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    ensure_gui()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    left, right, top, bottom = 90, 24, 34, 96
    area = QRectF(left, top, width - left - right, height - top - bottom)
    x0, x1, y0, y1 = _bounds(plot)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = painter.font()
    font.setPixelSize(15)
    painter.setFont(font)
    painter.drawText(QRectF(0, 4, width, 22), Qt.AlignmentFlag.AlignHCenter, plot.title)
    painter.drawRect(area)
    for i in range(5):
        fy, fx = y0 + (y1 - y0) * i / 4, x0 + (x1 - x0) * i / 4
        py, px = area.bottom() - area.height() * i / 4, area.left() + area.width() * i / 4
        painter.drawText(QRectF(0, py - 8, left - 6, 16), Qt.AlignmentFlag.AlignRight, f"{fy:.3g}")
        painter.drawText(QRectF(px - 30, area.bottom() + 4, 60, 16), Qt.AlignmentFlag.AlignHCenter, f"{fx:.0f}")
    painter.drawText(QRectF(left, area.bottom() + 22, area.width(), 18), Qt.AlignmentFlag.AlignHCenter, plot.x_label)
    painter.save()
    painter.translate(14, area.center().y())
    painter.rotate(-90)
    painter.drawText(QRectF(-area.height() / 2, -10, area.height(), 20), Qt.AlignmentFlag.AlignHCenter, plot.y_label)
    painter.restore()

    def to_px(x: float, y: float) -> QPointF:
        return QPointF(
            area.left() + (x - x0) / (x1 - x0) * area.width(), area.bottom() - (y - y0) / (y1 - y0) * area.height()
        )

    legend_x = float(left)
    for i, (name, xs, ys) in enumerate(plot.series):
        color = QColor(_COLORS[i % len(_COLORS)])
        painter.setPen(QPen(color, 2))
        points = [to_px(x, y) for x, y in zip(xs, ys, strict=False)]
        for a, b in zip(points, points[1:], strict=False):
            painter.drawLine(a, b)
        if points:
            painter.setBrush(color)
            painter.drawEllipse(points[-1], 3.5, 3.5)
        painter.drawLine(QPointF(legend_x, height - 18), QPointF(legend_x + 20, height - 18))
        painter.setPen(QColor("black"))
        painter.drawText(QPointF(legend_x + 24, height - 13), name)
        legend_x += 44 + 9 * len(name)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def report_html(content: ReportContent) -> str:
    """The report's HTML with its plots embedded as PNG data URIs."""
    from workbench.services.report import render_html

    images = {p.title: "data:image/png;base64," + base64.b64encode(plot_png(p)).decode() for p in content.plots}
    return render_html(content, images)


def _document(html_text: str) -> QTextDocument:
    from PySide6.QtGui import QTextDocument

    ensure_gui()
    doc = QTextDocument()
    doc.setHtml(html_text)
    return doc


def pdf_bytes(html_text: str) -> bytes:
    """The HTML laid out on A4 pages by ``QTextDocument`` and written with ``QPdfWriter``."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter

    doc = _document(html_text)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setResolution(_PAGE_DPI)
    writer.setCreator("Privacy Workbench")
    writer.setTitle("Privacy report")
    doc.print_(writer)
    buffer.close()
    return bytes(data.data())


def render_pages(html_text: str, folder: Path, stem: str = "page", width: int = 794) -> list[Path]:
    """The same document painted page by page (A4 at 96 dpi) into ``folder/stem-N.png``."""
    from PySide6.QtCore import QRectF, QSizeF
    from PySide6.QtGui import QColor, QImage, QPainter

    doc = _document(html_text)
    height = int(width * 297 / 210)
    doc.setPageSize(QSizeF(width - 80, height - 80))
    paths = []
    for page in range(doc.pageCount()):
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.translate(40, 40 - page * (height - 80))
        doc.drawContents(painter, QRectF(0, page * (height - 80), width - 80, height - 80))
        painter.end()
        path = folder / f"{stem}-{page + 1}.png"
        image.save(str(path), "PNG")
        paths.append(path)
    return paths


# ---- the use case ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFiles:
    pdf: Path
    html: Path
    manifest: Path
    signature: Path
    seconds: float
    audit_head: str


def make_report_job(
    session: ProjectSession, dataset_ref: str | int, out_pdf: Path, *, overwrite: bool = False, token: Any = None
) -> JobGenerator[ReportFiles]:
    """Build, render, sign and write the report of one dataset: ``out_pdf`` and, beside it, the HTML, the manifest
    and the detached signature; audited as ``report.exported``."""
    from workbench.core.atomic import atomic_write_bytes
    from workbench.core.errors import ProjectError
    from workbench.services.report import build_report
    from workbench.services.report_signing import sign_report

    token = token if token is not None else CancelToken()
    started = time.perf_counter()
    yield Progress("report", 0, 3, "", "gathering the facts")
    content = build_report(session, dataset_ref)
    token.raise_if_cancelled()
    yield Progress("report", 1, 3, "", "drawing the plots and laying out the pages")
    html_text = report_html(content)
    pdf = pdf_bytes(html_text)
    token.raise_if_cancelled()
    yield Progress("report", 2, 3, "", "signing")
    html_path = out_pdf.with_suffix(".html")
    try:
        atomic_write_bytes(out_pdf, pdf, overwrite=overwrite, mode=0o644)
        atomic_write_bytes(html_path, html_text.encode("utf-8"), overwrite=overwrite, mode=0o644)
    except FileExistsError:
        raise ProjectError(f"{out_pdf} or {html_path.name} already exists (replace with --force)") from None
    except OSError as exc:
        raise ProjectError(f"{out_pdf}: cannot be written ({exc.strerror or exc})") from None
    sig, manifest = sign_report(session, out_pdf, html_text, content.facts)
    head = content.facts["audit_log_head"]["head"]
    session.project.audit(
        "report.exported", dataset=content.facts["dataset"]["name"], path=str(out_pdf), audit_log_head=head
    )
    return ReportFiles(out_pdf, html_path, manifest, sig, time.perf_counter() - started, head)
