"""The demo dataset: deterministic, complete, full of personal data in its notes, with a learnable label."""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from workbench.core import demo
from workbench.core.demo import (
    CITIES,
    CLINIC_INTAKE_COLUMNS,
    DIAGNOSES,
    clinic_intake_csv_text,
    generate_clinic_intake,
    generate_clinic_intake_annotated,
    write_clinic_intake_csv,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PHONE = re.compile(r"(\+1-|001-)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}")
DATE = re.compile(
    r"\b(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}|(January|February|March|April|May|June|July|August|September|October|"
    r"November|December) \d{1,2}, \d{4}|\d{1,2} (January|February|March|April|May|June|July|August|September|"
    r"October|November|December) \d{4})\b"
)
SENTENCE_END = re.compile(r"(?<!\bDr)(?<!\bMr)(?<!\bMs)\. ")
CHRONIC_CODES = {d.code for d in DIAGNOSES if d.chronic}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return generate_clinic_intake()  # the default 5000 rows, as the app ships them


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert generate_clinic_intake(300, seed=5) == generate_clinic_intake(300, seed=5)
    assert generate_clinic_intake(300, seed=5) != generate_clinic_intake(300, seed=6)
    # A prefix does not depend on how many rows follow.
    assert generate_clinic_intake(50, seed=5) == generate_clinic_intake(300, seed=5)[:50]
    assert generate_clinic_intake(0) == []
    with pytest.raises(ValueError):
        generate_clinic_intake(-1)


def test_csv_is_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    ours = hashlib.sha256(clinic_intake_csv_text(400, seed=11).encode("utf-8")).hexdigest()
    code = (
        "import hashlib; from workbench.core.demo import clinic_intake_csv_text; "
        "print(hashlib.sha256(clinic_intake_csv_text(400, seed=11).encode('utf-8')).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(REPO_ROOT))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == ours


def test_write_csv(tmp_path: Path) -> None:
    path = write_clinic_intake_csv(tmp_path / "sub" / "clinic.csv", rows=200, seed=3)
    assert path == tmp_path / "sub" / "clinic.csv"
    data = path.read_bytes()
    assert data.decode("utf-8").startswith(",".join(CLINIC_INTAKE_COLUMNS) + "\n")
    assert b"\r\n" not in data
    with path.open(newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == generate_clinic_intake(200, seed=3)
    assert write_clinic_intake_csv(tmp_path / "again.csv", rows=200, seed=3).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["clinic.csv"]  # no temporary files left


def test_columns_and_formats(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 5000
    assert all(tuple(r) == CLINIC_INTAKE_COLUMNS for r in rows)
    assert rows[122]["record_id"] == "R000123"
    assert len({r["record_id"] for r in rows}) == 5000
    codes = {d.code: d for d in DIAGNOSES}
    assert len(DIAGNOSES) >= 15
    for r in rows:
        assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", r["national_id"])
        assert re.fullmatch(r"\d{5}", r["zip"])
        assert r["sex"] in {"F", "M"}
        assert r["follow_up"] in {"yes", "no"}
        assert re.fullmatch(r"[a-z.]+\d{1,2}@[a-z.]+", r["email"])
        assert PHONE.search(r["phone"])
        assert codes[r["diagnosis_code"]].description == r["diagnosis"]
        born, visited = date.fromisoformat(r["date_of_birth"]), date.fromisoformat(r["visit_date"])
        assert date(2025, 1, 6) <= visited <= date(2026, 10, 30)
        assert 17 <= (visited - born).days / 365.25 <= 94
    assert len({r["name"] for r in rows}) > 3000
    assert 0.45 < sum(r["sex"] == "F" for r in rows) / len(rows) < 0.6
    assert {r["diagnosis_code"] for r in rows} == set(codes)


def test_notes_mention_people_places_phones_and_dates(rows: list[dict[str, str]]) -> None:
    notes = [r["note"] for r in rows]
    n = len(notes)
    for r in rows:
        first = r["name"].split()[0]
        assert first in r["note"] or r["name"].split()[-1] in r["note"]
        assert 1 <= len(SENTENCE_END.split(r["note"])) <= 3 and r["note"].endswith(".")
    assert sum("Dr. " in note for note in notes) / n > 0.2
    assert sum(bool(PHONE.search(note)) for note in notes) / n > 0.25
    assert sum(any(city in note for city in CITIES) for note in notes) / n > 0.3
    assert sum(bool(DATE.search(note)) for note in notes) / n > 0.4
    assert sum(r["name"] in r["note"] for r in rows) / n > 0.3  # the full name, not only the first
    assert len(set(notes)) > 0.99 * n
    # Varied templates: many different openings.
    assert len({" ".join(note.split()[1:3]) for note in notes}) > 20


def test_entity_spans_point_at_what_was_inserted() -> None:
    annotated = generate_clinic_intake_annotated(400, seed=9)
    assert [row for row, _ in annotated] == generate_clinic_intake(400, seed=9)
    kinds: set[str] = set()
    for row, entities in annotated:
        note = row["note"]
        assert entities, "every note names at least the patient"
        for entity in entities:
            text = note[entity.start : entity.end]
            kinds.add(entity.entity_type)
            if entity.entity_type == "PERSON":
                assert text[0].isupper()
            elif entity.entity_type == "LOCATION":
                assert text in CITIES
            elif entity.entity_type == "PHONE_NUMBER":
                assert PHONE.search(text)
            else:
                assert DATE.fullmatch(text)
        spans = sorted((e.start, e.end) for e in entities)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), "spans never overlap"
        persons = [note[e.start : e.end] for e in entities if e.entity_type == "PERSON"]
        assert any(row["name"].split()[0] in p or row["name"].split()[-1] in p for p in persons)
    assert kinds == {"PERSON", "LOCATION", "PHONE_NUMBER", "DATE_TIME"}


def label_of(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([r["follow_up"] == "yes" for r in rows])


def test_label_balance(rows: list[dict[str, str]]) -> None:
    share_yes = label_of(rows).mean()
    assert 0.35 < share_yes < 0.45
    assert 0.55 < max(share_yes, 1 - share_yes) < 0.65


def test_a_keyword_rule_beats_the_majority_baseline(rows: list[dict[str, str]]) -> None:
    effects = {d.code: d.follow_up_effect for d in DIAGNOSES}

    def rule(r: dict[str, str]) -> bool:
        """The note's course in words plus how much the condition calls for follow-up."""
        note, score = r["note"].lower(), effects[r["diagnosis_code"]]
        if any(word in note for word in ("worsening", "severe", "persistent")):
            score += 1.8
        elif any(word in note for word in ("improved", "resolved")):
            score -= 1.5
        return score > 1.0

    y = label_of(rows)
    accuracy = np.mean([rule(r) == label for r, label in zip(rows, y, strict=True)])
    majority = max(y.mean(), 1 - y.mean())
    assert accuracy > 0.75
    assert accuracy > majority + 0.12


def test_bag_of_words_logistic_regression_learns_the_label(rows: list[dict[str, str]]) -> None:
    tokenised = [re.findall(r"[a-z]+", r["note"].lower()) for r in rows]
    counts: dict[str, int] = {}
    for words in tokenised:
        for word in set(words):
            counts[word] = counts.get(word, 0) + 1
    vocabulary = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= 25))}
    x = np.zeros((len(rows), len(vocabulary) + 1))
    x[:, -1] = 1.0  # bias
    for row_index, words in enumerate(tokenised):
        for word in words:
            if word in vocabulary:
                x[row_index, vocabulary[word]] = 1.0
    y = label_of(rows).astype(float)
    split = 4000
    weights = np.zeros(x.shape[1])
    for _ in range(400):  # plain full-batch gradient descent with a little L2
        p = 1 / (1 + np.exp(-(x[:split] @ weights)))
        weights -= 0.5 * (x[:split].T @ (p - y[:split]) / split + 1e-3 * weights)
    predicted = (x[split:] @ weights) > 0
    accuracy = float(np.mean(predicted == (y[split:] == 1)))
    majority = max(y[split:].mean(), 1 - y[split:].mean())
    assert accuracy > 0.75, accuracy
    assert accuracy > majority + 0.1
    assert not math.isnan(accuracy)


def _logistic_regression(x: np.ndarray, y: np.ndarray, split: int, steps: int) -> tuple[float, np.ndarray]:
    """Held-out accuracy and weights of plain full-batch gradient descent with a little L2 (rows before ``split``
    train)."""
    weights = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x[:split] @ weights)))
        weights -= 0.5 * (x[:split].T @ (p - y[:split]) / split + 1e-4 * weights)
    return float(np.mean(((x[split:] @ weights) > 0) == (y[split:] == 1))), weights


