"""Mainland Chinese mobile numbers: 11 digits starting 13-19, with an optional +86 / 0086 prefix."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from workbench.core.pii.recognizers.checksums import digits_only

CN_MOBILE = "CN_MOBILE"

# Prefixes (first three digits) assigned to mobile networks by the MIIT numbering plan, data-only and IoT
# ranges (140-144, 146, 148) left out because they are not dialled by people.
_MOBILE_PREFIXES = frozenset(
    {*range(130, 140), 145, 147, 149, *range(150, 154), *range(155, 160), 162, 165, 166, 167, *range(170, 179),
     *range(180, 190), *range(190, 200)}
)  # fmt: skip


class CnMobileRecognizer(PatternRecognizer):
    """Find mainland Chinese mobile numbers, written plain (13812345678) or grouped 3-4-4.

    An 11-digit number is ambiguous on its own, so a bare match scores 0.4 and a match with the +86/0086
    country prefix 0.7; context words (手机, 电话, mobile...) raise it. :meth:`validate_result` rejects
    numbers whose first three digits are not a mobile network prefix.
    """

    PATTERNS = [
        Pattern(
            "cn mobile with country code",
            r"(?<![\d+])(?:\+86|0086)[ -]?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)",
            0.7,
        ),
        Pattern("cn mobile", r"(?<![\d+])1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})(?!\d)", 0.4),
    ]
    CONTEXT = ["手机", "手机号", "电话", "联系电话", "mobile", "cell", "phone", "tel", "whatsapp", "wechat", "call"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=CN_MOBILE,
            name="CnMobileRecognizer",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=0,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for an unassigned prefix; otherwise ``None`` (keep the pattern's score: no checksum exists)."""
        digits = digits_only(pattern_text)
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) != 11 or int(digits[:3]) not in _MOBILE_PREFIXES:
            return False
        return None
