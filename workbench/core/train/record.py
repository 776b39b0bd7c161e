"""A run's trace in the project, kept honest however the run ends.

:class:`RecordedRun` is a context manager around the training steps. On entry it records the run (``running``),
records the rows it trains on and holds out, and reserves the target epsilon in the ledger before the first step.
On exit (success, cancel, error, or the job generator closed) it commits the epsilon actually spent to the ledger
(the rest of the reservation is released) and finishes the run record with its status, metrics and model file.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workbench.core.errors import JobCancelled, WorkbenchError
from workbench.core.train.plan import TrainingPlan
from workbench.core.train.tasks import TrainConfig

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.dp.ledger import PrivacyLedger, Reservation
    from workbench.core.dp.runs import RunMetrics, RunStore


@dataclass(slots=True)
class RunState:
    """What a run has done so far; the training steps update it, the record reads it on exit."""

    steps: int = 0
    epochs_done: int = 0
    samples: int = 0
    train_seconds: float = 0.0
    val_accuracy: float | None = None
    epsilon_now: float = 0.0
    model_path: str | None = None
    engine: Any = None  # Opacus's PrivacyEngine, from just before the model is made private

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds else 0.0

    def accounted_steps(self) -> int | None:
        """Logical steps Opacus's accountant has counted (``None`` before there is an engine).

        Read in the worker thread only: the accountant is not thread-safe.
        """
        if self.engine is None:
            return None
        return int(sum(h[2] for h in self.engine.accountant.history))


def _outcome(exc: BaseException | None) -> tuple[str, str | None]:
    """The run's (status, error) for how the body of the ``with`` ended."""
    if exc is None:
        return "succeeded", None
    if isinstance(exc, JobCancelled | GeneratorExit | KeyboardInterrupt):
        return "cancelled", None
    if isinstance(exc, WorkbenchError):
        return "failed", str(exc)
    if isinstance(exc, Exception):
        return "failed", f"{type(exc).__name__} (details in the log)"
    return "failed", None


class RecordedRun:
    """The run record and the ledger reservation of one training run, as a context manager (see the module
    docstring). After the ``with``: ``run_id``, ``status`` and ``epsilon_spent``; ``state.steps`` is then the
    accountant's count."""

    def __init__(
        self,
        config: TrainConfig,
        plan: TrainingPlan,
        state: RunState,
        *,
        table: pa.Table,
        columns_used: tuple[str, ...],
        majority_baseline: float,
        ledger: PrivacyLedger | None,
        run_store: RunStore | None,
        metrics: RunMetrics | None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.state = state
        self._table = table
        self._columns_used = columns_used
        self._majority = majority_baseline
        self._ledger = ledger
        self._run_store = run_store
        self._metrics = metrics
        self.run_id: int | None = None
        self.reservation: Reservation | None = None
        self.status = "failed"
        self.epsilon_spent: float | None = None

    def __enter__(self) -> RecordedRun:
        self._create()
        self._reserve()
        if self._metrics is not None:
            plan = self.plan
            self._metrics.configure(
                run_id=self.run_id,
                target_epsilon=plan.target_epsilon,
                delta=plan.delta,
                accountant=plan.accountant,
                total_steps=plan.total_steps,
            )
        return self

    def _create(self) -> None:
        if self._run_store is None:
            return
        config, plan = self.config, self.plan
        self.run_id = self._run_store.create(
            fingerprint=config.dataset_fingerprint,
            dataset_name=config.dataset_name,
            task=config.task,
            private=plan.private,
            config={**config.as_dict(), "columns_used": list(self._columns_used)},
            seed=config.seed,
            target_epsilon=plan.target_epsilon,
            noise_multiplier=plan.noise_multiplier,
            sample_rate=plan.sample_rate,
            delta=plan.delta,
            accountant=plan.accountant,
        )
        from workbench.core.dp.runs import RowSplit
        from workbench.core.train.tasks import split_row_numbers

        split = RowSplit(config.seed, config.val_fraction, *split_row_numbers(config, self._table))
        self._run_store.record_rows(self.run_id, split)

    def _reserve(self) -> None:
        """Claim the target epsilon before the first step; a refused claim finishes the run record as failed."""
        if not self.plan.private or self._ledger is None:
            return
        assert self.plan.delta is not None
        try:
            self.reservation = self._ledger.reserve(
                self.config.dataset_fingerprint, float(self.config.target_epsilon), self.plan.delta, self.run_id
            )
        except WorkbenchError as exc:
            if self._run_store is not None and self.run_id is not None:
                self._run_store.finish(self.run_id, "failed", steps=0, epsilon=0.0, delta=0.0, error=str(exc))
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        status, error = _outcome(exc)
        spent_eps, spent_delta = self._spent()
        if self._metrics is not None:
            self._metrics.mark_finished()
        overspent = self._commit(spent_eps, spent_delta)
        if overspent is not None and status != "cancelled":
            status, error = "failed", overspent
        self._finish(status, error, spent_eps, spent_delta)
        self.status, self.epsilon_spent = status, spent_eps
        self.state.engine = None  # the run is over: drop the engine (its accountant, and the model's hooks)
        if overspent is not None and exc is None:
            from workbench.core.dp.ledger import LedgerError

            raise LedgerError(f"training run {self.run_id}: {overspent}; the run is recorded as failed")

    def _spent(self) -> tuple[float | None, float | None]:
        """(epsilon, delta) actually spent: from the accountant's own count of the steps taken."""
        if self.plan.private:
            accounted = self.state.accounted_steps()
            if accounted is not None:
                self.state.steps = accounted
        return self.plan.spent(self.state.steps)

    def _commit(self, spent_eps: float | None, spent_delta: float | None) -> str | None:
        """Commit the spend (the rest of the reservation goes back); returns the overspend, if any."""
        if self._ledger is None or self.reservation is None:
            return None
        from workbench.core.dp.ledger import overspend_message

        # The loop stops before a step that would exceed the reservation; if the accountant still reports more,
        # the true value is committed (the ledger marks it) and the run ends as an error.
        overspent = overspend_message(self.reservation, spent_eps or 0.0, spent_delta or 0.0)
        self._ledger.commit(
            self.reservation,
            spent_eps or 0.0,
            spent_delta or 0.0,
            accountant=self.plan.accountant,
            noise_multiplier=self.plan.noise_multiplier,
            sample_rate=self.plan.sample_rate,
            steps=self.state.steps,
        )
        return overspent

    def _finish(self, status: str, error: str | None, spent_eps: float | None, spent_delta: float | None) -> None:
        if self._run_store is None or self.run_id is None:
            return
        from workbench.core.dp.runs import downsample_metrics

        self._run_store.finish(
            self.run_id,
            status,
            steps=self.state.steps,
            epsilon=spent_eps,
            delta=spent_delta,
            metrics={
                **(downsample_metrics(self._metrics.snapshot()) if self._metrics is not None else {}),
                "val_accuracy_final": self.state.val_accuracy,
                "majority_baseline": self._majority,
                "samples_per_second": self.state.samples_per_second,
            },
            model_path=self.state.model_path,
            error=error,
        )
