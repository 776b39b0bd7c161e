"""Person names from Faker's name lists, checked against the spaCy tokens, and honorifics (``Mr.``, ``Dr.``).

spaCy's small English model misses many names it has not seen, especially non-English ones ("Csanád P Gere",
"Rościsław Dudek"). This recognizer looks at runs of capitalised tokens and calls a run a PERSON when the name
lists (gathered from Faker's locales, see :mod:`.gazetteers`) know its tokens:

* a run after an honorific ("Dr. Anette Lahtela") scores 0.85;
* two or more known name tokens ("Lily Nolan") score 0.8;
* one known name token in a run of proper nouns ("Gyala Antall") scores 0.65;
* a single known name that is not an English word and is tagged as a proper noun ("Natasja") scores 0.6.

"An English word" means a word in the lemmatizer's WordNet index (``will``, ``may``, ``grant``, ``rose``...), so
ordinary capitalised words at the start of a sentence are not taken for names. Lower-case names are not
found; neither are names the lists do not know unless an honorific precedes them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from presidio_analyzer import LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult

from workbench.core.pii.recognizers.gazetteers import HONORIFICS, gazetteers

PERSON = "PERSON"
TITLE = "TITLE"

_CAPITALISED = re.compile(r"^[A-ZÀ-ÖØ-ÞĀ-Ž][a-zà-öø-ÿā-žA-ZÀ-ÖØ-ÞĀ-Ž'’\-]*[a-zà-öø-ÿā-ž][a-zà-öø-ÿā-žA-Z'’\-]*$")
_INITIAL = re.compile(r"^[A-Z]\.?$")
_HONORIFIC_SET = frozenset(HONORIFICS) | frozenset(h + "." for h in HONORIFICS)
_HONORIFIC_FOLDED = frozenset(h.casefold() for h in _HONORIFIC_SET)
# spaCy's small model often calls an unfamiliar name an organisation or a place. When the name lists know the
# words and the place list does not know the phrase, the name wins with this score (above spaCy's 0.85).
RELABEL_SCORE = 0.9
_RELABELLED = frozenset({"ORGANIZATION", "LOCATION", "NRP"})
_MAX_RUN = 4

_english_lock = threading.Lock()
_english_cache: dict[int, frozenset[str]] = {}


def english_words(nlp: Any) -> frozenset[str]:
    """Lower-case English words known to the pipeline's rule lemmatizer (WordNet index); cached per pipeline.

    A pipeline without a rule lemmatizer gives spaCy's English stop words only.
    """
    key = id(nlp)
    with _english_lock:
        cached = _english_cache.get(key)
        if cached is not None:
            return cached
    words: set[str] = set()
    try:
        from spacy.lang.en.stop_words import STOP_WORDS

        words.update(STOP_WORDS)
        lemmatizer = nlp.get_pipe("lemmatizer")
        index = lemmatizer.lookups.get_table("lemma_index")
        for _pos, entries in index.items():
            words.update(entries)
        exceptions = lemmatizer.lookups.get_table("lemma_exc")
        for _pos, entries in exceptions.items():
            words.update(entries)
    except (KeyError, ValueError, AttributeError, ImportError):
        pass
    frozen = frozenset(w.lower() for w in words)
    with _english_lock:
        _english_cache[key] = frozen
    return frozen


def nlp_of(nlp_artifacts: Any, language: str) -> Any:
    """The spaCy pipeline behind ``nlp_artifacts`` (``None`` when there is none)."""
    engine = getattr(nlp_artifacts, "nlp_engine", None)
    if engine is None:
        return None
    try:
        return engine.get_nlp(language)
    except (KeyError, AttributeError, TypeError):
        return None


class PersonNameRecognizer(LocalRecognizer):
    """PERSON from runs of capitalised tokens whose words are in Faker's name lists (see the module docstring)."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[PERSON], name="PersonNameRecognizer", supported_language=supported_language
        )

    def load(self) -> None:
        """Build the name lists now rather than on the first text."""
        gazetteers()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Find names in ``text`` using the spaCy tokens of ``nlp_artifacts`` (nothing without them)."""
        doc = getattr(nlp_artifacts, "tokens", None)
        if doc is None or (entities and PERSON not in entities):
            return []
        names = gazetteers()
        english = english_words(nlp_of(nlp_artifacts, self.supported_language))
        other_entities = [
            (ent.start_char, ent.end_char, ent.text)
            for ent in getattr(nlp_artifacts, "entities", ()) or ()
            if ent.label_ in _RELABELLED
        ]
        results: list[RecognizerResult] = []
        n = len(doc)
        i = 0
        while i < n:
            if not _CAPITALISED.match(doc[i].text) or doc[i].text in _HONORIFIC_SET:
                i += 1
                continue
            # A run: capitalised words and initials joined by single spaces, at most _MAX_RUN + 1 long.
            j = i + 1
            while (
                j < n
                and doc[j - 1].whitespace_ == " "
                and (_CAPITALISED.match(doc[j].text) or _INITIAL.match(doc[j].text))
                and doc[j].text not in _HONORIFIC_SET
            ):
                j += 1
            run = [doc[k] for k in range(i, j)]
            while run and _INITIAL.match(run[-1].text):  # an initial ends no name ("Gere P.")
                run.pop()
            # "Call Christine", "Patient Maria Lopez": a capitalised verb or noun before the name is not part of it.
            while (
                len(run) > 1
                and (run[0].pos_ != "PROPN" or run[0].text.lower() in english)
                and run[0].text not in names.first_names
            ):
                run.pop(0)
            after_honorific = (
                i > 0 and doc[i - 1].text.casefold() in _HONORIFIC_FOLDED and doc[i - 1].whitespace_ != "\n"
            )
            score = self._score(run, names.first_names, names.last_names, english, after_honorific)
            if score > 0 and len(run) <= _MAX_RUN:
                start = run[0].idx
                end = run[-1].idx + len(run[-1].text)
                if score < RELABEL_SCORE and self._mislabelled(start, end, run, other_entities, names, english):
                    score = RELABEL_SCORE
                results.append(
                    RecognizerResult(
                        PERSON,
                        start,
                        end,
                        score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
            i = j
        return results

    @staticmethod
    def _mislabelled(
        start: int,
        end: int,
        run: list[Any],
        other_entities: list[tuple[int, int, str]],
        names: Any,
        english: frozenset[str],
    ) -> bool:
        """Whether spaCy gave these name words another label although they are names and not a known place."""
        words = [t for t in run if not _INITIAL.match(t.text)]
        if not words or not all(t.pos_ == "PROPN" for t in words):
            return False
        texts = [t.text for t in words]
        if not (texts[0] in names.first_names or all(w in names.last_names for w in texts)):
            return False
        for ent_start, ent_end, ent_text in other_entities:
            if ent_start < end and start < ent_end:
                place = ent_text in names.cities or ent_text in names.countries or ent_text in names.states
                return not place
        return False

    @staticmethod
    def _score(
        run: list[Any], first: frozenset[str], last: frozenset[str], english: frozenset[str], after_honorific: bool
    ) -> float:
        if not run:
            return 0.0
        if after_honorific:
            return 0.85
        words = [t for t in run if not _INITIAL.match(t.text)]
        # A listed name counts when the tagger calls it a proper noun or it is no English word ("Will" in "Will
        # you come?" is neither).
        known = [
            t
            for t in words
            if (t.text in first or t.text in last) and (t.pos_ == "PROPN" or t.text.lower() not in english)
        ]
        if len(words) >= 2:
            if len(known) >= 2:
                return 0.8
            if known and (words[0].text in first or words[-1].text in last):
                others = [t for t in words if t not in known]
                if all(t.pos_ == "PROPN" for t in others):
                    return 0.65
            return 0.0
        if known and words[0].pos_ == "PROPN" and words[0].is_alpha:
            return 0.6
        return 0.0


class HonorificRecognizer(PatternRecognizer):
    """TITLE: an honorific directly before a capitalised word ("Mr. Spears", "Dr Kyle Kuefer")."""

    def __init__(self, supported_language: str = "en") -> None:
        titles = "|".join(sorted((re.escape(h) for h in HONORIFICS), key=len, reverse=True))
        super().__init__(
            supported_entity=TITLE,
            name="HonorificRecognizer",
            supported_language=supported_language,
            patterns=[Pattern("honorific", rf"(?<![\w.])(?:{titles})\.?(?=[ ]+[A-ZÀ-ÖØ-Þ])", 0.6)],
            global_regex_flags=0,
        )
