"""Column roles from names and values (roles.py), type inference and summaries (schema.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pytest

from workbench.core.data.dataset import ColumnRole
from workbench.core.data.roles import name_tokens, role_from_name, suggest_role
from workbench.core.data.schema import infer_column_type, infer_types, summarize_column, summarize_table

D, Q, S, F, L, OTHER = (
    ColumnRole.DIRECT_IDENTIFIER,
    ColumnRole.QUASI_IDENTIFIER,
    ColumnRole.SENSITIVE,
    ColumnRole.FREE_TEXT,
    ColumnRole.LABEL,
    ColumnRole.OTHER,
)


@pytest.mark.parametrize(
    ("name", "role", "keyword"),
    [
        ("name", D, "name"),
        ("first_name", D, "first_name"),
        ("PatientFirstName", D, "first_name"),
        ("surname", D, "surname"),
        ("patient", D, "patient"),
        ("Nachname", D, "nachname"),
        ("prénom", D, "prénom") if False else ("prenom", D, "prenom"),
        ("email", D, "email"),
        ("E-Mail", D, "email"),
        ("e_mail_address", D, "email"),
        ("phone", D, "phone"),
        ("mobile_number", D, "mobile"),
        ("tel", D, "tel"),
        ("SSN", D, "ssn"),
        ("national_id", D, "national_id"),
        ("nhs_number", D, "nhs"),
        ("passport_no", D, "passport"),
        ("MRN", D, "mrn"),
        ("patient_id", D, "patient"),
        ("customer_id", D, "id"),
        ("home_address", D, "address"),
        ("dob", Q, "dob"),
        ("date_of_birth", Q, "birth"),
        ("birthdate", Q, "birth"),
        ("age", Q, "age"),
        ("patient_age", Q, "age"),
        ("zip", Q, "zip"),
        ("ZIPCode", Q, "zip"),
        ("postcode", Q, "postcode"),
        ("sex", Q, "sex"),
        ("gender", Q, "gender"),
        ("race", Q, "race"),
        ("ethnicity", Q, "ethnicity"),
        ("city", Q, "city"),
        ("occupation", Q, "occupation"),
        ("marital_status", Q, "marital"),
        ("diagnosis", S, "diagnosis"),
        ("primary_condition", S, "condition"),
        ("disease_code", S, "disease"),
        ("annual_salary", S, "salary"),
        ("household_income", S, "income"),
        ("religion", S, "religion"),
        ("medication", S, "medication"),
        ("notes", F, "note"),
        ("comment", F, "comment"),
        ("description", F, "description"),
        ("text", F, "text"),
        ("label", L, "label"),
        ("target", L, "target"),
        ("class", L, "class"),
        ("outcome", L, "outcome"),
        ("y", L, "y"),
    ],
)
def test_role_from_name(name: str, role: ColumnRole, keyword: str) -> None:
    assert role_from_name(name) == (role, f"name matches '{keyword}'")


@pytest.mark.parametrize(
    "name",
    ["stage", "statement", "alternative", "excellence", "environmental_score", "x1", "visits", "context"],
)
def test_names_that_must_not_match(name: str) -> None:
    assert role_from_name(name) is None


def test_name_tokens() -> None:
    assert name_tokens("PatientFirstName") == ["patient", "first", "name"]
    assert name_tokens("ZIPCode") == ["zip", "code"]
    assert name_tokens("e-mail") == ["email"]
    assert name_tokens("  date.of-birth ") == ["date", "of", "birth"]


def test_values_email_wins_over_a_silent_name() -> None:
    values = [f"user{i}@example.org" for i in range(23)] + ["n/a", "unknown"]
    role, reason = suggest_role("contact", "string", values, 25, 25)
    assert role is D and reason == "92% of sampled values look like e-mail addresses"


def test_values_email_wins_over_a_milder_name() -> None:
    values = [f"user{i}@example.org" for i in range(10)]
    assert suggest_role("comment", "string", values, 10, 10) == (
        D,
        "100% of sampled values look like e-mail addresses",
    )


def test_values_phone_numbers() -> None:
    values = ["+44 20 7946 0958", "(555) 123-4567", "030/1234567", "+1-202-555-0143"] * 5
    role, reason = suggest_role("contact", "string", values, 4, 20)
    assert role is D and reason == "100% of sampled values look like phone numbers"


def test_dates_and_decimals_are_not_phone_numbers() -> None:
    assert suggest_role("x", "string", ["2024-01-02", "2023-12-31"] * 5, 2, 10)[0] is OTHER
    assert suggest_role("x", "string", ["1234.5678", "2345.6789"] * 5, 2, 10)[0] is OTHER


def test_values_unique_ids() -> None:
    ids = [f"P{i:07d}" for i in range(50)]
    assert suggest_role("ref", "string", ids, 50, 50) == (
        D,
        "all values are unique and look like identifiers",
    )
    uuids = [str(uuid.UUID(int=i + 1)) for i in range(30)]
    assert suggest_role("key", "string", uuids, 30, 30) == (D, "all values are unique and look like UUIDs")
    # not unique -> not an identifier
    assert suggest_role("ref", "string", ids[:25] * 2, 25, 50)[0] is OTHER
    # short digit strings (zip-like) unique in a small table are not ids
    assert suggest_role("code", "string", [f"{i:05d}" for i in range(40)], 40, 40)[0] is OTHER


def test_long_text_values_are_free_text_and_reasons_hold_no_values() -> None:
    values = ["the patient reported mild pain after the visit"] * 5
    assert suggest_role("c1", "text", values, 1, 5) == (F, "values are long free-form text")
    role, reason = suggest_role("contact", "string", ["ann@example.org"] * 10, 1, 10)
    assert "ann" not in reason and "example" not in reason


def test_nothing_suggests_other() -> None:
    assert suggest_role("measurement", "float", ["1.5", "2.5"], 2, 2) == (
        OTHER,
        "neither the name nor the values suggest a privacy role",
    )


# ------------------------------------------------------------------------------------------------------------
# Type inference


def chunked(values: list[str | None], chunks: int = 1) -> pa.ChunkedArray:
    size = max(1, len(values) // chunks)
    parts = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
    return pa.chunked_array([pa.array(p, pa.string()) for p in parts], pa.string())


@pytest.mark.parametrize(
    ("values", "expected_type", "expected"),
    [
        (["1", "-2", None, "+3"], pa.int64(), [1, -2, None, 3]),
        (["1", "NA", "3", "null", "-"], pa.int64(), [1, None, 3, None, None]),
        (["1.5", "2", "1e3", "nan"], pa.float64(), None),
        (["true", "False", "TRUE"], pa.bool_(), [True, False, True]),
        (["2024-01-02", "1999-12-31", None], pa.date32(), [dt.date(2024, 1, 2), dt.date(1999, 12, 31), None]),
        (["2024-01-02 10:11:12", "2024-01-02T10:11"], pa.timestamp("us"), None),
        (["2024-01-02", "2024-01-03T04:05:06"], pa.timestamp("us"), None),
        (["2024-01-02T10:11:12Z", "2024-01-02T10:11:12+02:00"], pa.timestamp("us", tz="UTC"), None),
        (["02134", "10115"], pa.string(), ["02134", "10115"]),
        (["99999999999999999999", "1"], pa.string(), None),
        (["2024-02-30", "2024-01-01"], pa.string(), None),  # not a real date
        (["12", " 13"], pa.string(), None),
        (["NA", "NA"], pa.string(), ["NA", "NA"]),
        ([None, None], pa.string(), [None, None]),
    ],
)
def test_infer_column_type(values: list[str | None], expected_type: pa.DataType, expected: list | None) -> None:
    result = infer_column_type(chunked(values, 2))
    assert result.type == expected_type
    if expected is not None:
        assert result.to_pylist() == expected


def test_infer_type_checks_every_value_not_only_the_sample() -> None:
    values = [str(i) for i in range(5000)] + ["x"]
    assert infer_column_type(chunked(values, 5)).type == pa.string()
    values = [str(i) for i in range(5000)] + ["1.5"]
    assert infer_column_type(chunked(values, 5)).type == pa.float64()


def test_infer_types_keeps_names_and_non_strings() -> None:
    table = pa.table({"a": pa.array(["1", "2"]), "b": pa.array([1.5, 2.5]), "a2": pa.array(["x", "y"])})
    out = infer_types(table)
    assert out.column_names == ["a", "b", "a2"]
    assert [f.type for f in out.schema] == [pa.int64(), pa.float64(), pa.string()]


# ------------------------------------------------------------------------------------------------------------
# Summaries


def test_summarize_table() -> None:
    n = 40
    table = pa.table(
        {
            "email": [f"person{i}@example.org" for i in range(n)],
            "visit": [f"2024-01-{(i % 28) + 1:02d}" for i in range(n)],
            "stamp": [f"2024-01-02T10:{i % 60:02d}:00" for i in range(n)],
            "remarks_c": [f"the patient number {i} reported a mild headache after lunch" for i in range(n)],
            "city": (["Berlin", "Lyon", None, "", "Lyon"] * 8),
            "score": [float(i) if i % 10 else float("nan") for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            "blob": [b"\x00\x01"] * n,
            "tags": [[1, 2]] * n,
            "cat": pa.array(["a", "b"] * (n // 2)).dictionary_encode(),
        }
    )
    summaries = {s.name: s for s in summarize_table(table)}
    assert list(summaries) == table.column_names
    email = summaries["email"]
    assert (email.dtype, email.missing, email.distinct) == ("string", 0, n)
    assert email.examples == tuple(f"person{i}@example.org" for i in range(5))
    assert email.suggested_role is D and email.role_reason == "name matches 'email'"
    assert summaries["visit"].dtype == "date" and summaries["visit"].distinct == 28
    assert summaries["stamp"].dtype == "datetime"
    assert summaries["remarks_c"].dtype == "text"
    assert summaries["remarks_c"].suggested_role is F
    city = summaries["city"]
    assert (city.dtype, city.missing, city.distinct) == (
        "string",
        16,
        3,
    )  # "" is missing but a distinct value
    assert city.examples == ("Berlin", "Lyon")
    assert city.suggested_role is Q
    score = summaries["score"]
    assert (score.dtype, score.missing) == ("float", 4)
    assert summaries["flag"].dtype == "boolean" and summaries["flag"].examples == ("true", "false")
    assert summaries["blob"].dtype == "binary" and summaries["blob"].examples == ("<2 bytes>",)
    assert summaries["tags"].dtype == "other" and summaries["tags"].distinct == 1
    assert summaries["cat"].dtype == "string" and summaries["cat"].distinct == 2


def test_summary_distinct_is_exact_across_chunks() -> None:
    values = [f"v{i % 777}" for i in range(10_000)] + [None] * 5
    summary = summarize_column("col", chunked(values, 7))
    assert summary.distinct == 777 and summary.missing == 5


def test_short_strings_with_spaces_are_not_text() -> None:
    summary = summarize_column("full", pa.chunked_array([["Ann Lee", "Bob Ray"] * 10]))
    assert summary.dtype == "string"


def test_long_strings_without_spaces_are_not_text() -> None:
    summary = summarize_column("token", pa.chunked_array([["x" * 60, "y" * 60] * 10]))
    assert summary.dtype == "string"


def test_examples_are_truncated() -> None:
    summary = summarize_column("t", pa.chunked_array([["word " * 40]]))
    assert len(summary.examples[0]) == 80 and summary.examples[0].endswith("\u2026")
