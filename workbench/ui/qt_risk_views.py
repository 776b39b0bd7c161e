"""The Risk page's views: the measures before and after side by side, the class-size histogram and the risk
distribution (before and after as paired bars), and per quasi-identifier its distinction and separation.

Everything shown is read from :meth:`workbench.services.risk.RiskReport.as_dict`: sizes, counts and shares, never a
dataset value. pyqtgraph is imported when the views are built, not when this module is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
)

BEFORE_COLOR, AFTER_COLOR = "#1f77b4", "#ff7f0e"
SIZE_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None))
PLOT_HEIGHT = 230


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def _num(value: float) -> str:
    return f"{value:.6f}"


def _measure_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) rows of one report, in the order the table shows them."""
    s, pop = report["sample"], report["population"]
    rows = [
        ("Records", f"{report['records']:,}"),
        ("Equivalence classes", f"{report['equivalence_classes']:,}"),
        ("k (smallest class)", str(report["k"])),
        ("Prosecutor risk, average", _num(s["prosecutor"]["average"])),
        ("Prosecutor risk, highest", _num(s["prosecutor"]["highest"])),
        (f"Records at risk (> {s['prosecutor']['threshold']:g})", _pct(s["prosecutor"]["records_at_risk"])),
        ("Journalist risk, average", _num(s["journalist"]["average"])),
        ("Marketer risk", _num(s["marketer"])),
        ("Sample uniqueness", _pct(s["sample_uniqueness"])),
        (f"Population uniqueness ({pop['dankar_model']})", _pct(pop["dankar"] / max(pop["population_size"], 1))),
    ]
    for m in report["sensitive_measures"]:
        c = "—" if m["recursive_c"] is None else f"{m['recursive_c']:.4f}"
        rows += [
            (f"{m['column']}: distinct l", str(m["distinct_l"])),
            (f"{m['column']}: entropy l", f"{m['entropy_l']:.4f}"),
            (f"{m['column']}: recursive c (l = {m['recursive_l']})", c),
            (f"{m['column']}: t ({m['t_distance']} distance)", f"{m['t_closeness']:.6f}"),
        ]
    return rows


def _read_only_table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


