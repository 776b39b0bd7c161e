"""The Train page's live plots: training loss (each step faint, its moving average bold), validation accuracy and
epsilon spent, every run overlaid in its own colour; and the plot of the epsilon a plan predicts.

Every axis is labelled; the legend is a row of run names under the plots (never over the curves); a series of one
or two points is drawn with symbols so that a run's first point is visible.

Live series come from each run's :class:`~workbench.core.dp.runs.RunMetrics`, which the worker appends to behind a
lock; the page calls :meth:`QtTrainPlots.draw` from a timer (every :data:`REFRESH_MS`, at most 20 redraws a second),
which reads immutable snapshots and redraws only the runs whose snapshot changed. pyqtgraph is imported when the
page is built, not when this module is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.core.dp.accountant import format_delta

if TYPE_CHECKING:
    from workbench.core.dp.runs import MetricsSnapshot, RunMetrics

REFRESH_MS = 50  # at most 20 redraws a second
LOSS_SMOOTHING = 0.9
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
FEW_POINTS = 2  # a series this short is drawn with symbols (a single point has no line to show it)
PLOT_MIN_HEIGHT = 150
STEP_AXIS = "optimizer step"


@dataclass
class LiveRun:
    """A run the page started: its job, live metrics and plot items."""

    job_id: int
    label: str
    metrics: RunMetrics
    color: str
    version: int = -1
    items: tuple[Any, ...] = ()
    visible: bool = True
    final: dict[str, Any] | None = None
    smoothed: list[float] = field(default_factory=list)
    has_target: bool = False

    def smooth(self, losses: Sequence[float]) -> list[float]:
        """Exponential moving average of the per-step loss (Poisson batches make it noisy), extended in place:
        only steps not seen before are computed, so long runs cost the same per redraw."""
        out = self.smoothed
        for value in losses[len(out) :]:
            out.append(value if not out else LOSS_SMOOTHING * out[-1] + (1 - LOSS_SMOOTHING) * value)
        return out

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        for index, curve in enumerate(self.items):
            curve.setVisible(visible and (index != 3 or self.has_target))  # items[3]: the target ε line


def configure_plots() -> None:
    """pyqtgraph's look for the page (white background); call before the first plot is made."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background="w", foreground="#333")


