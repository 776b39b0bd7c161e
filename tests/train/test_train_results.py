"""The sentence that compares a finished run with its majority baseline and a non-private run of the same recipe
(one function for the window and ``workbench train``)."""

from __future__ import annotations

from typing import Any

from workbench.core.dp.runs import RunRecord
from workbench.core.train.results import compare_result, non_private_reference, recipe_key
from workbench.core.train.tasks import TrainConfig


def _record(run_id: int, config: dict[str, Any], *, private: bool, status: str = "succeeded", acc: float | None = 0.8):
    return RunRecord(
        id=run_id, fingerprint="f", dataset_name="d", task=config["task"], private=private, status=status,
        config=config, seed=0, target_epsilon=None, noise_multiplier=None, sample_rate=None, steps=10, epsilon=None,
        delta=None, accountant=None, metrics={"val_accuracy_final": acc}, model_path=None, error=None,
        started_at="", finished_at=None,
    )  # fmt: skip


def test_a_dp_run_at_or_below_the_majority_baseline_says_so_plainly() -> None:
    text = compare_result(0.59, 0.59, private=True)
    assert "no better than always predicting the most common class" in text
    assert "more data, more epochs or a larger ε would be needed" in text
    assert "no better" in compare_result(0.55, 0.59, private=True)
    plain = compare_result(0.5, 0.59, private=False)
    assert "no better" in plain and "ε" not in plain, "a non-private run has no ε to raise"


def test_a_run_above_the_baseline_says_by_how_much() -> None:
    text = compare_result(0.734, 0.590, private=True)
    assert "0.734" in text and "0.144 above the majority baseline of 0.590" in text and "no better" not in text
    assert "No validation accuracy" in compare_result(None, 0.5, private=True)


def test_the_non_private_run_of_the_same_recipe_is_named() -> None:
    dp = TrainConfig(task="tabular", label_column="y", private=True).as_dict()
    same = TrainConfig(task="tabular", label_column="y", private=False, epochs=9, batch_size=8).as_dict()
    other_label = TrainConfig(task="tabular", label_column="z", private=False).as_dict()
    text_task = TrainConfig(task="text", label_column="y", text_column="t", private=False).as_dict()
    runs = [
        _record(1, same, private=False, acc=0.70),
        _record(2, same, private=False, acc=0.81),
        _record(3, same, private=False, status="failed"),
        _record(4, other_label, private=False, acc=0.99),
        _record(5, text_task, private=False, acc=0.99),
        _record(6, dp, private=True, acc=0.99),
    ]
    ref = non_private_reference(runs, dp)
    assert ref is not None and ref.id == 2, "the newest succeeded non-private run of the same recipe"
    assert recipe_key(dp) == recipe_key(same) != recipe_key(other_label)
    text = compare_result(0.734, 0.59, private=True, reference=ref)
    assert "non-private run 2 of the same recipe reached 0.810" in text and "cost 0.076 of accuracy" in text
    assert non_private_reference(runs[3:], dp) is None
    assert "non-private run" not in compare_result(0.734, 0.59, private=True, reference=None)
