"""The ``replace`` operator: ``<ENTITY_TYPE>``, or a fixed ``new_value``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext, ParamSpec


class ReplaceOperator(Operator):
    name = "replace"
    label = "Replace with <TYPE>"
    description = "Replace the value with its entity type in angle brackets, or with a fixed text."
    params = (ParamSpec("new_value", "str", None, "fixed replacement text; empty: <ENTITY_TYPE>", optional=True),)

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        new_value = params.get("new_value")
        return new_value if new_value is not None else f"<{context.entity_type}>"
