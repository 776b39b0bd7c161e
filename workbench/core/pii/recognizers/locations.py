"""Street addresses (patterns) and places from Faker's city, state and country lists (gazetteer)."""

from __future__ import annotations

import re
import threading
from typing import Any

from presidio_analyzer import LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult

from workbench.core.pii.recognizers.gazetteers import (
    STREET_PREFIXES,
    STREET_SUFFIXES_ATTACHED,
    STREET_TYPES,
    UNIT_WORDS,
    gazetteers,
)
from workbench.core.pii.recognizers.names import english_words, nlp_of

LOCATION = "LOCATION"
STREET_ADDRESS = "STREET_ADDRESS"

_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'’.\-]*"
_PARTICLE = r"(?:de|del|della|dei|degli|di|da|do|dos|das|des|du|la|le|les|los|las|of|the|van|von|der|den)"


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(sorted({re.escape(w) for w in words}, key=len, reverse=True))


class StreetAddressRecognizer(PatternRecognizer):
    """STREET_ADDRESS: house number plus street in the common European and American layouts, units, PO boxes.

    * ``1072 Pohlstrasse 9``, ``Kiannonkatu 98``: a name with an attached street suffix (``-strasse``,
      ``-katu``, ``-vej``...) and a house number (0.6);
    * ``742 Evergreen Terrace``: a number, capitalised words and a street type (0.6);
    * ``56 rue La Boétie``, ``Via dei Fiori 12``: a street-type word before the name (0.5);
    * ``Apt. 864``, ``Suite 179`` (0.5) and ``P.O. Box 242`` (0.7).
    """

    def __init__(self, supported_language: str = "en") -> None:
        types = _alternation(STREET_TYPES)
        attached = _alternation(STREET_SUFFIXES_ATTACHED)
        prefixes = _alternation(STREET_PREFIXES)
        units = _alternation(UNIT_WORDS)
        number = r"\d{1,6}[A-Za-z]?"
        patterns = [
            Pattern(
                "street with attached suffix",
                rf"(?<![\w])(?:{number}[ ])?{_CAP}(?:{attached})(?:[ ]{number}(?!\w)|(?<=\d[ ]\S+))",
                0.6,
            ),
            Pattern("number and street type", rf"(?<![\w]){number}(?:[ ]{_CAP}){{1,4}}[ ](?:{types})\.?(?![\w])", 0.6),
            Pattern(
                "street type before the name",
                rf"(?<![\w])(?:{number},?[ ])?(?:{prefixes})[ ](?:{_PARTICLE}[ ])*{_CAP}"
                rf"(?:[ ](?:{_PARTICLE}[ ])*{_CAP}){{0,3}}(?:,?[ ]{number}(?!\w))?",
                0.5,
            ),
            Pattern("apartment or suite", rf"(?<![\w])(?:{units})\.?[ ]?#?[ ]?\d{{1,5}}[A-Za-z]?(?![\w])", 0.5),
            Pattern("post office box", r"(?<![\w])P\.?[ ]?O\.?[ ]?Box[ ]\d{1,6}(?![\w])", 0.7),
        ]
        super().__init__(
            supported_entity=STREET_ADDRESS,
            name="StreetAddressRecognizer",
            supported_language=supported_language,
            patterns=patterns,
            context=["address", "street", "lives", "live", "located", "ship", "deliver", "mail"],
            global_regex_flags=re.MULTILINE,
        )


class _PhraseIndex:
    """Multi-word phrases indexed by their first word, for a single pass over the tokens."""

    def __init__(self, phrases: frozenset[str]) -> None:
        self.by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in phrases:
            words = tuple(phrase.split())
            if words:
                self.by_first.setdefault(words[0], []).append(words)
        for entries in self.by_first.values():
            entries.sort(key=len, reverse=True)


_index_lock = threading.Lock()
_index: tuple[_PhraseIndex, frozenset[str], frozenset[str]] | None = None


def _location_index() -> tuple[_PhraseIndex, frozenset[str], frozenset[str]]:
    """(all places, countries and states, person names) built once per process."""
    global _index
    with _index_lock:
        if _index is None:
            g = gazetteers()
            big = g.countries | g.states
            _index = (_PhraseIndex(g.cities | big), big, g.first_names | g.last_names)
        return _index


class LocationGazetteerRecognizer(LocalRecognizer):
    """LOCATION from Faker's cities, states and countries, matched on spaCy tokens.

    Countries and states score 0.6. A city scores 0.55 when it has two or more words and 0.45 when it is one
    word; a one-word place must be tagged as a proper noun, must not be an English word ("Nice", "Bath",
    "Reading") and must not be a person's name. All-capital spellings ("OULU") count as the place.
    """

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[LOCATION], name="LocationGazetteerRecognizer", supported_language=supported_language
        )

    def load(self) -> None:
        """Build the place index now rather than on the first text."""
        _location_index()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Find places in ``text`` using the spaCy tokens of ``nlp_artifacts`` (nothing without them)."""
        doc = getattr(nlp_artifacts, "tokens", None)
        if doc is None or (entities and LOCATION not in entities):
            return []
        index, big, person_names = _location_index()
        english = english_words(nlp_of(nlp_artifacts, self.supported_language))
        results: list[RecognizerResult] = []
        n = len(doc)
        i = 0
        while i < n:
            token = doc[i]
            word = token.text
            if not word[:1].isupper():
                i += 1
                continue
            key = word.title() if word.isupper() and len(word) > 1 else word
            candidates = index.by_first.get(key)
            matched = 0
            if candidates:
                for phrase in candidates:
                    if i + len(phrase) > n:
                        continue
                    ok = all(
                        (doc[i + k].text == w or (doc[i + k].text.isupper() and doc[i + k].text.title() == w))
                        for k, w in enumerate(phrase)
                    )
                    if ok:
                        matched = len(phrase)
                        break
            if matched:
                phrase_text = " ".join(doc[i + k].text for k in range(matched))
                canonical = phrase_text.title() if phrase_text.isupper() else phrase_text
                score = 0.0
                if canonical in big:
                    score = 0.6
                elif matched >= 2:
                    score = 0.55
                elif (
                    token.pos_ == "PROPN" and key.lower() not in english and key not in person_names and token.is_alpha
                ):
                    score = 0.45
                if score:
                    start = token.idx
                    last = doc[i + matched - 1]
                    results.append(
                        RecognizerResult(
                            LOCATION,
                            start,
                            last.idx + len(last.text),
                            score,
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
                i += matched
                continue
            i += 1
        return results