def test_the_columns_alone_predict_the_label(rows: list[dict[str, str]]) -> None:
    """A tabular model must have something to learn: diagnosis, age and visit history (not the note)."""
    codes = sorted({d.code for d in DIAGNOSES})
    x = np.zeros((len(rows), len(codes) + 3))
    for i, r in enumerate(rows):
        x[i, codes.index(r["diagnosis_code"])] = 1.0
        age = (date.fromisoformat(r["visit_date"]) - date.fromisoformat(r["date_of_birth"])).days / 365.25
        x[i, -3] = (age - 55) / 18
        x[i, -2] = (int(r["visits_last_year"]) - 2) / 2
        x[i, -1] = 1.0  # bias
    y = label_of(rows).astype(float)
    accuracy, weights = _logistic_regression(x, y, 4000, 1500)
    majority = max(y[4000:].mean(), 1 - y[4000:].mean())
    assert accuracy > majority + 0.2, (accuracy, majority)
    # Age and visit history both raise the odds of a follow-up beyond what the diagnosis says (the rule's slopes
    # are 0.04 a year and 0.7 a visit: 0.72 and 1.4 on these scales; noise and label flips shrink the fit).
    assert weights[-3] > 0.3 and weights[-2] > 0.6, weights[-3:]
    visits = np.array([int(r["visits_last_year"]) for r in rows])
    chronic = np.array([r["diagnosis_code"] in CHRONIC_CODES for r in rows])
    assert visits.min() >= 0 and visits.max() <= 12
    assert visits[chronic].mean() > visits[~chronic].mean() + 1.5  # chronic patients come more often


