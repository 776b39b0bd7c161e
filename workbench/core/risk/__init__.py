"""Re-identification risk of a table, with ARX as the reference (no Qt).

``classes`` (equivalence classes over quasi-identifiers), ``sample`` (prosecutor, journalist, marketer risk, sample
uniqueness), ``population`` (Pitman, Zayatz, SNB, Dankar's rule; ``solver`` holds ARX's special functions and
Newton-Raphson solver), ``diversity`` (distinct, entropy and recursive (c,l)-diversity, t-closeness), ``measure``
(all of them in one call) and ``distribution`` (ARX's risk distribution; distinction and separation).
Generalization: ``hierarchy`` (ARX's CSV format, builders), ``lattice`` (the hierarchies applied to a table),
``criteria`` (the privacy models a node must satisfy) and ``search`` (ARX's entropy and loss metrics, the search).
"""

from __future__ import annotations

from workbench.core.risk.classes import EquivalenceClasses, equivalence_classes
from workbench.core.risk.measure import RiskMeasures, measure_risk

__all__ = ["EquivalenceClasses", "RiskMeasures", "equivalence_classes", "measure_risk"]
