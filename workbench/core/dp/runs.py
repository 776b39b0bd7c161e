"""Training run records (in the project's SQLite) and the live metrics of a running job (in memory).

:class:`RunStore` persists one row per training run: config, seed, dataset fingerprint, the DP mechanism
(noise multiplier, sample rate, steps), the epsilon spent with its delta and accountant, the status, the
metrics and the model file. A run whose process died while it was ``running`` is marked ``failed`` when a
store is next created on the project (its ledger reservation is counted in full by the ledger).

:class:`RunMetrics` is the live series of one run, shared by the training worker (which appends) and the GUI
(which reads a :class:`MetricsSnapshot` at most ~20 times a second). All state sits behind one
``threading.Lock``; snapshots are immutable and cached per version, so an idle plot costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workbench.core.dp.owner import owner_alive, process_token
from workbench.core.errors import WorkbenchError
from workbench.core.project.store import Project

RUN_STATUSES = ("running", "succeeded", "failed", "cancelled")


# ---- live metrics --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """The live series of one run at one moment. Immutable: safe to hand to the GUI thread.

    ``steps``/``losses``/``epsilons``/``throughput`` are aligned (one entry per logged optimizer step);
    ``epochs``/``val_accuracy`` are aligned (one entry per finished epoch). ``epsilons`` are from
    ``accountant`` at ``delta``; ``target_epsilon`` is the line to draw (``None`` for a non-private run).
    """

    run_id: int | None
    version: int
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    epsilons: tuple[float, ...]
    throughput: tuple[float, ...]
    epochs: tuple[int, ...]
    val_accuracy: tuple[float, ...]
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    total_steps: int | None
    finished: bool

    @property
    def last_epsilon(self) -> float:
        return self.epsilons[-1] if self.epsilons else 0.0


class RunMetrics:
    """Lock-guarded live metrics of one run: the worker appends, any thread reads snapshots."""

    def __init__(
        self,
        run_id: int | None = None,
        *,
        target_epsilon: float | None = None,
        delta: float | None = None,
        accountant: str | None = None,
        total_steps: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._run_id = run_id
        self._target = target_epsilon
        self._delta = delta
        self._accountant = accountant
        self._total_steps = total_steps
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._epsilons: list[float] = []
        self._throughput: list[float] = []
        self._epochs: list[int] = []
        self._val: list[float] = []
        self._finished = False
        self._version = 0
        self._cached: MetricsSnapshot | None = None

    def configure(
        self,
        *,
        run_id: int | None,
        target_epsilon: float | None,
        delta: float | None,
        accountant: str | None,
        total_steps: int | None,
    ) -> None:
        """Set what the run is (the training loop calls it once it has planned the run)."""
        with self._lock:
            self._run_id, self._target, self._delta = run_id, target_epsilon, delta
            self._accountant, self._total_steps = accountant, total_steps
            self._version += 1

    def append_step(self, step: int, loss: float, epsilon: float, samples_per_second: float) -> None:
        with self._lock:
            self._steps.append(int(step))
            self._losses.append(float(loss))
            self._epsilons.append(float(epsilon))
            self._throughput.append(float(samples_per_second))
            self._version += 1

    def append_epoch(self, epoch: int, val_accuracy: float) -> None:
        with self._lock:
            self._epochs.append(int(epoch))
            self._val.append(float(val_accuracy))
            self._version += 1

    def mark_finished(self) -> None:
        with self._lock:
            self._finished = True
            self._version += 1

    @property
    def version(self) -> int:
        """Changes on every append: a reader can skip a redraw when it has not changed."""
        with self._lock:
            return self._version

    def snapshot(self) -> MetricsSnapshot:
        """An immutable copy of everything so far (the same object while nothing changed)."""
        with self._lock:
            if self._cached is None or self._cached.version != self._version:
                self._cached = MetricsSnapshot(
                    run_id=self._run_id,
                    version=self._version,
                    steps=tuple(self._steps),
                    losses=tuple(self._losses),
                    epsilons=tuple(self._epsilons),
                    throughput=tuple(self._throughput),
                    epochs=tuple(self._epochs),
                    val_accuracy=tuple(self._val),
                    target_epsilon=self._target,
                    delta=self._delta,
                    accountant=self._accountant,
                    total_steps=self._total_steps,
                    finished=self._finished,
                )
            return self._cached


def downsample_metrics(snapshot: MetricsSnapshot, max_points: int = 500) -> dict[str, Any]:
    """A JSON-able, at most ``max_points``-long version of a snapshot, for the run record."""
    n = len(snapshot.steps)
    stride = max(1, math.ceil(n / max_points))
    idx = list(range(0, n, stride))
    if n and idx[-1] != n - 1:
        idx.append(n - 1)
    return {
        "step": [snapshot.steps[i] for i in idx],
        "loss": [round(snapshot.losses[i], 6) for i in idx],
        "epsilon": [round(snapshot.epsilons[i], 6) for i in idx],
        "samples_per_second": [round(snapshot.throughput[i], 3) for i in idx],
        "epoch": list(snapshot.epochs),
        "val_accuracy": [round(v, 6) for v in snapshot.val_accuracy],
    }


# ---- run records ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One stored training run. ``epsilon`` is ``None`` for a non-private run (no guarantee at all)."""

    id: int
    fingerprint: str
    dataset_name: str
    task: str
    private: bool
    status: str
    config: Mapping[str, Any]
    seed: int
    target_epsilon: float | None
    noise_multiplier: float | None
    sample_rate: float | None
    steps: int
    epsilon: float | None
    delta: float | None
    accountant: str | None
    metrics: Mapping[str, Any]
    model_path: str | None
    error: str | None
    started_at: str
    finished_at: str | None

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["config"] = dict(self.config)
        out["metrics"] = dict(self.metrics)
        return out


