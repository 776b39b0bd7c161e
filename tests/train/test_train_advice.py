"""Defaults that fit the data and the warning before training (workbench.core.train.advice)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.core.dp.accountant import noise_for_epsilon, plan_privacy
from workbench.core.train.advice import (
    MIN_STEPS,
    NOISE_LIMIT,
    RECIPE_RATES,
    advise,
    advise_run,
    expected_steps,
    learning_rate_for,
    suggest_batch_size,
)
from workbench.core.train.tasks import TrainConfig

pytest.importorskip("opacus", reason="planning the noise needs opacus's accountants")


def test_rates_are_the_measured_ones_whatever_the_batch() -> None:
    # Measured (docs/training.md): the text recipe's 1e-2 under DP learned at batch 64 (demo, 1,200 rows, eps 3:
    # 0.825 against 0.55); scaled linearly to the batch (2.5e-3) the same run stayed at the majority.
    for batch in (32, 64, 256, 1024):
        assert learning_rate_for("text", "lora", True, batch) == 1e-2
        assert learning_rate_for("text", "lora", False, batch) == 2e-3
        assert learning_rate_for("tabular", None, True, batch) == RECIPE_RATES[("tabular", "mlp", True)][0] == 1e-2
    assert learning_rate_for("text", "head", True, 64) == 5e-3


def test_the_batch_shrinks_until_there_are_enough_steps() -> None:
    # 4,500 rows: the measured batch gives enough steps; 1,080 rows (the 1,200-row window run) do not.
    assert suggest_batch_size("text", 4500, 3, private=False) == 256
    assert suggest_batch_size("text", 1080, 3, private=False) == 64
    assert expected_steps(1080, 64, 3) >= MIN_STEPS["text"] > expected_steps(1080, 128, 3)
    assert suggest_batch_size("text", 50, 1, private=False) == 32, "never below the task's smallest batch"


def test_a_small_epsilon_asks_for_a_larger_batch() -> None:
    loose = suggest_batch_size("text", 1080, 3, private=True, target_epsilon=8.0)
    tight = suggest_batch_size("text", 1080, 3, private=True, target_epsilon=1.0)
    assert (loose, tight) == (64, 128)
    # At the tight epsilon the larger batch brings the noise per step down (the reason it was chosen).
    delta = 1e-5
    at = {b: noise_for_epsilon(1.0, 1 / -(-1080 // b), delta, epochs=3) / b for b in (64, 128)}
    assert at[128] < at[64] and at[64] > NOISE_LIMIT["text"]


def test_advice_matches_the_privacy_plan_and_names_accountant_and_delta() -> None:
    advice = advise("tabular", 4500, 500, epochs=3, private=True, target_epsilon=3.0)
    plan = plan_privacy(3.0, 4500, advice.batch_size, 3)
    assert (advice.steps, advice.noise_multiplier, advice.delta) == (plan.steps, plan.noise_multiplier, plan.delta)
    assert advice.likely_to_learn and advice.warnings == ()
    assert "RDP accountant" in advice.summary() and "δ = 1e-05" in advice.summary()
    assert f"{advice.steps} optimizer steps" in advice.summary()


@pytest.mark.parametrize(
    ("task", "kwargs", "expected"),
    [
        ("tabular", dict(train_rows=4500, val_rows=500, batch_size=4096, epochs=1), "Only 2 optimizer steps"),
        ("tabular", dict(train_rows=4500, val_rows=500, learning_rate=1e-4, epochs=1), "barely move"),
        ("tabular", dict(train_rows=360, val_rows=40, epochs=3), "Only 40 validation rows"),
        ("tabular", dict(train_rows=1080, val_rows=120, epochs=3, private=True, target_epsilon=0.2), "noise per step"),
        (
            "text",
            dict(train_rows=1080, val_rows=120, epochs=3, private=True, target_epsilon=3.0, batch_size=64,
                 learning_rate=3e-2),
            "more than twice the rate",
        ),
    ],
)  # fmt: skip
def test_plans_unlikely_to_beat_the_baseline_are_said_so(task: str, kwargs: dict, expected: str) -> None:  # type: ignore[type-arg]
    advice = advise(task, **{"private": False, **kwargs})
    assert not advice.likely_to_learn
    assert any(expected in w for w in advice.warnings), advice.warnings
    # The same plan with the workbench's own batch and rate is not warned about (except for too few rows).
    if task == "text" or "private" in kwargs:
        chosen = {k: v for k, v in kwargs.items() if k not in ("batch_size", "learning_rate")}
        chosen["target_epsilon"] = max(chosen.get("target_epsilon", 3.0), 3.0)
        assert advise(task, **chosen).likely_to_learn


def test_advice_for_a_run_counts_rows_as_the_loop_splits_them() -> None:
    table = pa.table({"x": list(range(300)), "y": ["a", "b", None] * 100})
    config = TrainConfig(task="tabular", label_column="y", private=False, epochs=2, batch_size=999)
    chosen = advise_run(config, table, batch_size=None)
    assert (chosen.train_rows, chosen.val_rows) == (180, 20)  # 200 labelled rows, 10 % held out
    assert chosen.batch_suggested and chosen.batch_size == 16
    kept = advise_run(config, table, batch_size=config.batch_size)
    assert kept.batch_size == 999 and not kept.batch_suggested
