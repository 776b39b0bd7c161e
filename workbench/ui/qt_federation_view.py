"""What the Federation page shows of a run: the live plots (validation accuracy of the global model and each site's
epsilon, per round), one line per round (duration, who delivered, who dropped out) and the result card.

Everything here is fed the job's immutable snapshots (:class:`~workbench.services.federation.FederationRound` as
each round's progress payload, :class:`~workbench.services.federation.FederationResult` at the end) through the
page's ``@Slot`` methods on the GUI thread. A round arrives every ten seconds or more, so each snapshot redraws
at once (far below the 20 redraws a second the guide allows). pyqtgraph is imported when the view is built.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from workbench.ui.qt_train_plots import RUN_COLORS, configure_plots, make_plot

if TYPE_CHECKING:
    from workbench.services.federation import FederationResult, FederationRound

ACCURACY_COLOR = "#1f77b4"
PLOT_HEIGHT = 170


class QtFederationPlots(QWidget):
    """Validation accuracy per round (the sites' row-weighted mean) and each site's cumulative epsilon."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        configure_plots()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.accuracy_plot = make_plot("Validation accuracy (global model)", "round", "accuracy")
        self.epsilon_plot = make_plot("ε spent per site", "round", "ε")
        for plot in (self.accuracy_plot, self.epsilon_plot):
            plot.setMinimumHeight(PLOT_HEIGHT)
            plot.setMaximumHeight(PLOT_HEIGHT + 60)
            row.addWidget(plot, 1)
        self.accuracy_plot.setYRange(0, 1)
        for plot in (self.accuracy_plot, self.epsilon_plot):
            plot.getAxis("bottom").setTickSpacing(1, 1)  # rounds are whole numbers
        pen = pg.mkPen(ACCURACY_COLOR, width=2)
        self.accuracy_curve = self.accuracy_plot.plot(
            [], [], pen=pen, symbol="o", symbolSize=7, symbolBrush=pen.color()
        )
        self.site_curves: dict[str, Any] = {}
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.rounds: list[FederationRound] = []

    def set_privacy(self, accountant: str | None, delta: float | None) -> None:
        """Name the accountant and delta on the ε plot (every ε shown names them), or say there is no DP."""
        from workbench.core.dp.accountant import format_delta

        if accountant is None or delta is None:
            self.epsilon_plot.setTitle("ε per site: none (no differential privacy)")
        else:
            self.epsilon_plot.setTitle(f"ε spent per site ({accountant.upper()}, δ {format_delta(delta)})")

    def epsilon_title(self) -> str:
        return str(self.epsilon_plot.plotItem.titleLabel.text)

    def clear(self) -> None:
        self.rounds = []
        self.epsilon_plot.setTitle("ε spent per site")
        self.accuracy_curve.setData([], [])
        for curve in self.site_curves.values():
            self.epsilon_plot.removeItem(curve)
        self.site_curves.clear()
        self.legend.clear()

    def add_round(self, rnd: FederationRound) -> None:
        """Add a finished round (a round already shown is replaced: the final result repeats every round)."""
        self.rounds = [r for r in self.rounds if r.round != rnd.round] + [rnd]
        self.rounds.sort(key=lambda r: r.round)
        self._redraw()

    def _redraw(self) -> None:
        import pyqtgraph as pg

        xs = [r.round for r in self.rounds if r.val_accuracy is not None]
        ys = [float(r.val_accuracy) for r in self.rounds if r.val_accuracy is not None]
        self.accuracy_curve.setData(xs, ys)
        per_site: dict[str, tuple[list[int], list[float]]] = {}
        for rnd in self.rounds:
            for name, eps in rnd.site_epsilons:
                if eps is not None:
                    per_site.setdefault(name, ([], []))
                    per_site[name][0].append(rnd.round)
                    per_site[name][1].append(float(eps))
        count = len(per_site)
        for index, (name, (sx, sy)) in enumerate(sorted(per_site.items())):
            color = RUN_COLORS[index % len(RUN_COLORS)]
            if name not in self.site_curves:
                # sites usually spend the same ε: wider pens underneath keep every overlapping line visible
                pen = pg.mkPen(color, width=2 + 3 * (count - 1 - index))
                self.site_curves[name] = self.epsilon_plot.plot([], [], pen=pen, symbol="o", symbolSize=6)
                self.site_curves[name].setSymbolBrush(color)
            self.site_curves[name].setData(sx, sy)
        top = max((max(sy) for _, sy in per_site.values()), default=0.0)
        if top > 0:
            self.epsilon_plot.setYRange(0, top * 1.08)  # from 0: the spend is read against nothing spent
        self.legend.setText(
            " &nbsp; ".join(
                f"<span style='color:{RUN_COLORS[i % len(RUN_COLORS)]}'>&#9632; {html.escape(name)}</span>"
                for i, name in enumerate(sorted(per_site))
            )
        )

    def accuracy_points(self) -> list[tuple[float, float]]:
        """The accuracy curve's points as drawn (for tests)."""
        xs, ys = self.accuracy_curve.getData()
        return [] if xs is None else [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]

    def epsilon_points(self, site: str) -> list[tuple[float, float]]:
        """A site's epsilon curve as drawn (for tests); empty when the site has none."""
        curve = self.site_curves.get(site)
        if curve is None:
            return []
        xs, ys = curve.getData()
        return [] if xs is None else [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def round_line(rnd: FederationRound, rounds: int) -> str:
    """One line per round for the page's log: accuracy, duration, who delivered an update, who dropped out."""
    acc = "n/a" if rnd.val_accuracy is None else f"{rnd.val_accuracy:.3f}"
    line = f"Round {rnd.round}/{rounds}: accuracy {acc}, {rnd.seconds:.1f} s, {rnd.sites_trained} site(s) trained"
    if rnd.dropped:
        line += f"; dropped out: {', '.join(rnd.dropped)}"
    eps = ", ".join(f"{name} {value:.2f}" for name, value in rnd.site_epsilons if value is not None)
    if eps:
        line += f"; ε {eps}"
    return line


class QtRoundLog(QPlainTextEdit):
    """The rounds as lines, newest last (read-only, selectable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumHeight(110)
        self.setPlaceholderText("Each round's figures appear here as it ends.")


class QtFederationResult(QGroupBox):
    """The result card: sites, rounds, secure aggregation, final accuracy, each site's epsilon and what it covers."""

    ROWS = ("Sites", "Rounds", "Secure aggregation", "Validation accuracy", "ε per site", "Guarantee", "Took")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Last federation", parent)
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        self.values: dict[str, QLabel] = {}
        for name in self.ROWS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name, label)
            self.values[name] = label
        self.hide()

    def show_result(self, result: FederationResult) -> None:
        from workbench.core.dp.accountant import format_delta

        rows = ", ".join(f"{name} {n}" for name, n in result.site_rows.items())
        self.values["Sites"].setText(f"{result.sites} ({rows} training rows)" if rows else str(result.sites))
        self.values["Rounds"].setText(str(result.rounds))
        secagg = result.plan is not None and result.plan.secure_aggregation
        self.values["Secure aggregation"].setText(
            f"SecAgg+ ({result.plan.num_shares} shares, threshold {result.plan.reconstruction_threshold}): the host "
            "saw only the sum of the sites' updates"
            if secagg and result.plan is not None
            else "OFF: the host saw every site's update"
        )
        acc = "n/a" if result.val_accuracy is None else f"{result.val_accuracy:.3f}"
        self.values["Validation accuracy"].setText(f"{acc} (row-weighted mean of the sites' own held-out rows)")
        if result.private and result.delta is not None:
            eps = ", ".join(f"{n} {e:.3f}" if e is not None else f"{n} none" for n, e in result.site_epsilons.items())
            accountant = (result.accountant or "").upper()
            self.values["ε per site"].setText(f"{eps} (δ {format_delta(result.delta)}, {accountant} accountant)")
            self.values["Guarantee"].setText(
                "Sample-level DP at each site, over all rounds: bounds what the site's updates (and the model) reveal "
                "about any one of its rows. Each site's ledger was charged what its accountant reports."
            )
        else:
            self.values["ε per site"].setText("none: trained WITHOUT differential privacy")
            self.values["Guarantee"].setText("Not private: for comparison only, no guarantee on any row.")
        per_round = ", ".join(f"{r.seconds:.0f}" for r in result.history)
        self.values["Took"].setText(f"{result.seconds:.1f} s (rounds: {per_round} s)")
        self.show()

    def text(self) -> str:
        """Every row as "name: value", one a line (for tests and for copying)."""
        return "\n".join(f"{name}: {self.values[name].text()}" for name in self.ROWS)
