"""Bank card numbers beyond the big card networks (UnionPay, debit and domestic schemes), Luhn-checked."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from workbench.core.pii.recognizers.checksums import digits_only, luhn_valid

BANK_CARD = "BANK_CARD"

# Numbers Presidio's CreditCardRecognizer already reports as CREDIT_CARD (Visa, Mastercard, Amex, Discover,
# Diners, JCB): left to it, so one card never yields two entities.
_CREDIT_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[0478]|35|6011|64[4-9]|65)")


class BankCardRecognizer(PatternRecognizer):
    """Find 16-19 digit bank card numbers (UnionPay 62..., Maestro, domestic debit) that pass the Luhn check.

    Digits may be grouped by spaces or dashes. UnionPay numbers (prefix 62) start at 0.5, other long numbers
    at 0.3; :meth:`validate_result` turns a Luhn-valid number into a 1.0 hit, drops a Luhn-invalid one, and
    drops numbers of the networks that Presidio's credit-card recognizer covers.
    """

    PATTERNS = [
        Pattern("unionpay card", r"(?<![\d-])62\d{2}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?(?![\d-])", 0.5),
        Pattern("bank card (16-19 digits)", r"(?<![\d-])\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?(?![\d-])", 0.3),
    ]
    CONTEXT = ["银行卡", "卡号", "bank", "card", "debit", "account", "unionpay", "maestro", "iban"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=BANK_CARD,
            name="BankCardRecognizer",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=0,
        )

    def validate_result(self, pattern_text: str) -> bool:
        """True for a Luhn-valid 16-19 digit number outside the credit-card networks."""
        digits = digits_only(pattern_text)
        if not 16 <= len(digits) <= 19 or _CREDIT_CARD_PREFIX.match(digits):
            return False
        return luhn_valid(digits)
