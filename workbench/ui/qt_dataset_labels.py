"""Dataset combo boxes that name each dataset uniquely and say what it is (issue 14).

The labels come from :mod:`workbench.services.dataset_labels`; the tooltip says where the analyst finds the
dataset (a path, or "in the encrypted project as NAME": never a ``vault:`` location).
"""

from __future__ import annotations

from pathlib import Path
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


def same_bytes_note(existing: DatasetRecord | None, requested_path: str) -> str | None:
    """What to say when a load gave the bytes of ``existing``, a dataset already in the project: ``None`` when it
    is that dataset opened again (the page was asked for its own location: a reopened project, a reload), else a
    note that the new file is the same dataset.

    ``requested_path``: the location the page was asked to load (not where an import into the vault put it: a
    new file with the same bytes lands on the same vault location).
    """
    if existing is None or _same_file(existing.path, requested_path):
        return None
    return (
        f"This file has the same bytes (SHA-256) as {existing.name}, already in the project: it is the same "
        "dataset, and its saved roles were kept."
    )


def _same_file(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