_RUN_COLUMNS = (
    "id, fingerprint, dataset_name, task, private, status, config_json, seed, target_epsilon, noise_multiplier, "
    "sample_rate, steps, epsilon, delta, accountant, metrics_json, model_path, error, started_at, finished_at"
)


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        id=int(row[0]),
        fingerprint=row[1],
        dataset_name=row[2],
        task=row[3],
        private=bool(row[4]),
        status=row[5],
        config=json.loads(row[6]),
        seed=int(row[7]),
        target_epsilon=row[8],
        noise_multiplier=row[9],
        sample_rate=row[10],
        steps=int(row[11]),
        epsilon=row[12],
        delta=row[13],
        accountant=row[14],
        metrics=json.loads(row[15]),
        model_path=row[16],
        error=row[17],
        started_at=row[18],
        finished_at=row[19],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class RowSplit:
    """Which rows of the dataset (0-based, in file order) a run trained on and which it held out for validation.

    Members and non-members for a membership-inference audit. Rows without a label, and rows left out by a
    ``max_rows`` sample, are in neither.
    """

    seed: int
    val_fraction: float
    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]

    @property
    def train_sha256(self) -> str:
        return hashlib.sha256(_pack_rows(self.train_rows)).hexdigest()

    @property
    def val_sha256(self) -> str:
        return hashlib.sha256(_pack_rows(self.val_rows)).hexdigest()


def _pack_rows(rows: tuple[int, ...]) -> bytes:
    return struct.pack(f"<{len(rows)}q", *rows)


def _unpack_rows(blob: bytes) -> tuple[int, ...]:
    return tuple(struct.unpack(f"<{len(blob) // 8}q", blob))


