"""Chinese resident identity number (居民身份证号码): 18 characters with a MOD 11-2 check character."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from workbench.core.pii.recognizers.checksums import cn_resident_id_valid

CN_RESIDENT_ID = "CN_RESIDENT_ID"


class CnResidentIdRecognizer(PatternRecognizer):
    """Find 18-character Chinese resident identity numbers and keep only those that check out.

    The pattern already requires a plausible layout (region code, a 19xx/20xx birth date, a sequence number and
    a check character); :meth:`validate_result` then checks the province, the birth date (a real day, not in
    the future) and the ISO 7064 MOD 11-2 check character, so a random 18-digit number passes with a chance of
    about 1 in 11 times the share of valid dates, and a passing number scores 1.0.
    """

    PATTERNS = [
        Pattern(
            "cn resident id (18 characters)",
            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])",
            0.3,
        )
    ]
    CONTEXT = ["身份证", "身份证号", "居民身份证", "resident", "identity", "id card", "id number", "citizen"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=CN_RESIDENT_ID,
            name="CnResidentIdRecognizer",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=0,
        )

    def validate_result(self, pattern_text: str) -> bool:
        """True when the province, birth date and check character are all valid."""
        return cn_resident_id_valid(pattern_text)
