"""A deterministic, entirely synthetic demo dataset: intake records of a fictional outpatient clinic.

Every person, number and note in it is made up by Faker and a seeded ``random.Random``; it exists so that a
new user (and the test suite, and the benchmarks) can try every feature of the workbench without real personal
data. The same ``(rows, seed)`` gives byte-identical output within one Faker version (Faker's word lists
change between releases); no value depends on today's date, the hash seed or the machine.

Columns
-------
====================  ========================================================================  ==========
column                content                                                                   role
====================  ========================================================================  ==========
``record_id``         ``R000001``, ``R000002``... (row number, like a medical record number)    direct id.
``name``              first and last name, consistent with ``sex``                              direct id.
``date_of_birth``     ISO date; age at the visit is 18 to 92, older patients more often         quasi id.
``sex``               ``F`` (52 %) or ``M``                                                     quasi id.
``zip``               5-digit US ZIP code                                                       quasi id.
``phone``             US phone number in Faker's varied formats (some with extensions)          direct id.
``email``             ``first.lastNN@free-mail domain``, derived from the name                  direct id.
``national_id``       US Social Security number, ``123-45-6789`` format                         direct id.
``diagnosis_code``    ICD-10-CM code, one of :data:`DIAGNOSES` (9 chronic, 8 acute conditions)  sensitive
``diagnosis``         the code's description                                                    sensitive
``visit_date``        ISO date between 2025-01-06 and 2026-10-30                                quasi id.
``visits_last_year``  earlier visits in the 12 months before this one (0 to 12; see below)      other
``note``              1 to 3 sentences of free text (see below)                                 free text
``follow_up``         ``yes`` / ``no``: was a follow-up visit needed (see below)                label
====================  ========================================================================  ==========

The note
--------
Written from varied templates. The first sentence always names the patient (full name, first name or title and
last name), the condition in plain words and the *course* of the symptoms, one of ``worsening``, ``severe``,
``persistent``, ``stable`` (worded without that word), ``improved``, ``resolved``. Later sentences (75 % and
50 % of notes) mention a referring doctor (``Dr. <last name>``), a relative by role and name, real US city
names, phone numbers and dates in four formats (``2026-03-04``, ``03/04/2026``, ``March 4, 2026``,
``4 March 2026``). This is the target of PII detection: :func:`generate_clinic_intake_annotated` also returns
the character spans of every PERSON, LOCATION, PHONE_NUMBER and DATE_TIME it inserted, as ground truth.

The label
---------
``follow_up`` depends on the columns as a real intake would, and on the course the note describes::

    visits_last_year ~ Poisson(0.7 + 2.3 * chronic + 0.02 * (age - 18)), at most 12
    logit = -1.1 + diagnosis_effect + 0.04 * (age - 55) + 0.7 * (visits_last_year - 2)
            + course_effect + Normal(0, 0.6)
    diagnosis_effect: heart failure +2.7, chronic kidney disease +2.2, COPD +2.0, atrial fibrillation +1.6,
        type 2 diabetes +1.5, depression +1.2, rheumatoid arthritis +1.2, asthma +0.8, hypertension +0.6,
        low back pain -0.3, urinary tract infection -0.9, dermatitis -1.2, ankle sprain -1.4,
        gastroenteritis -1.6, ear infection -1.8, chest cold -2.1, sore throat -2.4
    course_effect: worsening +2.0, severe +1.8, persistent +1.4, stable 0, improved -1.2, resolved -2.0
    follow_up = "yes" if logit > 0 else "no", then flipped for 5 % of rows (label noise)

so about 43 % of rows are ``yes`` (a majority baseline near 57 %). Each view of a row carries signal of its own:
the columns (diagnosis, age from ``date_of_birth`` and ``visit_date``, ``visits_last_year``) let a logistic
regression reach about 85 %, and the note (condition and course in words) lets a bag-of-words logistic regression
reach about 83 % (``tests/data/test_demo.py`` checks both). The course is only in the note and the visit history only
in the columns, so neither view is perfect. The visit history is drawn from its own random stream, so the names,
notes and personal-data spans are those of the demo before that column existed.
"""

