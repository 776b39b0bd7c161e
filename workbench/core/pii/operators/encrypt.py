"""The ``encrypt`` operator: an AES-256-GCM token (:mod:`~workbench.core.pii.operators.tokens`), reversible with
the project's key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext
from workbench.core.pii.operators.tokens import encrypt_value


class EncryptOperator(Operator):
    name = "encrypt"
    label = "Encrypt (reversible)"
    description = "AES-256-GCM with the project's key; authorised users can restore the original (de-anonymize)."
    needs_keys = True
    deterministic = False
    reversible = True

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        return encrypt_value(text, context.keys)
