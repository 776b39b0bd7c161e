"""The Anonymize page's entity table offers, per entity type, only the parameters its operator uses (issue 13)."""

from __future__ import annotations

from workbench.core.pii.operators import OperatorConfig
from workbench.core.pii.policy import Policy
from workbench.ui.qt_pii_entity_table import QtEntityOperatorTable, operator_presets


def _items(table: QtEntityOperatorTable, entity: str) -> list[str]:
    box = table.param_combo(entity)
    assert box is not None
    return [box.itemText(i) for i in range(box.count())]


def test_zip_and_age_rows_do_not_offer_a_date_granularity(qtbot) -> None:  # noqa: ANN001
    generalize = OperatorConfig.create("generalize")
    policy = Policy()
    for entity in ("ZIP_CODE", "AGE", "DATE_TIME"):
        policy = policy.with_entity_operator(entity, generalize)
    table = QtEntityOperatorTable()
    qtbot.addWidget(table)
    table.show_policy(["ZIP_CODE", "AGE", "DATE_TIME", "PERSON"], policy)
    assert not any("date granularity" in t for t in _items(table, "ZIP_CODE") + _items(table, "AGE"))
    assert _items(table, "ZIP_CODE")[0] == "zip digits: 3" and "zip digits: 2" in _items(table, "ZIP_CODE")
    assert "age band: 5" in _items(table, "AGE")
    assert _items(table, "DATE_TIME") == ["date granularity: month", "date granularity: year"]
    # Picking generalize for PERSON in the combo: no parameters to offer.
    combo = table.operator_combo("PERSON")
    combo.setCurrentIndex(combo.findData("generalize"))
    assert table.chosen("PERSON", True) == ("generalize", {})
    assert _items(table, "PERSON") == ["—"] and not table.param_combo("PERSON").isEnabled()
    assert [label for label, _ in operator_presets("generalize", "ZIP_CODE")] == [
        "zip digits: 3", "zip digits: 2", "zip digits: 1"
    ]  # fmt: skip
