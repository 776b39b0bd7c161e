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

import logging
import math
import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.project.store import Project

log = logging.getLogger(__name__)
_TOLERANCE = 1e-9  # float sums of epsilons: a budget filled exactly must not be refused by rounding


class LedgerError(WorkbenchError):
    """A ledger operation that cannot be done (the message says why and what to do)."""


class BudgetExceeded(LedgerError):
    """A reservation that does not fit in the dataset's remaining budget."""


# ---- process identity ----------------------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """A value that differs between two processes that had the same pid; ``None`` when ``pid`` is not running."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # Field 22 (starttime) counts from after the parenthesised command name, which may hold spaces.
        fields = text[text.rindex(")") + 2 :].split()
        return fields[19]
    try:  # not Linux: psutil when present (a test dependency), otherwise pid liveness only
        import psutil

        return f"{psutil.Process(pid).create_time():.3f}"
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "unknown"
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess and friends
        return None


def process_token(pid: int | None = None) -> str:
    """``host|boot id|start time`` of a process (this one by default): who owns a reservation or a run."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}|{_boot_id()}|{_start_time(pid) or ''}"


def owner_alive(pid: int, token: str) -> bool:
    """Whether the process that wrote ``(pid, token)`` may still be running.

    Another host's process cannot be checked: it counts as alive (projects live on a local disk, but be safe).
    """
    host, boot, start = (token.split("|") + ["", "", ""])[:3]
    if host != socket.gethostname():
        return True
    if boot and _boot_id() and boot != _boot_id():
        return False  # the machine rebooted since
    now = _start_time(pid)
    if now is None:
        return False
    return not start or start == "unknown" or now == "unknown" or now == start


# ---- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    """A claim on a dataset's budget, returned by :meth:`PrivacyLedger.reserve`; pass it to commit or release."""

    id: int
    fingerprint: str
    epsilon: float
    delta: float
    run_id: int | None


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

    @property
    def overspent(self) -> bool:
        """More was committed and reserved than the total allows (a run's accountant reported more than it
        reserved): no reservation fits until the analyst reviews the budget."""
        if self.total_epsilon is None:
            return False
        return self.committed_epsilon + self.reserved_epsilon > self.total_epsilon + _TOLERANCE

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
        }


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


# ---- the ledger ----------------------------------------------------------------------------------------------


class PrivacyLedger:
    """Privacy budgets of a project's datasets. Thread-safe; several processes may use the same project.

    Creating one recovers stale reservations (see the module docstring): create it when the project opens.
    """

    def __init__(self, project: Project, *, recover: bool = True) -> None:
        self._project = project
        self._lock = threading.Lock()
        self.recovered: tuple[LedgerEntry, ...] = self.recover_stale() if recover else ()

    @property
    def project(self) -> Project:
        return self._project

    # ---- budget ----

    def set_total(self, fingerprint: str, epsilon: float, delta: float | None = None) -> LedgerSummary:
        """Set (or change) a dataset's total budget. Refused below what is already committed plus reserved."""
        _check_amount(epsilon, 0.0 if delta is None else delta)
        if delta is not None and delta <= 0:
            raise LedgerError("a total delta must be > 0 (or leave it unset)")
        with self._lock, self._project.write_transaction("set the privacy budget") as conn:
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
        self.recover_stale()
        with self._lock, self._project.write_transaction("reserve privacy budget") as conn:
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
            if used_eps + epsilon > total_eps + _TOLERANCE:
                raise BudgetExceeded(
                    f"ε = {epsilon:g} does not fit in this dataset's privacy budget: total ε = {total_eps:g}, "
                    f"committed or reserved ε = {used_eps:.4g}, remaining ε = {max(0.0, total_eps - used_eps):.4g}. "
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
        return Reservation(reservation_id, fingerprint, float(epsilon), float(delta), run_id)

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
        with self._lock, self._project.write_transaction(doing) as conn:
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
        with self._lock, self._project.write_transaction("recover stale privacy reservations") as conn:
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
            remaining_epsilon=None if total is None else max(0.0, total - c_eps - r_eps),
            runs=sum(1 for e in entries if e.state != "released"),
            active=len(reserved),
            rdp_epsilon=rdp_eps,
            entries=entries,
        )
