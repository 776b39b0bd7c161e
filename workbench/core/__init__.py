"""Qt-free core of the workbench: everything a CLI, a test or a script can run.

Nothing under ``workbench.core`` may import PySide6 or pyqtgraph (``tests/core/test_architecture.py``).
"""
