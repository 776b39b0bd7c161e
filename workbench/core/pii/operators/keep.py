"""The ``keep`` operator: the value stays as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext


class KeepOperator(Operator):
    name = "keep"
    label = "Keep"
    description = "Leave the value unchanged."

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        return text
