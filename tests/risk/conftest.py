"""Risk tests: ARX's Adult extract and its published numbers are read from ../shared/eval when present."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
ADULT = EVAL / "adult_arx" / "adult.csv"
REFERENCE = EVAL / "reference" / "reference_numbers.json"


@pytest.fixture(scope="session")
def adult() -> Any:
    """ARX's adult.csv (30,162 rows, 9 columns, `;`-separated) as a pyarrow Table, every column read as text as
    ARX reads it."""
    if not ADULT.is_file():
        pytest.skip(f"ARX's Adult extract is not available: {ADULT} is absent (../shared/eval)")
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = ADULT.read_text(encoding="utf-8").splitlines()[0].split(";")
    return pacsv.read_csv(
        ADULT,
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )


@pytest.fixture(scope="session")
def arx_reference() -> dict[str, Any]:
    """The ARX risk values on adult.csv from reference_numbers.json."""
    if not REFERENCE.is_file():
        pytest.skip(f"published reference numbers are not available: {REFERENCE} is absent (../shared/eval)")
    return dict(json.loads(REFERENCE.read_text(encoding="utf-8"))["arx_adult_risk"])


@pytest.fixture(scope="session")
def arx_toy() -> dict[str, Any]:
    """ARX's TestRiskQuasiIdentifiers toy table and its distinction/separation values (reference_numbers.json)."""
    if not REFERENCE.is_file():
        pytest.skip(f"published reference numbers are not available: {REFERENCE} is absent (../shared/eval)")
    return dict(json.loads(REFERENCE.read_text(encoding="utf-8"))["arx_attribute_risk_toy"])
