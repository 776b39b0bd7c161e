"""Honest operator parameters (issue 13): an operator offers, per entity type, only the parameters it uses."""

from __future__ import annotations

from workbench.core.pii.operators import OperatorConfig, OperatorContext, apply_operator, get_operator


def _names(operator: str, entity_type: str | None) -> set[str]:
    return {p.name for p in get_operator(operator).params_for(entity_type)}


def test_generalize_offers_only_what_each_type_uses() -> None:
    assert _names("generalize", "ZIP_CODE") == {"zip_digits"}
    assert _names("generalize", "AGE") == {"age_band", "age_top"}
    assert _names("generalize", "DATE_TIME") == {"date_granularity"}
    assert _names("generalize", "PERSON") == set()
    assert "date_granularity" in _names("generalize", None)  # the full list stays available for a policy file
    # What is not offered really does nothing: a ZIP code ignores the date granularity.
    zip_ctx = OperatorContext("ZIP_CODE")
    month = apply_operator(OperatorConfig.create("generalize"), "02139", zip_ctx)
    year = apply_operator(OperatorConfig.create("generalize", date_granularity="year"), "02139", zip_ctx)
    assert month == year == "021**"


def test_pseudonym_shift_is_for_dates_only_and_others_unchanged() -> None:
    assert _names("pseudonym", "DATE_TIME") == {"max_shift_days"}
    assert _names("pseudonym", "PHONE_NUMBER") == set()
    assert _names("mask", "ZIP_CODE") == {p.name for p in get_operator("mask").params}
