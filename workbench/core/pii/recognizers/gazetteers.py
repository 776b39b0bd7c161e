"""Word lists for the gazetteer recognizers, gathered from Faker's locale providers at first use.

Faker ships, per locale, the first names, last names, cities, countries, street affixes and company suffixes
it draws fake data from. Gathered across its Latin-script locales they make a broad, offline name list: far
from every name in the world, but many more than an English NER model knows. Only single-script Latin entries
are kept (the recognizers work on English text) and entries are compared case-sensitively in title case.

The lists are built once per process (about 0.2 s) and are read-only afterwards, so threads may share them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

_LATIN_WORD = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ɏ'’.\- ]+$")
# Locales whose lists are (mostly) Latin script; others are skipped wholesale because their romanised entries
# are rare and their native-script entries never match English text.
_SKIP_LOCALE_PREFIXES = ("ar_", "bg_", "bn_", "el_", "fa_", "gu_", "he_", "hi_", "hy_", "ja_", "ka_", "ko_",
                         "mk_", "mr_", "ne_", "or_", "ru_", "si_", "ta_", "th_", "uk_", "zh_", "ru", "uk")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Gazetteers:
    """The word lists (immutable sets of strings as they are written, e.g. ``"Szabina"``)."""

    first_names: frozenset[str]
    female_first_names: frozenset[str]
    last_names: frozenset[str]
    cities: frozenset[str]
    countries: frozenset[str]
    states: frozenset[str]


_lock = threading.Lock()
_cached: Gazetteers | None = None


def _provider_values(package: str, attributes: Iterable[str]) -> dict[str, set[str]]:
    module = importlib.import_module(package)
    out: dict[str, set[str]] = {a: set() for a in attributes}
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith(_SKIP_LOCALE_PREFIXES):
            continue
        try:
            provider = importlib.import_module(f"{package}.{info.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attribute in attributes:
            value = getattr(provider, attribute, None)
            if isinstance(value, dict):  # weighted lists are OrderedDicts of value -> weight
                value = list(value)
            if isinstance(value, list | tuple):
                out[attribute].update(v.strip() for v in value if isinstance(v, str))
    return out


def _clean(values: Iterable[str], min_len: int = 2) -> frozenset[str]:
    return frozenset(v for v in values if len(v) >= min_len and _LATIN_WORD.match(v) and v[0].isupper())


def gazetteers() -> Gazetteers:
    """The word lists, built on first call (thread-safe) and shared afterwards."""
    global _cached
    with _lock:
        if _cached is None:
            people = _provider_values(
                "faker.providers.person", ("first_names", "first_names_female", "first_names_male", "last_names")
            )
            places = _provider_values("faker.providers.address", ("cities", "city_names", "countries", "states"))
            first = _clean(people["first_names"] | people["first_names_female"] | people["first_names_male"])
            _cached = Gazetteers(
                first_names=first,
                female_first_names=_clean(people["first_names_female"]),
                last_names=_clean(people["last_names"]),
                cities=_clean(places["cities"] | places["city_names"], min_len=3),
                countries=_clean(places["countries"], min_len=4),
                states=_clean(places["states"], min_len=4),
            )
        return _cached


# ---- fixed lists (short, so kept here rather than derived) ------------------------------------------------

HONORIFICS: tuple[str, ...] = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Madam", "Madame", "Mme", "Mlle", "Herr", "Frau",
    "Sr", "Sra", "Srta", "Dott", "Dra", "Rev", "Fr", "Capt", "Col", "Gen", "Lt", "Sgt", "Hon", "Lord", "Lady",
    "Professor", "Doctor", "Mister", "Monsieur", "Señor", "Señora",
)  # fmt: skip
"""Titles before a name (Faker's ``prefixes`` plus common European forms); a trailing dot is optional."""

STREET_TYPES: tuple[str, ...] = (
    "Street", "St", "Avenue", "Ave", "Av", "Road", "Rd", "Lane", "Ln", "Drive", "Dr", "Court", "Ct", "Boulevard",
    "Blvd", "Way", "Place", "Pl", "Square", "Sq", "Terrace", "Ter", "Parkway", "Pkwy", "Highway", "Hwy", "Circle",
    "Cir", "Crescent", "Close", "Trail", "Trl", "Row", "Alley", "Plaza", "Mews", "Grove", "Gardens", "Hill",
    "Heights", "Loop", "Pike", "Path", "Walk", "Run", "Point", "Ridge", "Park", "Green", "Harbor", "Crossing",
    "Expressway", "Freeway", "Turnpike", "Allee", "Allé", "Gasse", "Platz", "Ring", "Straße", "Strasse", "Weg",
)  # fmt: skip
"""Street-type words written after the street name (Faker's en_US/en_GB/de_DE suffixes and their abbreviations)."""

STREET_SUFFIXES_ATTACHED: tuple[str, ...] = (
    "straße", "strasse", "str.", "gasse", "weg", "platz", "allee", "ring", "damm", "ufer",
    "katu", "tie", "kuja", "polku", "bulevardi", "vej", "gade", "stræde", "gata", "gate", "gatan", "vägen", "väg",
    "gränd", "stigen", "torget", "straat", "laan", "dreef", "steeg", "singel", "plein", "kade", "utca", "út",
    "körút", "köz", "tér", "sétány", "ulica",
)  # fmt: skip
"""Street suffixes joined to the name (Faker's da, de, fi, hu, nl, no, pl and sv street suffixes)."""

STREET_PREFIXES: tuple[str, ...] = (
    "rue", "Rue", "avenue", "Avenue", "boulevard", "Boulevard", "chemin", "Chemin", "allée", "Allée", "impasse",
    "Impasse", "place", "Place", "route", "Route", "Via", "via", "Viale", "Piazza", "Piazzale", "Corso", "Vicolo",
    "Largo", "Strada", "Calle", "Avenida", "Avda.", "Av.", "Paseo", "Camino", "Carrera", "Carretera", "Plaza",
    "Ronda", "Travesía", "Rua", "Travessa", "Praça", "Estrada", "Alameda", "Ladeira", "Rodovia", "Jalan", "Jln",
    "ulica", "ul.", "aleja", "al.", "plac", "Strada", "Bulevardul", "Soseaua", "Aleea", "Drumul", "Intrarea",
)  # fmt: skip
"""Street-type words written before the street name (Faker's es, fr, it, pt, pl, ro street prefixes)."""

UNIT_WORDS: tuple[str, ...] = (
    "Apt", "Apartment", "Suite", "Ste", "Unit", "Flat", "Floor", "Fl", "Room", "Rm", "Bldg", "Building", "Box",
    "apt", "suite", "unit",
)  # fmt: skip

COMPANY_SUFFIXES: tuple[str, ...] = (
    "Inc", "Inc.", "Incorporated", "LLC", "L.L.C.", "LLP", "Ltd", "Ltd.", "Limited", "PLC", "plc", "Corp", "Corp.",
    "Corporation", "Co.", "Company", "Group", "Groep", "Gruppen", "Holdings", "Holding", "and Sons", "& Sons",
    "& Co.", "& Partner", "& Partners", "& Söhne", "GmbH", "AG", "KG", "KGaA", "OHG", "e.V.", "SE", "S.A.", "SA",
    "S.A.S.", "SAS", "SARL", "S.A.R.L.", "S.p.A.", "SpA", "S.P.A.", "S.r.l.", "s.r.l.", "SRL", "S.L.", "Lda.",
    "Ltda.", "Limitada", "N.V.", "NV", "B.V.", "BV", "A/S", "ApS", "AB", "AS", "ASA", "Oy", "Oyj", "Kft.", "Zrt.",
    "Nyrt.", "Bt.", "Sp. z o.o.", "s.r.o.", "a.s.", "d.o.o.", "d.d.", "Pty Ltd", "Pty", "Technologies",
    "Technology", "Solutions", "Systems", "Labs", "Partners", "Associates", "Industries", "Enterprises",
    "Consulting", "Bank", "University", "Hospital", "Clinic", "Foundation", "Institute",
)  # fmt: skip
"""Legal-form and organisation words after a name (Faker's company suffixes plus common English ones)."""
