"""Small pattern recognizers Presidio lacks: ages, postal codes next to a place, organisations by legal form."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from workbench.core.pii.recognizers.gazetteers import COMPANY_SUFFIXES

AGE = "AGE"
ZIP_CODE = "ZIP_CODE"
ORGANIZATION = "ORGANIZATION"


class AgeRecognizer(PatternRecognizer):
    """AGE: the number in "61 years old", "a 61-year-old", "aged 61", "age: 61", "61 y/o" (the number only)."""

    PATTERNS = [
        Pattern("n years old", r"(?<![\w.])\d{1,3}(?=[ -]?(?:years?|yrs?)[ -]?old\b)", 0.6),
        Pattern("aged n", r"(?<=\b(?:[Aa]ged?|[Aa]ge[ ]?[:=]|[Aa]ge of)[ ]?)\d{1,3}(?![\w.])", 0.5),
        Pattern("n y/o", r"(?<![\w.])\d{1,3}(?=[ ]?(?:y/o|y\.o\.|yo)\b)", 0.5),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=AGE,
            name="AgeRecognizer",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            global_regex_flags=0,
        )


class ZipCodeRecognizer(PatternRecognizer):
    """ZIP_CODE: a 4-6 digit postal code after a state code or a capitalised place at the end of an address line.

    ``Denver, CO 80202`` and ``Czech Republic 56655`` score 0.5; a bare five-digit number only 0.05, which the
    context words (zip, postal, postcode) can raise to 0.4.
    """

    PATTERNS = [
        Pattern("after a state code", r"(?<=\b[A-Z]{2},?[ ])\d{5}(?:-\d{4})?(?![\w-])", 0.5),
        Pattern("after a place, at line end", r"(?<=[A-Z][a-zà-ÿ)]+,?[ ])\d{4,6}(?=[ \t]*$)", 0.5),
        Pattern("five digits", r"(?<![\w-])\d{5}(?:-\d{4})?(?![\w-])", 0.05),
    ]
    CONTEXT = ["zip", "zipcode", "postal", "postcode", "post code", "plz"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity=ZIP_CODE,
            name="ZipCodeRecognizer",
            supported_language=supported_language,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=re.MULTILINE,
        )


class OrganizationSuffixRecognizer(PatternRecognizer):
    """ORGANIZATION: one to four capitalised words followed by a legal form or an organisation word.

    ``Shepherd Ltd.``, ``3 Round Stones Inc``, ``Loveland Technologies``, ``Müller GmbH`` score 0.55.
    """

    def __init__(self, supported_language: str = "en") -> None:
        suffixes = "|".join(sorted((re.escape(s) for s in COMPANY_SUFFIXES), key=len, reverse=True))
        word = r"(?:[A-ZÀ-ÖØ-Þ0-9][\w&'’.\-]*)"
        super().__init__(
            supported_entity=ORGANIZATION,
            name="OrganizationSuffixRecognizer",
            supported_language=supported_language,
            patterns=[
                Pattern("name and legal form", rf"(?<![\w]){word}(?:[ ]{word}){{0,3}}[ ](?:{suffixes})(?![\w])", 0.55)
            ],
            global_regex_flags=0,
        )
