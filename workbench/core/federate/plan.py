"""The federation's plan: what every site is told before it trains, and the checks a site runs against it.

The plan names the task, the label and its classes, the feature columns with their kinds (and, for categorical
columns, the category list: a schema fact every site must share so that the model's inputs line up), the rounds,
the per-site epsilon and delta, and whether SecAgg+ is on. It holds no rows and no statistics of rows: numeric
columns are standardized by each site with its own training rows' mean and standard deviation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    import pyarrow as pa

PLAN_FORMAT = "privacy-workbench-federation-plan/1"
DROP_ENV = "WORKBENCH_FEDERATION_DROP"
"""Fault injection for the tests (``SITE:ROUND``): that site fails right after SecAgg+'s key sharing."""
SILENT_ENV = "WORKBENCH_FEDERATION_SILENT"
"""Fault injection for the tests (``SITE:ROUND``): that site goes silent (hangs, never answers) at the same point."""


class FederationError(WorkbenchError):
    """A federation that cannot run as asked (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input column: ``kind`` is ``numeric``, ``date``, ``categorical`` (with its categories) or ``text``
    (embedded at each site by a frozen encoder into ``dims`` numbers)."""

    column: str
    kind: str
    categories: tuple[str, ...] = ()
    dims: int = 1

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.categories)
        return self.dims if self.kind == "text" else 1


@dataclass(frozen=True, slots=True)
class FederationPlan:
    """Everything a site needs to decide whether to join and to train: sent to every site before it trains."""

    task: str
    label: str
    classes: tuple[str, ...]
    features: tuple[FeatureSpec, ...]
    rounds: int
    secure_aggregation: bool = True
    private: bool = True
    epsilon: float = 3.0
    delta: float = 1e-5
    accountant: str = "rdp"
    local_epochs: int = 1
    batch_size: int = 64
    max_grad_norm: float = 1.0
    learning_rate: float = 2e-2  # local Adam; demo, 3 sites, eps 3: 5e-3 stays at the majority class, 2e-2 0.632
    hidden: tuple[int, ...] = (32,)
    seed: int = 0
    val_fraction: float = 0.2
    num_shares: int = 3
    reconstruction_threshold: int = 2
    clipping_range: float = 8.0
    quantization_range: int = 4194304
    max_weight: float = 1000.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> int:
        """The model's input width (sum of the feature widths)."""
        return sum(f.width for f in self.features)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.features)

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = PLAN_FORMAT
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FederationPlan:
        data = json.loads(text)
        if data.pop("format", None) != PLAN_FORMAT:
            raise FederationError("this is not a Privacy Workbench federation plan (or one of another version)")
        data["features"] = tuple(
            FeatureSpec(f["column"], f["kind"], tuple(f.get("categories", ())), int(f.get("dims", 1)))
            for f in data["features"]
        )
        for key in ("classes", "hidden"):
            data[key] = tuple(data[key])
        return cls(**data)

    def describe(self) -> str:
        """What the host will learn, in one paragraph (shown to a site before it accepts)."""
        secagg = (
            "only the sum of the sites' weighted model updates (SecAgg+: each update is masked; "
            f"{self.num_shares} shares, any {self.reconstruction_threshold} reconstruct a dropped site's mask)"
            if self.secure_aggregation
            else "each site's model update in clear (secure aggregation is OFF)"
        )
        dp = (
            f"every update comes from DP-SGD with at most epsilon {self.epsilon:g} per site over all "
            f"{self.rounds} rounds (delta {self.delta:g}, {self.accountant} accountant)"
            if self.private
            else "the updates are NOT differentially private"
        )
        text = [f.column for f in self.features if f.kind == "text"]
        if text:
            encoder = self.extra.get("encoder", "a frozen local encoder")
            dp += (
                f"; text column(s) {', '.join(text)} are embedded at each site by {encoder} (frozen, never trained, "
                "never sent) and only the classifier head is trained"
            )
        return (
            f"Task {self.task}, label {self.label!r} ({len(self.classes)} classes), columns "
            f"{', '.join(self.columns)}; {self.rounds} rounds. The host learns {secagg}; {dp}; and each site's "
            "validation loss, accuracy and row count per round (aggregated before they are shown)."
        )


def check_site_table(plan: FederationPlan, table: pa.Table, site: str = "this site") -> None:
    """Refuse, before any training, a site whose dataset cannot take part: a missing label or column, or label
    values the plan does not know. The message names what is missing, never a row's value."""
    names = set(table.column_names)
    if plan.label not in names:
        raise FederationError(
            f"{site}: the dataset has no column {plan.label!r}, the federation's label; choose a dataset that has it "
            "(or a federation with another label)"
        )
    missing = [c for c in plan.columns if c not in names]
    if missing:
        raise FederationError(f"{site}: the dataset lacks the plan's feature columns: {', '.join(missing)}")
    values = {str(v) for v in table[plan.label].drop_null().to_pylist()}
    unknown = values - set(plan.classes)
    if unknown:
        raise FederationError(
            f"{site}: the label column {plan.label!r} holds {len(unknown)} value(s) that are not among the plan's "
            f"{len(plan.classes)} classes"
        )
    if not values:
        raise FederationError(f"{site}: the label column {plan.label!r} has no values")


def schema_from_table(
    table: pa.Table, label: str, excluded: tuple[str, ...] = (), max_categories: int = 50
) -> tuple[tuple[str, ...], tuple[FeatureSpec, ...]]:
    """The classes and feature specs for a plan, read from a table with the tabular recipe's rules (numbers and ISO
    dates standardized, text columns with 2..``max_categories`` values one-hot, other columns left out)."""
    import pandas as pd
    import pyarrow.types as pat

    if label not in table.column_names:
        raise FederationError(f"the dataset has no column {label!r} to use as the label")
    classes = tuple(sorted({str(v) for v in table[label].drop_null().to_pylist()}))
    if len(classes) < 2:
        raise FederationError(f"the label column {label!r} has fewer than two classes")
    features: list[FeatureSpec] = []
    for name in table.column_names:
        if name == label or name in excluded:
            continue
        col = table[name]
        if pat.is_integer(col.type) or pat.is_floating(col.type) or pat.is_boolean(col.type):
            features.append(FeatureSpec(name, "numeric"))
            continue
        series = pd.Series(col.to_pylist(), dtype="object").astype("string")
        dates = pd.to_datetime(series, format="ISO8601", errors="coerce")
        if series.notna().any() and dates.notna().sum() >= 0.95 * series.notna().sum():
            features.append(FeatureSpec(name, "date"))
            continue
        cats = sorted(set(series.dropna().tolist()))
        if 2 <= len(cats) <= max_categories:
            features.append(FeatureSpec(name, "categorical", tuple(str(c) for c in cats)))
    if not features:
        raise FederationError("no usable feature columns for the tabular recipe")
    return classes, tuple(features)
