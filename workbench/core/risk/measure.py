"""All the risk measures of one table in one call: the equivalence classes are built once and every measure reads
them (the Risk page and ``workbench risk`` go through :func:`workbench.services.risk.risk_report`, which calls this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.risk.classes import EquivalenceClasses, equivalence_classes, to_arrow
from workbench.core.risk.diversity import SensitiveMeasures, sensitive_measures
from workbench.core.risk.population import PopulationUniqueness, population_uniqueness
from workbench.core.risk.sample import SampleRisks, sample_risks

__all__ = ["RiskMeasures", "measure_risk"]


@dataclass(frozen=True, slots=True)
class RiskMeasures:
    """k, the class-size histogram, sample risks, population uniqueness and, per sensitive column, l and t."""

    quasi_identifiers: tuple[str, ...]
    k: int
    histogram_sizes: tuple[int, ...]
    histogram_counts: tuple[int, ...]
    sample: SampleRisks
    population: PopulationUniqueness
    sensitive: tuple[SensitiveMeasures, ...]
    classes: EquivalenceClasses = field(repr=False, compare=False)


def measure_risk(
    table: Any,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] = (),
    *,
    population_size: int | None = None,
    sampling_fraction: float | None = None,
    threshold: float = 0.2,
    recursive_l: int = 2,
    orders: Mapping[str, Sequence[Any]] | None = None,
) -> RiskMeasures:
    """Measure ``table`` (pyarrow Table or pandas DataFrame) over ``quasi_identifiers``.

    The population is ``population_size`` records, else ``round(n / sampling_fraction)``, else ten times the sample
    (ARX's default sampling fraction of 0.1). ``threshold`` is the risk above which a record counts as at risk;
    ``orders`` gives a sensitive column's value order for ordered-distance t-closeness.
    """
    arrow = to_arrow(table)
    if not quasi_identifiers:
        raise ValueError("name at least one quasi-identifier")
    overlap = set(quasi_identifiers) & set(sensitive)
    if overlap:
        raise ValueError(f"a column cannot be both quasi-identifier and sensitive: {', '.join(sorted(overlap))}")
    classes = equivalence_classes(arrow, quasi_identifiers)
    sizes, counts = classes.histogram()
    pop = population_uniqueness(sizes, counts, population_size=population_size, sampling_fraction=sampling_fraction)
    orders = orders or {}
    measures = tuple(
        sensitive_measures(arrow, classes, s, order=orders.get(s), recursive_l=recursive_l) for s in sensitive
    )
    return RiskMeasures(
        quasi_identifiers=tuple(quasi_identifiers),
        k=classes.k,
        histogram_sizes=tuple(int(v) for v in np.asarray(sizes)),
        histogram_counts=tuple(int(v) for v in np.asarray(counts)),
        sample=sample_risks(sizes, counts, threshold),
        population=pop,
        sensitive=measures,
        classes=classes,
    )
