"""The ``keyed_hash`` operator: hex HMAC-SHA256 of the value under the project's hash key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from workbench.core.pii.operators.base import Operator, OperatorContext, ParamSpec


class KeyedHashOperator(Operator):
    name = "keyed_hash"
    label = "Keyed hash"
    description = "HMAC-SHA256 with the project's secret key: the same value always gives the same hex token."
    params = (ParamSpec("length", "int", 16, "hex digits kept (8-64)", minimum=8, maximum=64),)
    needs_keys = True

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        digest = hmac.new(context.keys.hmac_key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[: int(params.get("length", 16))]
