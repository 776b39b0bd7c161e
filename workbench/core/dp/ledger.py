"""The privacy-budget ledger: per dataset (by fingerprint), a total epsilon that runs reserve from and commit to.

Life of a reservation
---------------------
1. A job :meth:`PrivacyLedger.reserve` s its *target* epsilon and delta before its first step. The reservation
   is refused (:class:`BudgetExceeded`, saying how much is left) if ``committed + reserved + epsilon > total``.
2. When it ends, however it ends, it :meth:`~PrivacyLedger.commit` s what the accountant says it actually spent
   (never more than it reserved) and the rest is released; :meth:`~PrivacyLedger.release` is the commit of a job
   that took no step.
3. A job whose process died (killed, power loss) cannot commit: when a ledger is next opened on the project,
   its reservation is committed *in full* (it may have spent all of it). The owner of a reservation is its pid
   plus a process start token (boot id and start time on Linux), so a reused pid is not mistaken for the owner.

Invariant: ``committed + reserved <= total`` at every moment, for every dataset. It holds across threads (one
``threading.Lock`` per ledger, then the project's lock: that is the only lock order) and across processes
(check and insert run in one ``BEGIN IMMEDIATE`` transaction, which excludes every other writer of the SQLite
file). Records are never deleted: released and committed reservations stay in the table as the audit trail.

Composition
-----------
The budget uses *basic composition*: epsilons add up and deltas add up, which is valid for any mechanisms.
:class:`LedgerSummary` also shows a tighter figure, the RDP composition of the committed DP-SGD runs (their RDP
curves summed, converted once at the summed delta), which is valid because every run is a Poisson-subsampled
Gaussian mechanism on the same rows; budget decisions use the basic figure.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.core.dp.ledger_record import (
    LedgerRecordError,
    Reconciliation,
    RecordFile,
    Snapshot,
    apply_reconciliation,
    compare,
    snapshot,
)
from workbench.core.dp.ledger_summary import TOLERANCE as _TOLERANCE
from workbench.core.dp.ledger_summary import LedgerEntry, LedgerSummary
from workbench.core.dp.machine_index import MachineIndex
from workbench.core.dp.owner import owner_alive, process_token
from workbench.core.errors import WorkbenchError
from workbench.core.faults import crash_point
from workbench.core.project.store import Project

log = logging.getLogger(__name__)


class LedgerError(WorkbenchError):
    """A ledger operation that cannot be done (the message says why and what to do)."""


class BudgetExceeded(LedgerError):
    """A reservation that does not fit in the dataset's remaining budget."""


# ---- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    """A claim on a dataset's budget, returned by :meth:`PrivacyLedger.reserve`; pass it to commit or release."""

    id: int
    fingerprint: str
    epsilon: float
    delta: float
    run_id: int | None


_ENTRY_COLUMNS = (
    "id, fingerprint, run_id, state, reserved_epsilon, reserved_delta, spent_epsilon, spent_delta, accountant, "
    "noise_multiplier, sample_rate, steps, reserved_at, committed_at, note"
)


def _entry(row: tuple[object, ...]) -> LedgerEntry:
    return LedgerEntry(*row)  # type: ignore[arg-type]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _check_amount(epsilon: float, delta: float) -> None:
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise LedgerError(f"an epsilon must be a finite number >= 0, got {epsilon!r}")
    if not (math.isfinite(delta) and 0 <= delta < 1):
        raise LedgerError(f"a delta must be in [0, 1), got {delta!r}")


def overspend_message(reservation: Reservation, spent_epsilon: float, spent_delta: float) -> str | None:
    """Why ``spent`` exceeds what ``reservation`` claimed, or ``None`` when it does not."""
    if spent_epsilon > reservation.epsilon * (1 + _TOLERANCE) + _TOLERANCE:
        return (
            f"overspent: the accountant reported ε = {spent_epsilon:.6g}, more than the ε = {reservation.epsilon:g} "
            "reserved; the true value is committed"
        )
    if spent_delta > reservation.delta * (1 + _TOLERANCE):
        return f"overspent: δ = {spent_delta:g} spent, more than the δ = {reservation.delta:g} reserved"
    return None


