"""Suite-wide set-up: no screen needed, and nothing written to the real home folder."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Logs, recent projects and settings of the whole test session go to a throw-away folder.
if "WORKBENCH_HOME" not in os.environ:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="workbench-tests-")
