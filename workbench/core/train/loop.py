"""The training loop as a job generator: DP-SGD with Opacus (or the same recipe without DP), cancellable at any
step, yielding immutable progress snapshots.

Order of events in :func:`train` (a thin driver of :class:`~workbench.core.train.run.TrainingRun`):

1. prepare tensors and a seeded train/validation split; plan the run (noise multiplier, sample rate, steps) with
   the same search Opacus's ``make_private_with_epsilon`` uses (:mod:`.plan`);
2. refuse what would silently break the guarantee: a non-Poisson sampler, a layer Opacus cannot handle (named,
   with the fix), a delta not below 1/n (:mod:`.checks`);
3. record the run (``running``) and reserve its target epsilon in the ledger before the first step
   (:class:`~workbench.core.train.record.RecordedRun`, entered);
4. train; after every optimizer step the epsilon for the steps actually taken is computed here, in the worker
   (Opacus's accountants are not thread-safe), and published to :class:`~workbench.core.dp.runs.RunMetrics`;
5. however it ends (success, cancel, error, generator closed), commit the epsilon actually spent to the ledger
   (the rest is released) and record the run's status, metrics and model file (the same record, exited).

Where the pieces live: :mod:`.results` (what a run reports), :mod:`.device` (torch threads, device),
:mod:`.checks` (refusals), :mod:`.plan`, :mod:`.record`, :mod:`.run` (the steps), :mod:`.checkpoint` (saving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.jobs import CancelToken, JobGenerator
from workbench.core.train.checkpoint import ModelSink
from workbench.core.train.checks import check_model_for_dp, check_poisson
from workbench.core.train.device import configure_torch_threads, resolve_device
from workbench.core.train.results import TrainProgress, TrainResult
from workbench.core.train.run import TrainingRun
from workbench.core.train.tasks import TrainConfig

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunMetrics, RunStore

__all__ = [
    "ModelSink",
    "TrainProgress",
    "TrainResult",
    "TrainingRun",
    "check_model_for_dp",
    "check_poisson",
    "configure_torch_threads",
    "resolve_device",
    "train_model_job",
]


def train_model_job(
    config: TrainConfig,
    dataset_table: pa.Table,
    token: CancelToken,
    ledger: PrivacyLedger | None = None,
    run_store: RunStore | None = None,
    metrics: RunMetrics | None = None,
    model_sink: ModelSink | None = None,
) -> JobGenerator[TrainResult]:
    """Train one model; yields :class:`Progress` (payload :class:`TrainProgress`), returns :class:`TrainResult`.

    Parameters
    ----------
    config:
        What to train (``config.dataset_fingerprint`` is required with a ledger or run store).
    dataset_table:
        The dataset (``Dataset.table``); not modified.
    token:
        Cancel at any step: the run is recorded as ``cancelled`` with the epsilon it spent, then
        :class:`JobCancelled` propagates.
    ledger, run_store:
        The project's privacy ledger and run records (both optional: a run without them is not recorded).
    metrics:
        Live series for plots; the loop configures it and appends to it.
    model_sink:
        Where the checkpoint goes instead of a file: called with (file name, checkpoint bytes), returns the
        stored location (an encrypted project passes one that writes into its vault).
    """
    run = yield from TrainingRun.prepare(
        config, dataset_table, token, ledger=ledger, run_store=run_store, metrics=metrics, model_sink=model_sink
    )
    return (yield from run.execute())
