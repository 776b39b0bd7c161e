"""The ``pseudonym`` operator: a realistic fake of the same kind, the same for the same value in every row and
run; dates move by an offset that is the same for every date of one subject (or of the whole dataset)."""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators.base import Operator, OperatorContext, ParamSpec
from workbench.core.pii.operators.dates import parse_date
from workbench.core.pii.operators.fakes import (
    fake_cn_resident_id,
    fake_person,
    fakers,
    match_case,
    replace_alnum,
    replace_digits,
    seed,
)


class PseudonymOperator(Operator):
    name = "pseudonym"
    label = "Consistent pseudonym"
    description = (
        "A realistic fake of the same kind (name, phone, e-mail, date...), the same for the same value in every "
        "row and run of the project."
    )
    params = (
        ParamSpec("max_shift_days", "int", 180, "largest date shift in days (dates move by 1 to this many days)",
                  minimum=1, maximum=3650),
    )  # fmt: skip
    needs_keys = True
    uses_subject = True
    _CACHE_SIZE = 100_000

    def params_for(self, entity_type: str | None) -> tuple[ParamSpec, ...]:
        """``max_shift_days`` moves dates only."""
        return self.params if entity_type in (None, "DATE_TIME") else ()

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[bytes, str, str, str | None, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        key = context.keys.pseudonym_key
        shift = int(params.get("max_shift_days", 180))
        subject = context.subject if context.entity_type == "DATE_TIME" else None
        cache_key = (key, context.entity_type, text, subject, shift)
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        result = self._make(text, context.entity_type, key, subject, shift)
        with self._lock:
            self._cache[cache_key] = result
            if len(self._cache) > self._CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    @staticmethod
    def date_offset(key: bytes, subject: str | None, max_shift_days: int) -> int:
        """The shift in days (never 0) of every date of ``subject`` (``None``: the whole dataset)."""
        rng = random.Random(seed(key, "DATE_TIME-shift", subject or ""))
        magnitude = rng.randint(1, max_shift_days)
        return magnitude if rng.random() < 0.5 else -magnitude

    def _make(self, text: str, entity_type: str, key: bytes, subject: str | None, max_shift: int) -> str:
        fake = fakers.fake
        value = text.strip()
        rng = random.Random(seed(key, entity_type, value))
        fake.seed_instance(seed(key, entity_type, value))
        if entity_type == "DATE_TIME":
            parsed = parse_date(value)
            if parsed is None:
                return f"<{entity_type}>"
            moved = parsed.value + timedelta(days=self.date_offset(key, subject, max_shift))
            return parsed.format(moved)
        if entity_type == "PERSON":
            return fake_person(value, key, fake)
        if entity_type == "EMAIL_ADDRESS":
            local = f"{fake.first_name()}.{fake.last_name()}{rng.randint(1, 99)}".lower()
            local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == "."))
            return f"{local}@{fake.safe_domain_name()}"
        if entity_type in ("PHONE_NUMBER", "US_SSN", "ZIP_CODE", "US_BANK_NUMBER", "UK_NHS", "US_ITIN"):
            return replace_digits(value, rng)
        if entity_type in ("CREDIT_CARD", "BANK_CARD"):
            return replace_digits(value, rng, luhn=True)
        if entity_type == "CN_MOBILE":
            prefix = re.match(r"^(?:\+86|0086)[ -]?", value)
            head = prefix.group(0) if prefix else ""
            body = replace_digits(value[len(head) :], rng)
            second = str(rng.randint(3, 9))
            at = next((i for i, ch in enumerate(body) if ch.isdigit()), None)
            if at is not None:
                body = body[:at] + "1" + body[at + 1 :]
                nxt = next((i for i in range(at + 1, len(body)) if body[i].isdigit()), None)
                if nxt is not None:
                    body = body[:nxt] + second + body[nxt + 1 :]
            return head + body
        if entity_type == "CN_RESIDENT_ID":
            return fake_cn_resident_id(value, rng)
        if entity_type in ("LOCATION", "GPE"):
            return match_case(value, fake.city())
        if entity_type == "STREET_ADDRESS":
            return fake.street_address()
        if entity_type == "ORGANIZATION":
            return match_case(value, fake.company())
        if entity_type == "IP_ADDRESS":
            return fake.ipv6() if ":" in value else fake.ipv4_public()
        if entity_type == "URL":
            return f"https://{fake.domain_word()}.example/"
        if entity_type in ("US_DRIVER_LICENSE", "US_PASSPORT", "IBAN_CODE", "MEDICAL_LICENSE"):
            return replace_alnum(value, rng)
        if entity_type == "AGE" and value.isdigit():
            return str(max(0, int(value) + rng.randint(-2, 2)))
        # No fake generator for this type: a stable token still links equal values.
        return f"<{entity_type}_{seed(key, entity_type, value) & 0xFFFFFFFF:08x}>"


def shift_for(keys: AnonymizationKeys, subject: str | None, max_shift_days: int = 180) -> timedelta:
    """The date shift the ``pseudonym`` operator applies for ``subject`` (for reports and tests)."""
    return timedelta(days=PseudonymOperator.date_offset(keys.pseudonym_key, subject, max_shift_days))
