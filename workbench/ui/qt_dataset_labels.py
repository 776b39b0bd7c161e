"""Dataset combo boxes that name each dataset uniquely and say what it is (issue 14).

The labels come from :mod:`workbench.services.dataset_labels`; the tooltip says where the analyst finds the
dataset (a path, or "in the encrypted project as NAME": never a ``vault:`` location).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from workbench.services.dataset_labels import dataset_labels, dataset_location

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtWidgets import QComboBox

    from workbench.core.project.datasets import DatasetRecord
    from workbench.core.project.store import Project


def add_dataset_items(
    combo: QComboBox, records: Sequence[DatasetRecord], project: Project | None, *, rows: bool = False
) -> None:
    """Append one item per record to ``combo`` (its data: the record's id), labelled uniquely, with its location
    as tooltip; ``rows``: the label ends with the number of rows."""
    labels = dataset_labels(records, project)
    for record in records:
        text = labels[record.id] + (f" · {record.rows:,} rows" if rows else "")
        combo.addItem(text, record.id)
        combo.setItemData(combo.count() - 1, dataset_location(record), Qt.ItemDataRole.ToolTipRole)