class RunStore:
    """Training run records of one project. Thread-safe (the project's lock and transactions)."""

    def __init__(self, project: Project, *, recover: bool = True) -> None:
        self._project = project
        if recover:
            self.recover_stale()

    @property
    def project(self) -> Project:
        return self._project

    def create(
        self,
        *,
        fingerprint: str,
        dataset_name: str,
        task: str,
        private: bool,
        config: Mapping[str, Any],
        seed: int,
        target_epsilon: float | None,
        noise_multiplier: float | None,
        sample_rate: float | None,
        delta: float | None,
        accountant: str | None,
    ) -> int:
        """Record a run that is starting (status ``running``); returns its id."""
        with self._project.write_transaction("record the training run") as conn:
            cur = conn.execute(
                "INSERT INTO training_runs (fingerprint, dataset_name, task, private, status, config_json, seed, "
                "target_epsilon, noise_multiplier, sample_rate, delta, accountant, owner_pid, owner_token, started_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fingerprint,
                    dataset_name,
                    task,
                    int(private),
                    json.dumps(dict(config), sort_keys=True, default=str),
                    int(seed),
                    target_epsilon,
                    noise_multiplier,
                    sample_rate,
                    delta,
                    accountant,
                    os.getpid(),
                    process_token(),
                    _now(),
                ),
            )
            run_id = int(cur.lastrowid or 0)
            self._project.insert_audit(
                conn, "training_run.started", run_id=run_id, fingerprint=fingerprint, task=task, private=private
            )
        return run_id

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        steps: int,
        epsilon: float | None,
        delta: float | None,
        metrics: Mapping[str, Any] | None = None,
        model_path: str | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """Record how a run ended: ``succeeded``, ``failed`` or ``cancelled``, with the epsilon it spent."""
        if status not in RUN_STATUSES[1:]:
            raise WorkbenchError(f"a run can end only as one of {', '.join(RUN_STATUSES[1:])}, not {status!r}")
        with self._project.write_transaction("record the end of the training run") as conn:
            cur = conn.execute(
                "UPDATE training_runs SET status = ?, steps = ?, epsilon = ?, delta = ?, metrics_json = ?, "
                "model_path = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
                (
                    status,
                    int(steps),
                    epsilon,
                    delta,
                    json.dumps(dict(metrics or {}), allow_nan=False),
                    model_path,
                    error,
                    _now(),
                    int(run_id),
                ),
            )
            if not cur.rowcount:
                raise WorkbenchError(f"training run {run_id} is unknown or already finished")
            self._project.insert_audit(
                conn, f"training_run.{status}", run_id=int(run_id), steps=int(steps), epsilon=epsilon, delta=delta
            )
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM training_runs WHERE id = ?", (int(run_id),)).fetchone()
        return _run(row)

    def set_model_path(self, run_id: int, model_path: str, *, reason: str) -> None:
        """Record that a run's checkpoint moved (into the vault when a project is encrypted); audited."""
        with self._project.write_transaction("record where the model is kept") as conn:
            cur = conn.execute("UPDATE training_runs SET model_path = ? WHERE id = ?", (model_path, int(run_id)))
            if not cur.rowcount:
                raise WorkbenchError(f"this project has no training run {run_id}")
            self._project.insert_audit(conn, "training_run.model_moved", run_id=int(run_id), reason=reason)

    def record_rows(self, run_id: int, split: RowSplit) -> None:
        """Remember which dataset rows the run trained on and which it held out (see :class:`RowSplit`)."""
        with self._project.write_transaction("record the rows of the training run") as conn:
            conn.execute(
                "INSERT INTO training_run_rows (run_id, split_seed, val_fraction, train_count, val_count, "
                "train_sha256, val_sha256, train_rows, val_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(run_id),
                    int(split.seed),
                    float(split.val_fraction),
                    len(split.train_rows),
                    len(split.val_rows),
                    split.train_sha256,
                    split.val_sha256,
                    _pack_rows(split.train_rows),
                    _pack_rows(split.val_rows),
                ),
            )

    def rows(self, run_id: int) -> RowSplit | None:
        """The rows a run trained on and held out, or ``None`` (a run recorded before this was kept)."""
        with self._project.read_connection("read the rows of the training run") as conn:
            row = conn.execute(
                "SELECT split_seed, val_fraction, train_rows, val_rows FROM training_run_rows WHERE run_id = ?",
                (int(run_id),),
            ).fetchone()
        if row is None:
            return None
        return RowSplit(int(row[0]), float(row[1]), _unpack_rows(row[2]), _unpack_rows(row[3]))

    def get(self, run_id: int) -> RunRecord:
        with self._project.read_connection("read the training run") as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM training_runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise WorkbenchError(f"this project has no training run {run_id}")
        return _run(row)

    def runs(self, fingerprint: str | None = None) -> list[RunRecord]:
        """All runs (of one dataset when ``fingerprint`` is given), oldest first."""
        with self._project.read_connection("list the training runs") as conn:
            if fingerprint is None:
                rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM training_runs ORDER BY id").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM training_runs WHERE fingerprint = ? ORDER BY id", (fingerprint,)
                ).fetchall()
        return [_run(r) for r in rows]

    def recover_stale(self) -> list[int]:
        """Mark ``failed`` the runs left ``running`` by a process that died; returns their ids."""
        with self._project.read_connection("read the training runs") as conn:
            rows = conn.execute(
                "SELECT id, owner_pid, owner_token FROM training_runs WHERE status = 'running'"
            ).fetchall()
        me = os.getpid()
        dead = [int(r[0]) for r in rows if int(r[1]) != me and not owner_alive(int(r[1]), str(r[2]))]
        if dead:
            with self._project.write_transaction("recover stale training runs") as conn:
                for rid in dead:
                    conn.execute(
                        "UPDATE training_runs SET status = 'failed', finished_at = ?, error = ? "
                        "WHERE id = ? AND status = 'running'",
                        (
                            _now(),
                            "the process running this job ended before it finished; its whole privacy reservation "
                            "counts as spent",
                            rid,
                        ),
                    )
                    self._project.insert_audit(conn, "training_run.stale_failed", run_id=rid)
        return dead
