"""The questions the Data page asks when a load is refused as a misread (see :mod:`workbench.core.data.misreads`).

The detection lives in core; here is only the asking. :func:`ask_about_misread` turns a refused load into the
:class:`~workbench.core.data.dataset.LoadOptions` changes the analyst chose (``None``: cancel). Every question
goes through :func:`choose`, one modal message box with a button per answer, which tests replace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.data.misreads import ENCODING, HEADER, UNCLOSED_QUOTE, MisreadError, UnclosedQuote

HEADER_TITLE = "The first row looks like data"
HEADER_CHOICES = ("Use it as data (columns column_1, column_2, …)", "Use it as column names")
QUOTE_TITLE = "A quote is never closed"
QUOTE_CHOICES = ("Load anyway (the rest of the file becomes one value)",)
ENCODING_TITLE = "The file mixes encodings"
ENCODINGS = (("Read as UTF-8", "utf-8"), ("Read as Latin-1", "latin-1"), ("Read as Windows-1252", "cp1252"))


def choose(parent: QWidget | None, title: str, text: str, choices: Sequence[str]) -> int | None:
    """Ask with one button per choice and a Cancel button; the index chosen, or ``None`` for Cancel."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(title)
    box.setInformativeText(text)
    buttons = [box.addButton(label, QMessageBox.ButtonRole.AcceptRole) for label in choices]
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    return buttons.index(clicked) if clicked in buttons else None  # type: ignore[arg-type]


def ask_about_misread(parent: QWidget | None, error: MisreadError) -> dict[str, Any] | None:
    """Ask what to do about a refused load; the :class:`LoadOptions` fields to change, or ``None`` (cancel).

    The question quotes the error's problem sentence, which holds line numbers, offsets and counts only.
    """
    if error.kind == HEADER:
        text = (
            f"{error.problem}\n\nUse the first row as data (the columns are then named column_1, column_2, …), "
            "or as column names (its values become the names the project keeps)?"
        )
        answer = choose(parent, HEADER_TITLE, text, HEADER_CHOICES)
        return None if answer is None else {"header": answer == 1}
    if error.kind == UNCLOSED_QUOTE:
        if isinstance(error.detail, UnclosedQuote) and error.detail.row_short:  # accepting cannot help
            return None
        answer = choose(parent, QUOTE_TITLE, error.problem, QUOTE_CHOICES)
        return None if answer is None else {"accept_unclosed_quote": True}
    if error.kind == ENCODING:
        answer = choose(parent, ENCODING_TITLE, error.problem, [label for label, _ in ENCODINGS])
        return None if answer is None else {"encoding": ENCODINGS[answer][1]}
    return None
