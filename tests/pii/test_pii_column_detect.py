"""Column-level detection on the demo clinic data, and on columns with misleading names or values."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.core.demo import generate_clinic_intake
from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken, drive
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.column_detect import ColumnKind, detect_columns, detect_columns_job, name_hint
from workbench.core.pii.policy import ColumnTreatment, policy_template


@pytest.fixture(scope="module")
def demo() -> pa.Table:
    return pa.Table.from_pylist(generate_clinic_intake(120, seed=11))


def test_demo_columns_get_the_right_entity_types(demo: pa.Table, analyzer: AnalyzerHandle) -> None:
    detections = {d.column: d for d in detect_columns(demo, analyzer=analyzer, sample_size=20)}
    assert list(detections) == list(demo.column_names)
    expected = {
        "name": "PERSON",
        "date_of_birth": "DATE_TIME",
        "zip": "ZIP_CODE",
        "phone": "PHONE_NUMBER",
        "email": "EMAIL_ADDRESS",
        "national_id": "US_SSN",
        "visit_date": "DATE_TIME",
    }
    for column, entity_type in expected.items():
        d = detections[column]
        assert (d.kind, d.entity_type) == (ColumnKind.ENTITY, entity_type), d
        assert 0.5 <= d.confidence <= 1.0
    assert detections["email"].confidence > 0.9 and detections["name"].confidence > 0.8
    note = detections["note"]
    assert note.kind is ColumnKind.FREE_TEXT and note.confidence > 0.9
    assert note.counts["PERSON"] >= 20 and "LOCATION" in note.counts and "PHONE_NUMBER" in note.counts
    for column in ("sex", "diagnosis", "follow_up", "record_id", "diagnosis_code"):
        assert detections[column].kind is ColumnKind.NONE, detections[column]
    # reasons name rules, never values
    values = {str(v) for row in demo.slice(0, 20).to_pylist() for v in row.values()}
    assert not any(v in d.reason for d in detections.values() for v in values if len(v) > 3)


def test_values_beat_a_misleading_name_and_names_help_weak_values(analyzer: AnalyzerHandle) -> None:
    table = pa.table(
        {
            "contact": ["anna.berg@example.org", "li.wei@example.com", "j.doe@example.net"] * 4,
            "field_7": ["anna.berg@example.org", "li.wei@example.com", "j.doe@example.net"] * 4,
            "postcode": ["80202", "10001", "94103"] * 4,
            "amount": [12, 7, 33] * 4,
        }
    )
    d = {x.column: x for x in detect_columns(table, analyzer=analyzer)}
    assert d["contact"].entity_type == "EMAIL_ADDRESS"  # the name says PERSON, the values say e-mail
    assert d["field_7"].entity_type == "EMAIL_ADDRESS" and d["field_7"].kind is ColumnKind.ENTITY
    assert d["postcode"].entity_type == "ZIP_CODE"
    assert d["amount"].kind is ColumnKind.NONE


def test_name_hints() -> None:
    assert name_hint("PatientFirstName") == ("PERSON", False)
    assert name_hint("e-mail") == ("EMAIL_ADDRESS", False)
    assert name_hint("file_name") == (None, False)
    assert name_hint("clinical_notes") == (None, True)


def test_detection_is_a_cancellable_job(demo: pa.Table, analyzer: AnalyzerHandle) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        drive(detect_columns_job(demo, token, analyzer=analyzer))


def test_policy_template_from_the_detections(demo: pa.Table, analyzer: AnalyzerHandle) -> None:
    policy = policy_template(detect_columns(demo, analyzer=analyzer, sample_size=15), name="demo")
    assert policy.column("note").treatment is ColumnTreatment.FREE_TEXT
    assert policy.column("name").treatment is ColumnTreatment.ENTITY and policy.column("name").entity_type == "PERSON"
    assert policy.column("sex").treatment is ColumnTreatment.KEEP
    assert policy.operator_for_column("zip") is not None and policy.operator_for_column("zip").operator == "generalize"
    assert not policy.needs_keys(demo.column_names)
