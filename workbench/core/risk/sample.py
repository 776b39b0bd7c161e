"""Re-identification risk measured on the sample: prosecutor, journalist and marketer risk, sample uniqueness.

The formulas are ARX's (``RiskModelSampleRisks``, ``RiskModelSampleSummary``, ``RiskModelSampleUniqueness``), read
from the class-size histogram: a record's prosecutor risk is 1 / the size of its class; the average is
``1 / (n / number of classes)`` (ARX divides by the average class size, and so does this module, bit for bit); the
highest is 1 / the smallest class; "records at risk" is the share of records whose risk exceeds a threshold.

Without a population table the journalist's population classes are the sample's own (ARX does the same when a
handle has no superset), so journalist risk equals prosecutor risk here and marketer risk is the share of classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["AttackerRisk", "SampleRisks", "sample_risks"]


@dataclass(frozen=True, slots=True)
class AttackerRisk:
    """One attacker model's risk: average (success rate), highest, lowest, and the share of records above the
    threshold."""

    average: float
    highest: float
    lowest: float
    records_at_risk: float
    threshold: float


@dataclass(frozen=True, slots=True)
class SampleRisks:
    """Sample-based risks of one partition (ARX's ``RiskModelSampleRisks`` and ``RiskModelSampleSummary``)."""

    num_records: int
    num_classes: int
    average_prosecutor_risk: float  # ARX getAverageRisk: 1 / average class size
    highest_risk: float
    lowest_risk: float
    records_affected_by_highest_risk: float  # share of records in the smallest classes
    sample_uniques: int
    sample_uniqueness: float
    prosecutor: AttackerRisk
    journalist: AttackerRisk
    marketer: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sample_risks(sizes: np.ndarray, counts: np.ndarray, threshold: float = 0.2) -> SampleRisks:
    """The sample risks of a class-size histogram (``sizes`` increasing, ``counts`` classes of each size)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if sizes.size == 0:
        empty = AttackerRisk(0.0, 0.0, 0.0, 0.0, threshold)
        return SampleRisks(0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, empty, empty, 0.0)
    num_records = int((sizes * counts).sum())
    num_classes = int(counts.sum())
    average = 1.0 / (float(num_records) / float(num_classes))
    highest = 1.0 / float(sizes[0])
    lowest = 1.0 / float(sizes[-1])
    with np.errstate(divide="ignore"):
        at_risk = float((sizes * counts)[1.0 / sizes > threshold].sum()) / float(num_records)
    uniques = int(counts[0]) if sizes[0] == 1 else 0
    prosecutor = AttackerRisk(float(num_classes) / float(num_records), highest, lowest, at_risk, threshold)
    # Journalist with the sample as its own population: ARX's rC = max(classes / sum of population class sizes,
    # sum(sample size / population size) / n) is classes / n, the same as the prosecutor's.
    journalist = prosecutor
    return SampleRisks(
        num_records=num_records,
        num_classes=num_classes,
        average_prosecutor_risk=average,
        highest_risk=highest,
        lowest_risk=lowest,
        records_affected_by_highest_risk=float(sizes[0]) * float(counts[0]) / float(num_records),
        sample_uniques=uniques,
        sample_uniqueness=float(uniques) / float(num_records),
        prosecutor=prosecutor,
        journalist=journalist,
        marketer=float(num_classes) / float(num_records),
    )
