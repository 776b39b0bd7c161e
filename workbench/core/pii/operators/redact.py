"""The ``redact`` operator: the value is removed (empty string)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext


class RedactOperator(Operator):
    name = "redact"
    label = "Redact"
    description = "Remove the value entirely."

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        return ""
