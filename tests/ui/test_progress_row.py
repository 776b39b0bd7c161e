"""A page's progress row (workbench/ui/qt_progress_row.py): a long message is elided, whole in the tooltip."""

from __future__ import annotations

from workbench.core.jobs import Progress
from workbench.ui.qt_progress_row import progress_row, show_progress


def test_a_long_message_fits_the_bar_and_is_whole_in_the_tooltip(qtbot) -> None:  # noqa: ANN001
    box, bar, _cancel = progress_row(lambda: None)
    qtbot.addWidget(box)
    box.resize(300, 30)
    box.show()
    qtbot.waitExposed(box)
    message = "round 2/3: validation accuracy 0.799, 62.8 s; site epsilon site-1 2.64, site-2 2.64, site-3 2.64 (RDP)"
    show_progress(bar, Progress("federation", 2, 3, "rounds", message))
    assert bar.toolTip() == message
    assert bar.format().endswith("…") and bar.fontMetrics().horizontalAdvance(bar.format()) <= bar.width()
    show_progress(bar, Progress("federation", 3, 3, "rounds", "done: 100% of the rounds"))
    assert bar.text() == "done: 100% of the rounds"  # short: shown whole
