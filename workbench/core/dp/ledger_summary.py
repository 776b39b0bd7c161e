"""What the privacy ledger reports: one entry, and where a dataset's budget stands
(:mod:`workbench.core.dp.ledger`)."""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1e-9
"""Float sums of epsilons: a budget filled exactly must not be refused by rounding."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One line of the ledger. ``spent_*`` are ``None`` while the state is ``reserved``."""

    id: int
    fingerprint: str
    run_id: int | None
    state: str
    reserved_epsilon: float
    reserved_delta: float
    spent_epsilon: float | None
    spent_delta: float | None
    accountant: str | None
    noise_multiplier: float | None
    sample_rate: float | None
    steps: int | None
    reserved_at: str
    committed_at: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """Where a dataset's budget stands (basic composition), plus the tighter RDP composition when available.

    ``total_epsilon`` is ``None`` when no budget was set (every reservation is then refused).
    ``rdp_epsilon`` is the RDP composition of the committed runs at ``committed_delta`` (``None`` when a
    committed spend has no recorded mechanism, e.g. one counted in full after its process died).
    """

    fingerprint: str
    total_epsilon: float | None
    total_delta: float | None
    committed_epsilon: float
    committed_delta: float
    reserved_epsilon: float
    reserved_delta: float
    remaining_epsilon: float | None
    runs: int
    active: int
    rdp_epsilon: float | None
    entries: tuple[LedgerEntry, ...]
    charged_to: str | None = None
    """The fingerprint whose budget this dataset charges, when it is another (the original it was derived from)."""
    elsewhere_epsilon: float = 0.0
    """What other projects of this machine committed or reserved on the same data (the machine-wide index)."""
    elsewhere_delta: float = 0.0
    elsewhere_projects: int = 0

    @property
    def overspent(self) -> bool:
        """More was committed and reserved than the total allows (a run's accountant reported more than it
        reserved): no reservation fits until the analyst reviews the budget."""
        if self.total_epsilon is None:
            return False
        used = self.committed_epsilon + self.reserved_epsilon + self.elsewhere_epsilon
        return used > self.total_epsilon + TOLERANCE

    def as_dict(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "total": self.total_epsilon,
            "total_delta": self.total_delta,
            "committed": self.committed_epsilon,
            "committed_delta": self.committed_delta,
            "reserved": self.reserved_epsilon,
            "reserved_delta": self.reserved_delta,
            "remaining": self.remaining_epsilon,
            "runs": self.runs,
            "active_reservations": self.active,
            "composition": "basic (sum of epsilons, sum of deltas)",
            "rdp_composed_epsilon": self.rdp_epsilon,
            "rdp_composed_delta": self.committed_delta if self.rdp_epsilon is not None else None,
            "overspent": self.overspent,
            "charged_to": self.charged_to,
            "other_projects_epsilon": self.elsewhere_epsilon,
            "other_projects_delta": self.elsewhere_delta,
            "other_projects": self.elsewhere_projects,
        }
