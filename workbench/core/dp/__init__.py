"""Differential privacy room: accountant facade and planning, the privacy-budget ledger, run records.

Nothing here imports torch at module level; Opacus is imported inside the functions that need it.
"""

from workbench.core.dp.accountant import (
    ACCOUNTANTS,
    DEFAULT_ACCOUNTANT,
    EpsilonPoint,
    PlanningError,
    PrivacyPlan,
    compose_rdp,
    default_delta,
    epsilon_curve,
    epsilon_for,
    format_epsilon,
    noise_for_epsilon,
    plan_privacy,
    sample_rate_for,
    steps_per_epoch,
)
from workbench.core.dp.ledger import BudgetExceeded, LedgerEntry, LedgerError, LedgerSummary, PrivacyLedger, Reservation
from workbench.core.dp.runs import MetricsSnapshot, RunMetrics, RunRecord, RunStore

__all__ = [
    "ACCOUNTANTS",
    "DEFAULT_ACCOUNTANT",
    "BudgetExceeded",
    "EpsilonPoint",
    "LedgerEntry",
    "LedgerError",
    "LedgerSummary",
    "MetricsSnapshot",
    "PlanningError",
    "PrivacyLedger",
    "PrivacyPlan",
    "Reservation",
    "RunMetrics",
    "RunRecord",
    "RunStore",
    "compose_rdp",
    "default_delta",
    "epsilon_curve",
    "epsilon_for",
    "format_epsilon",
    "noise_for_epsilon",
    "plan_privacy",
    "sample_rate_for",
    "steps_per_epoch",
]
