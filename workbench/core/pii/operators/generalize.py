"""The ``generalize`` operator: age to bands (``30-39``, ``90+``), ZIP code to a prefix (``021**``), date to
month or year."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext, ParamSpec
from workbench.core.pii.operators.dates import parse_date

_DIGITS_ONLY = re.compile(r"\d+")


class GeneralizeOperator(Operator):
    name = "generalize"
    label = "Generalize"
    description = "Coarser values: age to bands, ZIP code to a prefix, date to month or year."
    params = (
        ParamSpec("kind", "choice", "auto", "what the value is; auto: from the entity type",
                  choices=("auto", "age", "zip", "date")),
        ParamSpec("age_band", "int", 10, "width of an age band in years", minimum=1, maximum=50),
        ParamSpec("age_top", "int", 90, "ages from this value up become one band (90+)", minimum=1, maximum=150),
        ParamSpec("zip_digits", "int", 3, "leading ZIP digits kept", minimum=0, maximum=9),
        ParamSpec("date_granularity", "choice", "month", "keep the month or only the year",
                  choices=("month", "year")),
    )  # fmt: skip

    _AUTO = {"AGE": "age", "ZIP_CODE": "zip", "DATE_TIME": "date"}
    _USED = {"age": ("age_band", "age_top"), "zip": ("zip_digits",), "date": ("date_granularity",)}
    """The parameters each kind of generalization reads."""

    def params_for(self, entity_type: str | None) -> tuple[ParamSpec, ...]:
        """Only the parameters of the entity type's generalization (none for a type without one: it becomes
        ``<TYPE>``); ``kind`` is left out, it is the entity type's."""
        if entity_type is None:
            return self.params
        used = self._USED.get(self._AUTO.get(entity_type, ""), ())
        return tuple(p for p in self.params if p.name in used)

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        kind = params.get("kind", "auto")
        if kind == "auto":
            kind = self._AUTO.get(context.entity_type, "")
        value = text.strip()
        if kind == "age":
            return self._age(value, int(params.get("age_band", 10)), int(params.get("age_top", 90)), context)
        if kind == "zip":
            digits = int(params.get("zip_digits", 3))
            if not re.fullmatch(r"[0-9A-Za-z -]{3,10}", value):
                return f"<{context.entity_type}>"
            kept = 0
            out = []
            for ch in value:
                if ch.isalnum():
                    out.append(ch if kept < digits else "*")
                    kept += 1
                else:
                    out.append(ch)
            return "".join(out)
        if kind == "date":
            parsed = parse_date(value)
            if parsed is None:
                return f"<{context.entity_type}>"
            if params.get("date_granularity", "month") == "year":
                return f"{parsed.value.year:04d}"
            return f"{parsed.value.year:04d}-{parsed.value.month:02d}"
        return f"<{context.entity_type}>"

    @staticmethod
    def _age(value: str, band: int, top: int, context: OperatorContext) -> str:
        match = _DIGITS_ONLY.fullmatch(value)
        if match is None:
            return f"<{context.entity_type}>"
        age = int(value)
        if age >= top:
            return f"{top}+"
        low = (age // band) * band
        high = min(low + band - 1, top - 1)
        return f"{low}-{high}" if band > 1 else str(age)