def test_the_visit_history_leaves_names_and_notes_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    """The visit history has its own random stream: however it is drawn, every other column except the label and
    every note and span stay the same (the PII tests were written for those notes)."""
    before = generate_clinic_intake_annotated(300, seed=4)
    monkeypatch.setattr(demo, "_visits_last_year", lambda chronic, age, rng: [rng.random() for _ in range(7)] and 0)
    after = generate_clinic_intake_annotated(300, seed=4)
    kept = [c for c in CLINIC_INTAKE_COLUMNS if c not in ("visits_last_year", "follow_up")]
    assert [[r[c] for c in kept] for r, _ in before] == [[r[c] for c in kept] for r, _ in after]
    assert [spans for _, spans in before] == [spans for _, spans in after]
    assert {r["visits_last_year"] for r, _ in after} == {"0"}
    assert [r["follow_up"] for r, _ in before] != [r["follow_up"] for r, _ in after]  # the label does use it


def test_the_module_documents_columns_and_rule() -> None:
    doc = demo.__doc__ or ""
    for column in CLINIC_INTAKE_COLUMNS:
        assert f"``{column}``" in doc
    assert "logit" in doc and "label noise" in doc
    readme = REPO_ROOT / "resources" / "README.md"
    assert readme.is_file() and "follow_up" in readme.read_text(encoding="utf-8")