class QtRiskMeasures(QTableWidget):
    """The measures of the dataset (Before) and of its generalized copy (After), one row per measure."""

    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["Measure", "Before", "After"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setMinimumWidth(430)
        self.setMinimumHeight(300)

    def show_reports(self, before: dict[str, Any], after: dict[str, Any] | None) -> None:
        rows = _measure_rows(before)
        after_values = dict(_measure_rows(after)) if after is not None else {}
        self.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.setItem(i, 0, QTableWidgetItem(name))
            self.setItem(i, 1, QTableWidgetItem(value))
            self.setItem(i, 2, QTableWidgetItem(after_values.get(name, "—" if after is not None else "")))
        self.setColumnHidden(2, after is None)
        self.resizeColumnToContents(1)
        self.resizeColumnToContents(2)

    def value(self, measure: str, column: str = "Before") -> str:
        """The text shown for ``measure`` in ``column`` ("Before" or "After")."""
        index = {"Before": 1, "After": 2}[column]
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item is not None and item.text() == measure:
                cell = self.item(row, index)
                return cell.text() if cell is not None else ""
        raise KeyError(measure)


def size_histogram(report: dict[str, Any]) -> list[int]:
    """Classes per size bucket (:data:`SIZE_BUCKETS`) of one report."""
    counts = [0] * len(SIZE_BUCKETS)
    for entry in report["class_size_histogram"]:
        for i, (low, high) in enumerate(SIZE_BUCKETS):
            if entry["size"] >= low and (high is None or entry["size"] <= high):
                counts[i] += entry["classes"]
                break
    return counts


def _bucket_label(low: int, high: int | None) -> str:
    return f"{low}" if low == high else (f"> {low - 1}" if high is None else f"{low}-{high}")


def _risk_label(low: float, high: float) -> str:
    return f"≤ {high * 100:g} %" if low == 0.0 else f"{low * 100:g}-{high * 100:g} %"


class QtRiskPlots(QTabWidget):
    """Class sizes, risk distribution and per-quasi-identifier distinction/separation, each in a tab."""

    def __init__(self) -> None:
        super().__init__()
        from workbench.ui.qt_train_plots import configure_plots, make_plot

        configure_plots()
        self._titles = {"sizes": "Equivalence classes by size", "risk": "Risk distribution"}
        self.sizes_plot = make_plot(self._titles["sizes"], "class size", "classes")
        self.risk_plot = make_plot(self._titles["risk"], "prosecutor risk of the record", "share of records (%)")
        for plot in (self.sizes_plot, self.risk_plot):
            plot.setMinimumHeight(PLOT_HEIGHT)
            plot.setMouseEnabled(x=False, y=False)
        self.attributes = _read_only_table(["Quasi-identifier", "Distinction", "Separation"])
        self.hierarchy = _read_only_table(["Value"])
        self.hierarchy.setToolTip("The hierarchy of the quasi-identifier chosen in the columns table (its first rows)")
        self.addTab(self.sizes_plot, "Class sizes")
        self.addTab(self.risk_plot, "Risk distribution")
        self.addTab(self.attributes, "Per quasi-identifier")
        self.addTab(self.hierarchy, "Hierarchy")
        self.series: dict[str, dict[str, list[float]]] = {}
        self.labels: dict[str, list[str]] = {}

    def show_reports(self, before: dict[str, Any], after: dict[str, Any] | None) -> None:
        """Draw both plots (paired bars when there is an after) and fill the attribute table."""
        reports = {"before": before} if after is None else {"before": before, "after": after}
        sizes = {name: [float(v) for v in size_histogram(r)] for name, r in reports.items()}
        self._bars(self.sizes_plot, "sizes", [_bucket_label(lo, hi) for lo, hi in SIZE_BUCKETS], sizes)
        dist = before["risk_distribution"]
        shares = {name: [v * 100 for v in r["risk_distribution"]["records"]] for name, r in reports.items()}
        shown = [i for i in range(len(dist["high"])) if any(s[i] > 0 for s in shares.values())]
        labels = [_risk_label(dist["low"][i], dist["high"][i]) for i in shown]
        self._bars(self.risk_plot, "risk", labels, {n: [s[i] for i in shown] for n, s in shares.items()})
        rows = before["quasi_identifier_distinction_separation"]
        self.attributes.setRowCount(len(rows))
        for i, row in enumerate(rows):
            values = (row["column"], f"{row['distinction']:.6f}", f"{row['separation']:.6f}")
            for j, text in enumerate(values):
                self.attributes.setItem(i, j, QTableWidgetItem(text))

    def show_hierarchy(self, column: str, what: str, rows: Sequence[Sequence[str]], total: int) -> None:
        """The first ``rows`` of ``column``'s hierarchy (value, then its label per level), of ``total`` rows."""
        width = max((len(r) for r in rows), default=1)
        self.hierarchy.setColumnCount(width)
        self.hierarchy.setHorizontalHeaderLabels([column] + [f"level {i}" for i in range(1, width)])
        self.hierarchy.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.hierarchy.setItem(i, j, QTableWidgetItem(text))
        self.setTabText(self.indexOf(self.hierarchy), f"Hierarchy: {column}")
        self.setTabToolTip(self.indexOf(self.hierarchy), f"{what}; {min(len(rows), total)} of {total} rows shown")
        self.setCurrentWidget(self.hierarchy)

    def _bars(self, plot: Any, key: str, labels: list[str], series: dict[str, list[float]]) -> None:
        import pyqtgraph as pg

        plot.clear()
        width = 0.8 / len(series)
        colors = {"before": BEFORE_COLOR, "after": AFTER_COLOR}
        for j, (name, values) in enumerate(series.items()):
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(values))]
            plot.addItem(pg.BarGraphItem(x=xs, height=values, width=width * 0.95, brush=colors[name], name=name))
        plot.getAxis("bottom").setTicks([list(enumerate(labels))])
        plot.setXRange(-0.6, max(len(labels) - 0.4, 0.6), padding=0)
        legend = "" if len(series) == 1 else " (blue: before, orange: after)"
        plot.setTitle(self._titles[key] + legend)
        self.series[key] = series
        self.labels[key] = labels