def make_plot(title: str, xlabel: str, ylabel: str) -> Any:
    """A live plot with both axes labelled and no legend inside (the page shows one under the plots)."""
    import pyqtgraph as pg

    plot = pg.PlotWidget(title=title)
    plot.setLabel("bottom", xlabel)
    plot.setLabel("left", ylabel)
    for axis in ("bottom", "left"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # "loss (x0.001)" over 650..700 reads as a loss of 700
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    plot.setMinimumHeight(PLOT_MIN_HEIGHT)
    return plot


def show_points_when_few(curve: Any, count: int, color: str) -> None:
    """Symbols on a series of at most :data:`FEW_POINTS` points (one point draws no line), none on longer ones."""
    few = 0 < count <= FEW_POINTS
    if few != bool(curve.opts.get("symbol")):
        curve.setSymbol("o" if few else None)
        if few:
            curve.setSymbolSize(7)
            curve.setSymbolBrush(color)
            curve.setSymbolPen(color)


def make_plan_plot() -> tuple[Any, Any, Any]:
    """The plot of the predicted epsilon per epoch: (plot, its curve, the dashed line at the target epsilon)."""
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.setMinimumHeight(110)
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", "predicted ε")
    plot.showGrid(x=True, y=True, alpha=0.2)
    curve = plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
    target = pg.InfiniteLine(angle=0, pen=pg.mkPen("#d62728", style=Qt.PenStyle.DashLine))
    target.setVisible(False)
    plot.addItem(target)
    plot.setYRange(0, 1)
    return plot, curve, target


class QtRunLegend(QLabel):
    """The runs' names in their colours, in a row under the plots (a legend inside a plot covers curves)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setToolTip("Solid: the run's curve; dashed: its target ε. A run unticked in the table is greyed here.")
        self.names: list[str] = []

    def show_runs(self, runs: Iterable[LiveRun]) -> None:
        import html

        runs = list(runs)
        self.names = [run.label for run in runs]
        self.setText(
            " &nbsp; ".join(
                f"<span style='color:{run.color if run.visible else '#bbb'}'>&#9632; {html.escape(run.label)}</span>"
                for run in runs
            )
        )


class QtTrainPlots(QWidget):
    """Loss, validation accuracy and epsilon spent, side by side, with the legend of the runs under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        layout = QHBoxLayout()
        outer.addLayout(layout, 1)
        self.loss_plot = make_plot("training loss", STEP_AXIS, "loss")
        self.loss_plot.setToolTip("Faint: each step's batch loss; bold: its moving average (batch sizes vary)")
        self.acc_plot = make_plot("validation accuracy", "epoch", "validation accuracy")
        self.acc_plot.setToolTip("Measured on the held-out rows at the end of every epoch")
        self.eps_plot = make_plot("ε spent", STEP_AXIS, "ε spent")
        self.eps_plot.setToolTip("What the accountant reported after each step; dashed: the run's target ε")
        for plot in (self.loss_plot, self.acc_plot, self.eps_plot):
            layout.addWidget(plot)
        self.legend = QtRunLegend()
        outer.addWidget(self.legend)
        self._legend_key: tuple[tuple[str, str, bool], ...] = ()

    def update_legend(self, runs: Iterable[LiveRun]) -> None:
        runs = list(runs)
        key = tuple((r.label, r.color, r.visible) for r in runs)
        if key != self._legend_key:
            self._legend_key = key
            self.legend.show_runs(runs)

    def draw(self, runs: Iterable[LiveRun]) -> list[tuple[LiveRun, MetricsSnapshot]]:
        """Redraw the runs whose metrics changed since the last call; returns them with their snapshots."""
        runs = list(runs)
        self.update_legend(runs)
        changed: list[tuple[LiveRun, MetricsSnapshot]] = []
        for run in runs:
            snap = run.metrics.snapshot()
            if snap.version == run.version:
                continue
            run.version = snap.version
            self._draw_run(run, snap)
            changed.append((run, snap))
        if runs:
            label = next((r.metrics.snapshot() for r in runs if r.metrics.snapshot().accountant), None)
            if label is not None:
                self.eps_plot.setLabel("left", f"ε spent ({label.accountant.upper()}, δ = {format_delta(label.delta)})")
        return changed

    def _draw_run(self, run: LiveRun, snap: MetricsSnapshot) -> None:
        import pyqtgraph as pg

        pen = pg.mkPen(run.color, width=2)
        if not run.items:
            loss = self.loss_plot.plot([], [], pen=pen, name=run.label)
            faint = pg.mkColor(run.color)
            faint.setAlpha(60)
            raw = self.loss_plot.plot([], [], pen=pg.mkPen(faint, width=1))
            acc = self.acc_plot.plot([], [], pen=pen, symbol="o", symbolSize=6, symbolBrush=run.color, name=run.label)
            eps = self.eps_plot.plot([], [], pen=pen, name=run.label)
            target = pg.InfiniteLine(angle=0, pen=pg.mkPen(run.color, style=Qt.PenStyle.DashLine))
            target.setVisible(False)
            self.eps_plot.addItem(target)
            run.items = (loss, acc, eps, target, raw)
        loss, acc, eps, target, raw = run.items
        raw.setData(snap.steps, snap.losses)
        loss.setData(snap.steps, run.smooth(snap.losses))
        show_points_when_few(loss, len(snap.steps), run.color)
        acc.setData(snap.epochs, snap.val_accuracy)
        if snap.accountant:
            eps.setData(snap.steps, snap.epsilons)
            show_points_when_few(eps, len(snap.steps), run.color)
        if snap.target_epsilon is not None and snap.accountant:  # a non-private run has no target ε to draw
            run.has_target = True
            target.setValue(snap.target_epsilon)
            target.setVisible(run.visible)