from __future__ import annotations

import csv
import io
import math
import random
import string
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from workbench.core.atomic import atomic_write_bytes

DEFAULT_SEED = 20261126
DEFAULT_ROWS = 5000

CLINIC_INTAKE_COLUMNS: tuple[str, ...] = (
    "record_id",
    "name",
    "date_of_birth",
    "sex",
    "zip",
    "phone",
    "email",
    "national_id",
    "diagnosis_code",
    "diagnosis",
    "visit_date",
    "visits_last_year",
    "note",
    "follow_up",
)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One condition of the demo clinic: ICD-10-CM code, official description, plain words for notes."""

    code: str
    description: str
    plain: str
    chronic: bool
    follow_up_effect: float = 0.0
    """How much the condition raises (or lowers) the log-odds of a follow-up visit (see the module docstring)."""


DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("E11.9", "Type 2 diabetes mellitus without complications", "type 2 diabetes", True, 1.5),
    Diagnosis("I10", "Essential (primary) hypertension", "high blood pressure", True, 0.6),
    Diagnosis("J44.9", "Chronic obstructive pulmonary disease, unspecified", "COPD", True, 2.0),
    Diagnosis("I50.9", "Heart failure, unspecified", "heart failure", True, 2.7),
    Diagnosis("N18.30", "Chronic kidney disease, stage 3 unspecified", "chronic kidney disease", True, 2.2),
    Diagnosis("J45.909", "Unspecified asthma, uncomplicated", "asthma", True, 0.8),
    Diagnosis("F33.1", "Major depressive disorder, recurrent, moderate", "depression", True, 1.2),
    Diagnosis("I48.91", "Unspecified atrial fibrillation", "atrial fibrillation", True, 1.6),
    Diagnosis("M06.9", "Rheumatoid arthritis, unspecified", "rheumatoid arthritis", True, 1.2),
    Diagnosis("J06.9", "Acute upper respiratory infection, unspecified", "a chest cold", False, -2.1),
    Diagnosis("N39.0", "Urinary tract infection, site not specified", "a urinary tract infection", False, -0.9),
    Diagnosis(
        "S93.401A",
        "Sprain of unspecified ligament of right ankle, initial encounter",
        "an ankle sprain",
        False,
        -1.4,
    ),
    Diagnosis("A09", "Infectious gastroenteritis and colitis, unspecified", "gastroenteritis", False, -1.6),
    Diagnosis("J02.9", "Acute pharyngitis, unspecified", "a sore throat", False, -2.4),
    Diagnosis("H66.90", "Otitis media, unspecified, unspecified ear", "an ear infection", False, -1.8),
    Diagnosis("L30.9", "Dermatitis, unspecified", "a skin rash", False, -1.2),
    Diagnosis("M54.50", "Low back pain, unspecified", "low back pain", False, -0.3),
)

COURSE_EFFECTS: dict[str, float] = {
    "worsening": 2.0,
    "severe": 1.8,
    "persistent": 1.4,
    "stable": 0.0,
    "improved": -1.2,
    "resolved": -2.0,
}
_COURSE_WEIGHTS = (0.14, 0.12, 0.14, 0.22, 0.22, 0.16)  # same order as COURSE_EFFECTS
LABEL_NOISE = 0.05
LABEL_INTERCEPT = -1.1
AGE_EFFECT = 0.04
"""Log-odds of a follow-up per year of age above 55."""
VISIT_EFFECT = 0.7
"""Log-odds of a follow-up per earlier visit in the last year above 2."""

# Real US cities, so that a named-entity recognizer has a fair chance (Faker's en_US cities are invented).
CITIES: tuple[str, ...] = (
    "Springfield", "Columbus", "Denver", "Austin", "Portland", "Madison", "Albany", "Tucson", "Raleigh",
    "Omaha", "Boise", "Richmond", "Sacramento", "Milwaukee", "Louisville", "Tampa", "Cleveland", "Pittsburgh",
    "Baltimore", "Buffalo", "Fresno", "Des Moines", "Spokane", "Savannah", "Little Rock", "Wichita",
    "Knoxville", "Lansing", "Reno", "Syracuse",
)  # fmt: skip

_FIRST_VISIT = date(2025, 1, 6)
_LAST_VISIT = date(2026, 10, 30)
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Entity types follow Presidio's names, so detection can be scored against them directly.
PERSON, LOCATION, PHONE_NUMBER, DATE_TIME = "PERSON", "LOCATION", "PHONE_NUMBER", "DATE_TIME"


@dataclass(frozen=True, slots=True)
class NoteEntity:
    """A piece of personal data the generator put into a note: ``note[start:end]`` is of ``entity_type``."""

    start: int
    end: int
    entity_type: str


# ---- note templates ----------------------------------------------------------------------------------------
# Slots: {patient} {patient_first} {patient_last} {title} {age} {dx} {course} {doctor} {relative}
# {relative_first} {rel_role} {poss} {pronoun} {city} {city2} {phone} {date} {date2}. {course} is itself
# filled from _COURSE_PHRASES and may contain {date}.

_COURSE_PHRASES: dict[str, tuple[str, ...]] = {
    "worsening": (
        "symptoms worsening since {date}",
        "reports worsening symptoms over the last weeks",
        "a worsening course since {date}",
    ),
    "severe": ("severe symptoms on arrival", "pain described as severe", "a severe flare this week"),
    "persistent": (
        "persistent symptoms since {date}",
        "symptoms persistent despite treatment",
        "a persistent cough and fatigue",
    ),
    "stable": (
        "condition unchanged on the current plan",
        "no change since the visit on {date}",
        "doing about the same as before",
    ),
    "improved": (
        "symptoms improved since {date}",
        "markedly improved on treatment",
        "reports improved sleep and energy",
    ),
    "resolved": (
        "symptoms resolved since {date}",
        "the episode has resolved",
        "complaints resolved completely",
    ),
}

_OPENINGS: tuple[str, ...] = (
    "{patient} was seen on {date2} for {dx}; {course}.",
    "Patient {patient}, {age}, presented with {dx} and {course}.",
    "{title} {patient_last} came in regarding {dx}: {course}.",
    "Seen today: {patient} with {dx}, {course}.",
    "{patient_first} attended for {dx}, {course}.",
)
_PEOPLE_AND_PLACES: tuple[str, ...] = (
    "Referred by Dr. {doctor} from {city}.",
    "Accompanied by {poss} {rel_role} {relative}, reachable at {phone}.",
    "{pronoun} recently moved from {city} to {city2}.",
    "{relative}, {poss} {rel_role}, asked to be called at {phone}.",
    "Records requested from Dr. {doctor} in {city}.",
    "Lives with {poss} {rel_role} {relative} in {city}.",
)
_CONTACTS_AND_DATES: tuple[str, ...] = (
    "Contact number on file: {phone}.",
    "Discussed with Dr. {doctor} on {date2}.",
    "Lab results from {date2} reviewed with {patient_first}.",
    "Travelled to {city} on {date2}.",
    "Call {relative_first} at {phone} if the patient cannot be reached.",
)

_SLOT_TYPES: dict[str, str | None] = {
    "patient": PERSON,
    "patient_first": PERSON,
    "patient_last": PERSON,
    "doctor": PERSON,
    "relative": PERSON,
    "relative_first": PERSON,
    "city": LOCATION,
    "city2": LOCATION,
    "phone": PHONE_NUMBER,
    "date": DATE_TIME,
    "date2": DATE_TIME,
}
_ROLES_FEMALE = ("wife", "daughter", "mother", "sister")
_ROLES_MALE = ("husband", "son", "father", "brother")


def _fill(template: str, values: dict[str, str], offset: int, entities: list[NoteEntity]) -> str:
    """Fill ``{slot}`` placeholders, recording the span of every personal-data slot in ``entities``."""
    out: list[str] = []
    position = offset
    for literal, slot, _, _ in string.Formatter().parse(template):
        out.append(literal)
        position += len(literal)
        if slot is None:
            continue
        text = values[slot]
        entity_type = _SLOT_TYPES.get(slot)
        if entity_type is not None:
            entities.append(NoteEntity(position, position + len(text), entity_type))
        out.append(text)
        position += len(text)
    return "".join(out)


def _date_text(day: date, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    if style == 2:
        return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _email(first: str, last: str, number: int, domain: str) -> str:
    local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
    return f"{local}{number}@{domain}"


def generate_clinic_intake_annotated(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED
) -> list[tuple[dict[str, str], tuple[NoteEntity, ...]]]:
    """Generate the demo rows together with the personal-data spans inserted into each note.

    Parameters
    ----------
    rows:
        Number of records.
    seed:
        Seeds both Faker and the generator's ``random.Random``.

    Returns
    -------
    list of (row, entities)
        ``row`` maps each of :data:`CLINIC_INTAKE_COLUMNS` to a string; ``entities`` are the ground-truth
        spans in ``row["note"]``.
    """
    if rows < 0:
        raise ValueError("rows must be zero or more")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # The visit history has a stream of its own (a string seed is hashed with SHA-512, not the hash seed): the
    # draws of ``rng`` and Faker, hence every name, note and personal-data span, stay what they were before the
    # column existed.
    history_rng = random.Random(f"visit-history:{seed}")
    return [_one_record(index, fake, rng, history_rng) for index in range(rows)]


def _poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw (Knuth's multiplication method; fine for the small means used here)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _visits_last_year(chronic: bool, age: int, rng: random.Random) -> int:
    """Earlier visits in the 12 months before this one: chronic and older patients come more often."""
    return min(12, _poisson(0.7 + 2.3 * chronic + 0.02 * (age - 18), rng))


def follow_up_logit(diagnosis: Diagnosis, age: int, visits_last_year: int, course: str, noise: float) -> float:
    """The log-odds of a follow-up visit before label noise (the rule in the module docstring)."""
    return (
        LABEL_INTERCEPT
        + diagnosis.follow_up_effect
        + AGE_EFFECT * (age - 55)
        + VISIT_EFFECT * (visits_last_year - 2)
        + COURSE_EFFECTS[course]
        + noise
    )


def _one_record(
    index: int, fake: Faker, rng: random.Random, history_rng: random.Random
) -> tuple[dict[str, str], tuple[NoteEntity, ...]]:
    """Record ``index``: its columns and the truth spans of its note. Draws from ``fake``, ``rng`` and
    ``history_rng`` in a fixed order, so the same seed always gives the same bytes (and the same fingerprint)."""
    chronic = [d for d in DIAGNOSES if d.chronic]
    acute = [d for d in DIAGNOSES if not d.chronic]
    female = rng.random() < 0.52
    first = fake.first_name_female() if female else fake.first_name_male()
    last = fake.last_name()
    visit = _FIRST_VISIT + timedelta(days=rng.randrange((_LAST_VISIT - _FIRST_VISIT).days + 1))
    age = int(rng.triangular(18, 93, 62))
    birth = visit - timedelta(days=int(age * 365.25) + rng.randrange(365))
    age = _age_on(birth, visit)
    # Chronic conditions are more common with age, as in a real practice.
    is_chronic = rng.random() < 0.2 + 0.5 * (age - 18) / 75
    diagnosis = rng.choice(chronic if is_chronic else acute)
    course = rng.choices(tuple(COURSE_EFFECTS), weights=_COURSE_WEIGHTS)[0]
    visits = _visits_last_year(diagnosis.chronic, age, history_rng)
    follow_up = follow_up_logit(diagnosis, age, visits, course, rng.gauss(0, 0.6)) > 0
    if rng.random() < LABEL_NOISE:
        follow_up = not follow_up
    phone = fake.phone_number()
    relative_female = rng.random() < 0.5
    relative_first = fake.first_name_female() if relative_female else fake.first_name_male()
    relative_last = last if rng.random() < 0.7 else fake.last_name()
    city, city2 = rng.sample(CITIES, 2)
    values = {
        "patient_first": first,
        "patient_last": last,
        "title": "Ms." if female else "Mr.",
        "age": str(age),
        "dx": diagnosis.plain,
        "doctor": fake.last_name() if rng.random() < 0.6 else f"{fake.first_name()} {fake.last_name()}",
        "relative": f"{relative_first} {relative_last}",
        "relative_first": relative_first,
        "rel_role": rng.choice(_ROLES_FEMALE if relative_female else _ROLES_MALE),
        "poss": "her" if female else "his",
        "pronoun": "She" if female else "He",
        "city": city,
        "city2": city2,
        "phone": phone if rng.random() < 0.5 else fake.phone_number(),
        "date": _date_text(visit - timedelta(days=rng.randint(3, 90)), rng),
        "date2": _date_text(visit - timedelta(days=rng.randint(0, 30)), rng),
    }
    values["patient"] = first if rng.random() < 0.25 else f"{first} {last}"
    note, entities = _note(values, course, rng)
    row = {
        "record_id": f"R{index + 1:06d}",
        "name": f"{first} {last}",
        "date_of_birth": birth.isoformat(),
        "sex": "F" if female else "M",
        "zip": fake.zipcode(),
        "phone": phone,
        "email": _email(first, last, rng.randint(1, 99), fake.free_email_domain()),
        "national_id": fake.ssn(),
        "diagnosis_code": diagnosis.code,
        "diagnosis": diagnosis.description,
        "visit_date": visit.isoformat(),
        "visits_last_year": str(visits),
        "note": note,
        "follow_up": "yes" if follow_up else "no",
    }
    return row, entities


def _note(values: dict[str, str], course: str, rng: random.Random) -> tuple[str, tuple[NoteEntity, ...]]:
    """The free-text note from the templates, and the truth spans of what was filled in."""
    entities: list[NoteEntity] = []
    # The course phrase goes into the opening sentence; its own spans are shifted when that is filled.
    opening = rng.choice(_OPENINGS)
    course_template = rng.choice(_COURSE_PHRASES[course])
    head, _, tail = opening.partition("{course}")
    text = _fill(head, values, 0, entities)
    text += _fill(course_template, values, len(text), entities)
    text += _fill(tail, values, len(text), entities)
    sentences = [text]
    if rng.random() < 0.75:
        offset = len(text) + 1
        sentences.append(_fill(rng.choice(_PEOPLE_AND_PLACES), values, offset, entities))
    if rng.random() < 0.5:
        offset = sum(len(s) + 1 for s in sentences)
        sentences.append(_fill(rng.choice(_CONTACTS_AND_DATES), values, offset, entities))
    return " ".join(sentences), tuple(entities)


def note_gold_spans(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> list[tuple[str, tuple[NoteEntity, ...]]]:
    """The generated notes with their true personal-data spans (PERSON, LOCATION, PHONE_NUMBER, DATE_TIME), for
    scoring a detector (``benchmarks/bench_pii_eval.py``). Titles ("Dr.", "Ms."), ages, clinical abbreviations and
    relative dates ("today") are not personal data here and are not labelled."""
    return [(row["note"], entities) for row, entities in generate_clinic_intake_annotated(rows, seed)]


def generate_clinic_intake(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> list[dict[str, str]]:
    """Generate the demo clinic-intake records (see the module docstring for columns and rules).

    Parameters
    ----------
    rows:
        Number of records.
    seed:
        The same seed and row count give identical records (within one Faker version).

    Returns
    -------
    list of dict
        One dict per record, keys in :data:`CLINIC_INTAKE_COLUMNS` order, all values strings.
    """
    return [row for row, _ in generate_clinic_intake_annotated(rows, seed)]


def clinic_intake_csv_text(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> str:
    """The demo dataset as CSV text: header line, comma-separated, ``\\n`` line ends, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CLINIC_INTAKE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(generate_clinic_intake(rows, seed))
    return buffer.getvalue()


def write_clinic_intake_csv(path: str | Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> Path:
    """Write the demo dataset as a UTF-8 CSV file (atomically: a reader never sees half a file).

    Parameters
    ----------
    path:
        Target file; its folder is created if needed.
    rows, seed:
        As for :func:`generate_clinic_intake`.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, clinic_intake_csv_text(rows, seed).encode("utf-8"))
    return target