def _elsewhere_note(epsilon: float) -> str:
    if epsilon <= 0:
        return ""
    return f" (of which ε = {epsilon:.4g} in other projects of this machine that hold the same data)"


# ---- the ledger ----------------------------------------------------------------------------------------------


class PrivacyLedger:
    """Privacy budgets of a project's datasets. Thread-safe; several processes may use the same project.

    Creating one checks the database against the ledger record and recovers stale reservations (see the module
    docstring): create it when the project opens. ``index`` is the machine-wide index (the user's by default).

    Raises
    ------
    LedgerRecordError
        The database is behind its record (restored from an older copy, or edited): the project must not be used.
    MachineIndexError
        The machine-wide index or key in the user's data folder cannot be used.
    """

    def __init__(self, project: Project, *, recover: bool = True, index: MachineIndex | None = None) -> None:
        self._project = project
        self._lock = threading.Lock()
        self._index = index if index is not None else MachineIndex()
        identity = project.identity
        self._project_id = identity.project_id
        self._record = RecordFile(project.folder, identity.ledger_record_key, self._index.key)
        if project.read_only:  # nothing can be written: check only (a database behind its record is refused)
            self.reconciled: Reconciliation | None = self._check_only() if recover else None
            self.recovered: tuple[LedgerEntry, ...] = ()
        else:
            self.reconciled = self.reconcile() if recover else None
            self.recovered = self.recover_stale() if recover else ()

    @property
    def project(self) -> Project:
        return self._project

    # ---- whose budget ----

    def budget_root(self, fingerprint: str) -> str:
        """The fingerprint whose budget ``fingerprint`` charges: the original it was derived from (through this
        project's lineage, then the machine-wide index), or itself."""
        seen = {fingerprint}
        current = fingerprint
        while True:
            parent = self._parent(current)
            if parent is None or parent in seen:
                return current
            seen.add(parent)
            current = parent

    def _parent(self, fingerprint: str) -> str | None:
        record = self._project.dataset_by_fingerprint(fingerprint)
        if record is not None:
            for entry in self._project.lineage(record.id):
                parent = entry.detail.get("parent_fingerprint") if entry.child_dataset_id == record.id else None
                if isinstance(parent, str) and parent:
                    self._index.note_derived(fingerprint, parent)  # a copy added elsewhere charges it too
                    return parent
        return self._index.parent_of(fingerprint)

    # ---- writing: the database, then the record, then the machine-wide index ----

    @contextlib.contextmanager
    def _changing(
        self, doing: str, fingerprints: Iterable[str] | None, step: str = "change"
    ) -> Iterator[sqlite3.Connection]:
        """A write transaction under the ledger lock; on commit the record is rewritten and the index updated."""
        with self._lock, self._record.locked():
            with self._project.write_transaction(doing) as conn:
                yield conn
                snap = snapshot(conn, self._project_id)
            crash_point(f"ledger.{step}.committed")  # the kill tests: between the database and the record
            self._record.write(snap)
            self._sync_index(snap, fingerprints)

    def _sync_index(self, snap: Snapshot, fingerprints: Iterable[str] | None) -> None:
        wanted = set(fingerprints) if fingerprints is not None else {e[0] for e in snap.entries.values()}
        for fp in sorted(wanted):
            eps = math.fsum(e[2] for e in snap.entries.values() if e[0] == fp)
            delta = math.fsum(e[3] for e in snap.entries.values() if e[0] == fp)
            self._index.set_usage(fp, self._project_id, eps, delta)

    def _check_only(self) -> Reconciliation:
        recorded = self._record.read()
        with self._project.read_connection("read the privacy ledger") as conn:
            conn.execute("BEGIN")
            try:
                db = snapshot(conn, self._project_id)
            finally:
                conn.execute("COMMIT")
        return Reconciliation((), {}) if recorded is None else compare(recorded, db)

    def reconcile(self) -> Reconciliation:
        """Check the database against the ledger record (raises when it is behind), count in full what the record
        missed, and rewrite the record and this project's rows of the machine-wide index."""
        with self._lock, self._record.locked():
            recorded = self._record.read()
            with self._project.write_transaction("check the privacy ledger against its record") as conn:
                db = snapshot(conn, self._project_id)
                expected = conn.execute("SELECT 1 FROM project_meta WHERE key = 'ledger_record'").fetchone()
                if recorded is None and expected is not None:
                    raise LedgerRecordError(
                        "this project's privacy-ledger record is missing (it was deleted): restore the project folder "
                        "from your backup; the project is not opened meanwhile"
                    )
                outcome = Reconciliation((), {}) if recorded is None else compare(recorded, db)
                apply_reconciliation(conn, self._project.insert_audit, outcome)
                if recorded is not None:  # from now on a missing record is refused
                    conn.execute("INSERT OR IGNORE INTO project_meta (key, value) VALUES ('ledger_record', '1')")
                snap = snapshot(conn, self._project_id)
            if snap != recorded or self._record.foreign:
                self._record.write(snap)
            self._sync_index(snap, None)
        if outcome.count_in_full or outcome.lower_totals:
            log.warning(
                "privacy ledger: %d reservation(s) counted in full and %d total(s) restored from the ledger record",
                len(outcome.count_in_full),
                len(outcome.lower_totals),
            )
        return outcome

    # ---- budget ----

    def set_total(self, fingerprint: str, epsilon: float, delta: float | None = None) -> LedgerSummary:
        """Set (or change) a dataset's total budget. Refused below what is already committed plus reserved."""
        _check_amount(epsilon, 0.0 if delta is None else delta)
        if delta is not None and delta <= 0:
            raise LedgerError("a total delta must be > 0 (or leave it unset)")
        fingerprint = self.budget_root(fingerprint)
        with self._changing("set the privacy budget", ()) as conn:
            used_eps, used_delta = self._used(conn, fingerprint)
            if epsilon + _TOLERANCE < used_eps:
                raise LedgerError(
                    f"the total budget cannot be set to ε = {epsilon:g}: ε = {used_eps:.4g} is already committed "
                    "or reserved on this dataset. A budget can only shrink down to what was spent."
                )
            if delta is not None and delta + _TOLERANCE * delta < used_delta:
                raise LedgerError(
                    f"the total delta cannot be set to {delta:g}: δ = {used_delta:.3g} is already committed or reserved"
                )
            conn.execute(
                "INSERT INTO privacy_budgets (fingerprint, total_epsilon, total_delta, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(fingerprint) DO UPDATE SET total_epsilon = excluded.total_epsilon, "
                "total_delta = excluded.total_delta, updated_at = excluded.updated_at",
                (fingerprint, float(epsilon), delta, _now()),
            )
            self._project.insert_audit(
                conn, "privacy_budget.set", fingerprint=fingerprint, total_epsilon=float(epsilon), total_delta=delta
            )
        return self.summary(fingerprint)

    @staticmethod
    def _used(conn: sqlite3.Connection, fingerprint: str) -> tuple[float, float]:
        row = conn.execute(
            "SELECT COALESCE(SUM(CASE state WHEN 'reserved' THEN reserved_epsilon ELSE spent_epsilon END), 0), "
            "COALESCE(SUM(CASE state WHEN 'reserved' THEN reserved_delta ELSE spent_delta END), 0) "
            "FROM privacy_ledger WHERE fingerprint = ?",
            (fingerprint,),
        ).fetchone()
        return float(row[0]), float(row[1])

    # ---- reservations ----

    def reserve(
        self, fingerprint: str, epsilon: float, delta: float, run_id: int | None = None, note: str | None = None
    ) -> Reservation:
        """Claim ``(epsilon, delta)`` of the dataset's budget for a job, before its first step.

        Raises
        ------
        BudgetExceeded
            If no budget is set for the dataset, or the claim does not fit in what remains.
        """
        _check_amount(epsilon, delta)
        if epsilon <= 0:
            raise LedgerError("a reservation must claim a positive epsilon")
        fingerprint = self.budget_root(fingerprint)
        self.recover_stale()
        with self._lock, self._record.locked():
            # Claimed in the machine-wide index first, so that another project reserving the same data meanwhile
            # sees this claim; set back to the ledger's true figure whatever happens.
            others = self._index.claim(fingerprint, self._project_id, epsilon, delta)
            try:
                reservation_id = self._insert_reservation(fingerprint, epsilon, delta, run_id, note, others)
            finally:
                self._resync_index(fingerprint)
        return Reservation(reservation_id, fingerprint, float(epsilon), float(delta), run_id)

    def _resync_index(self, fingerprint: str) -> None:
        with contextlib.suppress(WorkbenchError, sqlite3.Error):  # left ahead (the safe side) until the next open
            with self._project.read_connection("read the privacy ledger") as conn:
                snap = snapshot(conn, self._project_id)
            self._sync_index(snap, (fingerprint,))

    def _insert_reservation(
        self,
        fingerprint: str,
        epsilon: float,
        delta: float,
        run_id: int | None,
        note: str | None,
        others: tuple[float, float],
    ) -> int:
        with self._project.write_transaction("reserve privacy budget") as conn:
            budget = conn.execute(
                "SELECT total_epsilon, total_delta FROM privacy_budgets WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if budget is None:
                raise BudgetExceeded(
                    "this dataset has no privacy budget yet: set one first (the Training page's budget field, or "
                    "`workbench budget DATASET --project DIR --set TOTAL`), e.g. a total epsilon of 10"
                )
            total_eps, total_delta = float(budget[0]), budget[1]
            used_eps, used_delta = self._used(conn, fingerprint)
            used_eps, used_delta = used_eps + others[0], used_delta + others[1]
            if used_eps + epsilon > total_eps + _TOLERANCE:
                raise BudgetExceeded(
                    f"ε = {epsilon:g} does not fit in this dataset's privacy budget: total ε = {total_eps:g}, "
                    f"committed or reserved ε = {used_eps:.4g}{_elsewhere_note(others[0])}, "
                    f"remaining ε = {max(0.0, total_eps - used_eps):.4g}. "
                    "Lower the target epsilon, wait for running jobs to finish, or (if your data owner allows it) "
                    "raise the total budget."
                )
            if total_delta is not None and used_delta + delta > float(total_delta) * (1 + _TOLERANCE):
                raise BudgetExceeded(
                    f"δ = {delta:g} does not fit: total δ = {float(total_delta):g}, committed or reserved "
                    f"δ = {used_delta:.3g}. Use a smaller delta."
                )
            cursor = conn.execute(
                "INSERT INTO privacy_ledger (fingerprint, run_id, state, reserved_epsilon, reserved_delta, "
                "owner_pid, owner_token, reserved_at, note) VALUES (?, ?, 'reserved', ?, ?, ?, ?, ?, ?)",
                (fingerprint, run_id, float(epsilon), float(delta), os.getpid(), process_token(), _now(), note),
            )
            reservation_id = int(cursor.lastrowid or 0)
            self._project.insert_audit(
                conn,
                "privacy_budget.reserved",
                fingerprint=fingerprint,
                reservation_id=reservation_id,
                run_id=run_id,
                epsilon=float(epsilon),
                delta=float(delta),
            )
            snap = snapshot(conn, self._project_id)
        crash_point("ledger.reserve.committed")
        self._record.write(snap)
        return reservation_id

    def commit(
        self,
        reservation: Reservation,
        spent_epsilon: float,
        spent_delta: float,
        *,
        accountant: str | None = None,
        noise_multiplier: float | None = None,
        sample_rate: float | None = None,
        steps: int | None = None,
        note: str | None = None,
    ) -> LedgerEntry:
        """Record what a job actually spent and give the rest of its reservation back.

        A job must stop before it spends more than it reserved. If it did anyway (its accountant reports more),
        the true value is committed, never a smaller one: the entry's note says so, the audit log gets a
        ``privacy_budget.overspent`` entry and :attr:`LedgerSummary.overspent` turns true if the total is
        exceeded; check :func:`overspent` on the result and treat the run as failed.

        The mechanism (``noise_multiplier``, ``sample_rate``, ``steps``) lets the summary compose runs with RDP.
        """
        _check_amount(spent_epsilon, spent_delta)
        over = overspend_message(reservation, spent_epsilon, spent_delta)
        if over is not None:
            note = f"{note}; {over}" if note else over
        state = "committed" if spent_epsilon > 0 or spent_delta > 0 else "released"
        entry = self._finish(
            reservation,
            state,
            "commit privacy spend",
            (float(spent_epsilon), float(spent_delta), accountant, noise_multiplier, sample_rate, steps, note),
        )
        if over is not None:
            log.error("privacy reservation %s overspent (%s)", reservation.id, over)
            self._project.audit(
                "privacy_budget.overspent",
                fingerprint=reservation.fingerprint,
                reservation_id=reservation.id,
                run_id=reservation.run_id,
                reserved_epsilon=reservation.epsilon,
                spent_epsilon=float(spent_epsilon),
                reserved_delta=reservation.delta,
                spent_delta=float(spent_delta),
            )
        return entry

    def release(self, reservation: Reservation, note: str | None = None) -> LedgerEntry:
        """Give a whole reservation back: the job took no step (refused, or failed before training)."""
        return self._finish(reservation, "released", "release privacy budget", (0.0, 0.0, None, None, None, 0, note))

    def _finish(self, reservation: Reservation, state: str, doing: str, values: tuple[object, ...]) -> LedgerEntry:
        with self._changing(doing, (reservation.fingerprint,), "finish") as conn:
            row = conn.execute("SELECT state FROM privacy_ledger WHERE id = ?", (reservation.id,)).fetchone()
            if row is None:
                raise LedgerError(f"no reservation {reservation.id} in this project's ledger")
            if row[0] != "reserved":
                raise LedgerError(
                    f"reservation {reservation.id} was already {row[0]}; it cannot be committed or released twice"
                    + (" (its process was presumed dead and it was counted in full)" if row[0] == "committed" else "")
                )
            conn.execute(
                "UPDATE privacy_ledger SET state = ?, spent_epsilon = ?, spent_delta = ?, accountant = ?, "
                "noise_multiplier = ?, sample_rate = ?, steps = ?, note = COALESCE(?, note), committed_at = ? "
                "WHERE id = ?",
                (state, *values, _now(), reservation.id),
            )
            self._project.insert_audit(
                conn,
                f"privacy_budget.{state}",
                fingerprint=reservation.fingerprint,
                reservation_id=reservation.id,
                run_id=reservation.run_id,
                spent_epsilon=values[0],
                spent_delta=values[1],
            )
            entry = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM privacy_ledger WHERE id = ?", (reservation.id,)
            ).fetchone()
        return _entry(entry)

    def recover_stale(self) -> tuple[LedgerEntry, ...]:
        """Commit in full every reservation whose process died; returns the entries it changed."""
        with self._project.read_connection("read the privacy ledger") as conn:
            rows = conn.execute(
                "SELECT id, owner_pid, owner_token FROM privacy_ledger WHERE state = 'reserved'"
            ).fetchall()
        me = os.getpid()
        dead = [int(r[0]) for r in rows if int(r[1]) != me and not owner_alive(int(r[1]), str(r[2]))]
        if not dead:
            return ()
        changed = []
        with self._changing("recover stale privacy reservations", None) as conn:
            for rid in dead:
                cur = conn.execute(
                    "UPDATE privacy_ledger SET state = 'committed', spent_epsilon = reserved_epsilon, "
                    "spent_delta = reserved_delta, committed_at = ?, note = ? WHERE id = ? AND state = 'reserved'",
                    (_now(), "its process ended without committing: counted as spent in full", rid),
                )
                if cur.rowcount:
                    row = conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM privacy_ledger WHERE id = ?", (rid,)).fetchone()
                    changed.append(_entry(row))
                    self._project.insert_audit(
                        conn, "privacy_budget.stale_committed", reservation_id=rid, fingerprint=row[1]
                    )
        return tuple(changed)

    # ---- reading ----

    def entries(self, fingerprint: str) -> tuple[LedgerEntry, ...]:
        fingerprint = self.budget_root(fingerprint)
        with self._project.read_connection("read the privacy ledger") as conn:
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM privacy_ledger WHERE fingerprint = ? ORDER BY id", (fingerprint,)
            ).fetchall()
        return tuple(_entry(r) for r in rows)

    def summary(self, fingerprint: str, with_rdp: bool = True) -> LedgerSummary:
        """Total, committed, reserved and remaining budget of one dataset, read in one consistent snapshot.

        ``with_rdp=False`` skips the RDP composition (``rdp_epsilon`` is then ``None``): it needs Opacus's
        accountants, whose first import takes seconds, so a GUI thread asks without it and composes in a job.
        """
        asked = fingerprint
        fingerprint = self.budget_root(fingerprint)
        elsewhere = self._index.elsewhere(fingerprint, self._project_id)
        with self._project.read_connection("read the privacy ledger") as conn:
            conn.execute("BEGIN")  # one read snapshot for both queries
            try:
                budget = conn.execute(
                    "SELECT total_epsilon, total_delta FROM privacy_budgets WHERE fingerprint = ?", (fingerprint,)
                ).fetchone()
                rows = conn.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM privacy_ledger WHERE fingerprint = ? ORDER BY id", (fingerprint,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        entries = tuple(_entry(r) for r in rows)
        committed = [e for e in entries if e.state == "committed"]
        reserved = [e for e in entries if e.state == "reserved"]
        c_eps = math.fsum(e.spent_epsilon or 0.0 for e in committed)
        c_delta = math.fsum(e.spent_delta or 0.0 for e in committed)
        r_eps = math.fsum(e.reserved_epsilon for e in reserved)
        r_delta = math.fsum(e.reserved_delta for e in reserved)
        total = None if budget is None else float(budget[0])
        rdp_eps: float | None = None
        composable = all(e.noise_multiplier and e.sample_rate and e.steps is not None for e in committed)
        if with_rdp and committed and composable:
            from workbench.core.dp.accountant import compose_rdp

            mechanisms = tuple(
                (float(e.noise_multiplier or 0), float(e.sample_rate or 0), int(e.steps or 0)) for e in committed
            )
            if c_delta > 0:
                rdp_eps = min(compose_rdp(mechanisms, c_delta)[0], c_eps)
        return LedgerSummary(
            fingerprint=fingerprint,
            total_epsilon=total,
            total_delta=None if budget is None or budget[1] is None else float(budget[1]),
            committed_epsilon=c_eps,
            committed_delta=c_delta,
            reserved_epsilon=r_eps,
            reserved_delta=r_delta,
            remaining_epsilon=None if total is None else max(0.0, total - c_eps - r_eps - elsewhere[0]),
            runs=sum(1 for e in entries if e.state != "released"),
            active=len(reserved),
            rdp_epsilon=rdp_eps,
            entries=entries,
            charged_to=fingerprint if fingerprint != asked else None,
            elsewhere_epsilon=elsewhere[0],
            elsewhere_delta=elsewhere[1],
            elsewhere_projects=elsewhere[2],
        )
