"""Training in a project, and the models it leaves: one job for the Train page and ``workbench train``.

The use case decides what the core loop cannot: which columns a model may use (:func:`excluded_columns`), where the
checkpoint goes (into the vault of an encrypted project, from memory, never in clear; else ``data/models/``), and
that the run is recorded against the dataset's privacy budget. Loading a checkpoint for evaluation or export
decrypts it into memory; exporting it in clear from an encrypted project needs ``in_clear=True`` and is audited.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.errors import ProjectError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.services.datasets import IN_CLEAR_REFUSAL
from workbench.services.session import ProjectSession

if TYPE_CHECKING:
    from workbench.core.dp.accountant import PrivacyPlan
    from workbench.core.dp.runs import RunMetrics
    from workbench.core.train.advice import TrainingAdvice
    from workbench.core.train.loop import TrainResult
    from workbench.core.train.tasks import TrainConfig

NEVER_BY_DEFAULT = (ColumnRole.DIRECT_IDENTIFIER, ColumnRole.FREE_TEXT)
"""Roles whose columns a model does not use unless the analyst includes them by name."""


def excluded_columns(
    roles: Mapping[str, ColumnRole | str],
    *,
    label: str,
    text: str | None = None,
    include: Iterable[str] = (),
) -> tuple[str, ...]:
    """The columns a model must not use: direct identifiers and free text, unless included explicitly.

    The label and the text column of a text task are never in the list (the loop treats them apart). The same
    rule for the window and the command; the run records the columns it actually used.
    """
    allowed = {label, *(c for c in (text,) if c), *include}
    out = []
    for column, role in roles.items():
        value = role if isinstance(role, ColumnRole) else ColumnRole.parse(str(role))
        if value in NEVER_BY_DEFAULT and column not in allowed:
            out.append(column)
    return tuple(out)


def dataset_roles(session: ProjectSession | None, ds: Dataset) -> dict[str, ColumnRole]:
    """The roles of ``ds``'s columns: the project's saved roles over the loader's suggestions."""
    roles = ds.suggested_roles()
    if session is not None:
        record = session.project.dataset_by_fingerprint(ds.fingerprint)
        if record is not None:
            roles.update(record.column_roles())
    return roles


def _model_sink(session: ProjectSession) -> Any:
    """Where a checkpoint's bytes go: the vault of an encrypted project, else ``data/models/`` (atomically)."""
    from workbench.core.crypto import stream

    def into_vault(name: str, data: bytes) -> str:
        return session.store_bytes("model", name, data)

    def into_folder(name: str, data: bytes) -> str:
        folder = session.project.data_dir / "models"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        with stream.atomic_output(path, overwrite=True, sensitive=True) as f:  # a model can memorise rows
            f.write(data)
        return str(path)

    return into_vault if session.encrypted else into_folder


def train_job(
    ds: Dataset,
    config: TrainConfig,
    *,
    session: ProjectSession | None = None,
    metrics: RunMetrics | None = None,
    token: CancelToken | None = None,
) -> JobGenerator[TrainResult]:
    """Train on ``ds``; in a project the run is recorded, its epsilon reserved then committed, its model kept."""
    from workbench.core.dp.runs import RunMetrics as Metrics
    from workbench.core.train.loop import train_model_job

    token = token if token is not None else CancelToken()
    config = replace(config, dataset_fingerprint=ds.fingerprint, dataset_name=config.dataset_name or ds.name)
    if session is None:
        return (yield from train_model_job(config, ds.table, token, metrics=metrics or Metrics()))
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunStore

    if session.encrypted:
        session.unlocked_vault()  # refuse before training, not after: the model could not be stored
    ledger = PrivacyLedger(session.project) if config.private else None
    store = RunStore(session.project)
    return (
        yield from train_model_job(
            config, ds.table, token, ledger, store, metrics or Metrics(), model_sink=_model_sink(session)
        )
    )


def plan_training(config: TrainConfig, table: Any, *, choose_batch: bool) -> tuple[TrainingAdvice, PrivacyPlan | None]:
    """Before training, for the Train page and ``workbench train``: the batch and learning rate the run will use
    (chosen for the data when ``choose_batch`` / ``config.learning_rate`` is ``None``), its steps, the reasons it is
    unlikely to beat the majority baseline, and for a private run the privacy plan (noise, ε curve) at that batch.

    Raises :class:`~workbench.core.train.tasks.TrainConfigError` or
    :class:`~workbench.core.dp.accountant.PlanningError` for settings that cannot be planned.
    """
    from workbench.core.dp.accountant import plan_privacy
    from workbench.core.train.advice import advise_run

    advice = advise_run(config, table, batch_size=None if choose_batch else config.batch_size)
    if not config.private:
        return advice, None
    plan = plan_privacy(
        config.target_epsilon, advice.train_rows, advice.batch_size, config.epochs, config.delta, config.accountant
    )
    return advice, plan


def load_checkpoint(session: ProjectSession, run_id: int) -> dict[str, Any]:
    """A run's checkpoint, decrypted into memory when it is in the vault (never written in clear)."""
    import torch

    from workbench.core.dp.runs import RunStore

    run = RunStore(session.project, recover=False).get(run_id)
    if not run.model_path:
        raise ProjectError(f"training run {run_id} kept no model")
    data = session.read_bytes(run.model_path)
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != "privacy-workbench-model/1":
        raise ProjectError(f"the model of run {run_id} is not a Privacy Workbench checkpoint")
    return checkpoint


def export_model_job(
    session: ProjectSession,
    run_id: int,
    out: str | Path,
    *,
    in_clear: bool = False,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[Path]:
    """Write a run's checkpoint to ``out`` (all or nothing); audited. From an encrypted project it needs
    ``in_clear``."""
    from workbench.core.dp.runs import RunStore

    token = token if token is not None else CancelToken()
    target = Path(out).expanduser()
    run = RunStore(session.project, recover=False).get(run_id)
    if not run.model_path:
        raise ProjectError(f"training run {run_id} kept no model")
    if session.encrypted and not in_clear:
        raise ProjectError(IN_CLEAR_REFUSAL.format(what=f"the model of run {run_id}"))
    if target.exists() and not overwrite:
        raise ProjectError(f"{target} already exists; choose another path or allow replacing it")
    yield from session.export_job(run.model_path, target, overwrite=overwrite, token=token)
    session.project.audit(
        "model.exported",
        run_id=int(run_id),
        path=str(target.resolve()),
        in_clear=True,
        private=run.private,
        epsilon=run.epsilon,
    )
    return target
