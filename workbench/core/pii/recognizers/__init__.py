"""The workbench's own Presidio recognizers.

Checksum recognizers for identifiers Presidio lacks (each a :class:`presidio_analyzer.PatternRecognizer` with
``validate_result``): :class:`CnResidentIdRecognizer`, :class:`CnMobileRecognizer`, :class:`BankCardRecognizer`.

Detector improvements for English free text, built from Faker's locale word lists and generic patterns:
:class:`PersonNameRecognizer`, :class:`HonorificRecognizer`, :class:`LocationGazetteerRecognizer`,
:class:`StreetAddressRecognizer`, :class:`ZipCodeRecognizer`, :class:`AgeRecognizer`,
:class:`OrganizationSuffixRecognizer`.

The recognizers are registered by module path in :data:`RECOGNIZERS` (a :class:`workbench.core.registry.Registry`,
named by class): importing this package imports none of them, nor Presidio, so helpers such as
:mod:`.checksums` stay cheap to import. :func:`workbench_recognizers` returns one instance of each, ready for a
``RecognizerRegistry``; a new recognizer is added with ``RECOGNIZERS.register(name, "module:Class")``. The classes
and entity-type constants are still importable from this package (imported on first access).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.core.registry import Registry

if TYPE_CHECKING:
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

    RECOGNIZER_CLASSES: tuple[Callable[..., EntityRecognizer], ...]

RECOGNIZERS: Registry[Callable[..., EntityRecognizer]] = Registry("recognizer")
"""Recognizer class name -> ``"module:Class"``; each class takes ``supported_language``."""

for _module, _class in (
    ("cn_resident_id", "CnResidentIdRecognizer"),
    ("cn_mobile", "CnMobileRecognizer"),
    ("bank_card", "BankCardRecognizer"),
    ("names", "PersonNameRecognizer"),
    ("names", "HonorificRecognizer"),
    ("locations", "LocationGazetteerRecognizer"),
    ("locations", "StreetAddressRecognizer"),
    ("misc", "ZipCodeRecognizer"),
    ("misc", "AgeRecognizer"),
    ("misc", "OrganizationSuffixRecognizer"),
):
    RECOGNIZERS.register(_class, f"{__name__}.{_module}:{_class}")

_CONSTANTS = {
    "BANK_CARD": "bank_card",
    "CN_MOBILE": "cn_mobile",
    "CN_RESIDENT_ID": "cn_resident_id",
    "STREET_ADDRESS": "locations",
    "TITLE": "names",
}


def workbench_recognizers(language: str = "en") -> list[EntityRecognizer]:
    """One instance of every workbench recognizer for ``language``, in registration order."""
    return [RECOGNIZERS.get(name)(supported_language=language) for name in RECOGNIZERS.names()]


def __getattr__(name: str) -> Any:
    """The recognizer classes, :data:`RECOGNIZER_CLASSES` and the entity-type constants, imported on first access."""
    if name == "RECOGNIZER_CLASSES":
        return tuple(RECOGNIZERS.get(n) for n in RECOGNIZERS.names())
    if name in _CONSTANTS:
        return getattr(importlib.import_module(f"{__name__}.{_CONSTANTS[name]}"), name)
    if name in RECOGNIZERS:
        return RECOGNIZERS.get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BANK_CARD",
    "CN_MOBILE",
    "CN_RESIDENT_ID",
    "RECOGNIZERS",
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
