"""The ``mask`` operator: characters overwritten with ``masking_char``, from the start or the end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext, ParamSpec


class MaskOperator(Operator):
    name = "mask"
    label = "Mask"
    description = "Overwrite characters with a masking character, from the start or from the end."
    params = (
        ParamSpec("masking_char", "char", "*", "the character written over the value"),
        ParamSpec("chars_to_mask", "int", None, "how many characters to mask; empty: all", minimum=0, optional=True),
        ParamSpec("from_end", "bool", False, "mask the last characters instead of the first"),
        ParamSpec("skip_separators", "bool", False, "mask and count only letters and digits (keeps -, space, @...)"),
    )

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        char = params.get("masking_char", "*")
        count = params.get("chars_to_mask")
        from_end = bool(params.get("from_end", False))
        skip = bool(params.get("skip_separators", False))
        positions = [i for i, ch in enumerate(text) if ch.isalnum()] if skip else list(range(len(text)))
        if count is not None:
            if count == 0:
                positions = []
            elif from_end:
                positions = positions[-count:]
            else:
                positions = positions[:count]
        chars = list(text)
        for i in positions:
            chars[i] = char
        return "".join(chars)
