"""The workbench's own Presidio recognizers.

Checksum recognizers for identifiers Presidio lacks (each a :class:`presidio_analyzer.PatternRecognizer` with
``validate_result``): :class:`CnResidentIdRecognizer`, :class:`CnMobileRecognizer`, :class:`BankCardRecognizer`.

Detector improvements for English free text, built from Faker's locale word lists and generic patterns:
:class:`PersonNameRecognizer`, :class:`HonorificRecognizer`, :class:`LocationGazetteerRecognizer`,
:class:`StreetAddressRecognizer`, :class:`ZipCodeRecognizer`, :class:`AgeRecognizer`,
:class:`OrganizationSuffixRecognizer`.

:func:`workbench_recognizers` returns one instance of each, ready for a ``RecognizerRegistry``; a new
recognizer is added by appending its class to :data:`RECOGNIZER_CLASSES`.
"""

from __future__ import annotations

from collections.abc import Callable

from presidio_analyzer import EntityRecognizer

from workbench.core.pii.recognizers.bank_card import BANK_CARD, BankCardRecognizer
from workbench.core.pii.recognizers.cn_mobile import CN_MOBILE, CnMobileRecognizer
from workbench.core.pii.recognizers.cn_resident_id import CN_RESIDENT_ID, CnResidentIdRecognizer
from workbench.core.pii.recognizers.locations import (
    STREET_ADDRESS,
    LocationGazetteerRecognizer,
    StreetAddressRecognizer,
)
from workbench.core.pii.recognizers.misc import AgeRecognizer, OrganizationSuffixRecognizer, ZipCodeRecognizer
from workbench.core.pii.recognizers.names import TITLE, HonorificRecognizer, PersonNameRecognizer

RECOGNIZER_CLASSES: tuple[Callable[..., EntityRecognizer], ...] = (
    CnResidentIdRecognizer,
    CnMobileRecognizer,
    BankCardRecognizer,
    PersonNameRecognizer,
    HonorificRecognizer,
    LocationGazetteerRecognizer,
    StreetAddressRecognizer,
    ZipCodeRecognizer,
    AgeRecognizer,
    OrganizationSuffixRecognizer,
)


def workbench_recognizers(language: str = "en") -> list[EntityRecognizer]:
    """One instance of every workbench recognizer for ``language``."""
    return [cls(supported_language=language) for cls in RECOGNIZER_CLASSES]


__all__ = [
    "BANK_CARD",
    "CN_MOBILE",
    "CN_RESIDENT_ID",
    "RECOGNIZER_CLASSES",
    "STREET_ADDRESS",
    "TITLE",
    "AgeRecognizer",
    "BankCardRecognizer",
    "CnMobileRecognizer",
    "CnResidentIdRecognizer",
    "HonorificRecognizer",
    "LocationGazetteerRecognizer",
    "OrganizationSuffixRecognizer",
    "PersonNameRecognizer",
    "StreetAddressRecognizer",
    "ZipCodeRecognizer",
    "workbench_recognizers",
]
