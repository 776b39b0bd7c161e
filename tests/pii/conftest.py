"""PII detection and anonymization."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def analyzer() -> Any:
    """The default analyzer (built once per process; building it loads spaCy)."""
    from workbench.core.pii.analyzer import get_analyzer

    return get_analyzer()
