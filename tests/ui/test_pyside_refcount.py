"""Guard against a Qt binding that corrupts reference counts.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every ``Signal.emit``: after a few hundred
signals the interpreter aborts ("deallocating True or False"). A workbench emits thousands an hour, so the
dependency range excludes it; this test fails if a bad release slips back in.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal, Slot


class _Emitter(QObject):
    sig_value = Signal(int, object)


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(int, object)
    def on_value(self, number: int, payload: object) -> None:
        self.count += 1


def test_emitting_signals_keeps_reference_counts(qapp) -> None:  # noqa: ANN001
    emitter, receiver = _Emitter(), _Receiver()
    emitter.sig_value.connect(receiver.on_value)
    before = {name: sys.getrefcount(obj) for name, obj in (("True", True), ("False", False), ("None", None))}
    for i in range(100):
        emitter.sig_value.emit(i, None)
    after = {name: sys.getrefcount(obj) for name, obj in (("True", True), ("False", False), ("None", None))}
    assert receiver.count == 100
    # A few references may come and go with interpreter caches; a leak per emit would show as -100.
    for name in before:
        assert after[name] - before[name] > -20, f"{name} lost {before[name] - after[name]} references"
