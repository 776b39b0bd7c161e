"""The training loop as a job generator: DP-SGD with Opacus (or the same recipe without DP), cancellable at any
step, yielding immutable progress snapshots.

Order of events in :func:`train`:

1. prepare tensors and a seeded train/validation split; plan the run (noise multiplier, sample rate, steps) with
   the same search Opacus's ``make_private_with_epsilon`` uses;
2. refuse what would silently break the guarantee: a non-Poisson sampler, a layer Opacus cannot handle (named,
   with the fix), a delta not below 1/n;
3. record the run (``running``) and reserve its target epsilon in the ledger before the first step;
4. train; after every optimizer step the epsilon for the steps actually taken is computed here, in the worker
   (Opacus's accountants are not thread-safe), and published to :class:`~workbench.core.dp.runs.RunMetrics`;
5. however it ends (success, cancel, error, generator closed), commit the epsilon actually spent to the ledger
   (the rest is released) and record the run's status, metrics and model file.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.dp.accountant import (
    check_accountant,
    check_delta,
    default_delta,
    epsilon_for,
    format_epsilon,
    noise_for_epsilon,
    steps_per_epoch,
)
from workbench.core.errors import JobCancelled, WorkbenchError
from workbench.core.heavy_imports import preload_training_stack
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle
from workbench.core.train.tasks import ModelBundle, PreparedData, TrainConfig, TrainConfigError, get_task

if TYPE_CHECKING:
    import pyarrow as pa
    from torch import nn

    from workbench.core.dp.ledger import PrivacyLedger, Reservation
    from workbench.core.dp.runs import RunMetrics, RunStore

ModelSink = Callable[[str, bytes], str]
"""Stores a checkpoint given its file name and bytes; returns where it went."""


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """The payload of every :class:`Progress` the loop yields (``Progress.payload``). Immutable.

    ``epsilon`` is the spend after ``step`` optimizer steps by ``accountant`` at ``delta`` (``None`` when not
    private). ``val_accuracy`` is the last finished epoch's (``None`` before the first).
    """

    run_id: int | None
    phase: str
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float | None
    epsilon: float | None
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    samples_per_second: float
    val_accuracy: float | None


@dataclass(frozen=True, slots=True)
class TrainResult:
    """How a finished run went. ``epsilon_spent`` is the accountant's value for ``steps`` (None: not private)."""

    run_id: int | None
    status: str
    private: bool
    task: str
    recipe: str
    epsilon_spent: float | None
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    noise_multiplier: float | None
    sample_rate: float
    steps: int
    epochs_completed: int
    max_grad_norm: float | None
    learning_rate: float
    val_accuracy: float | None
    majority_baseline: float
    samples_per_second: float
    train_rows: int
    val_rows: int
    trainable_parameters: int
    total_parameters: int
    seconds: float
    device: str
    model_path: str | None
    classes: tuple[str, ...]
    dropped_columns: tuple[str, ...] = ()
    columns_used: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["classes"] = list(self.classes)
        out["dropped_columns"] = list(self.dropped_columns)
        out["columns_used"] = list(self.columns_used)
        out["epsilon_label"] = (
            format_epsilon(self.epsilon_spent, self.delta, self.accountant)
            if self.epsilon_spent is not None and self.delta is not None and self.accountant
            else "not private (no differential privacy guarantee)"
        )
        return out


# Known, understood warnings that would otherwise reach users on every run: secure_mode needs torchcsprng, which
# cannot be installed here (the caveat is documented); frozen-input hooks and the alpha-range hint are harmless.
for _message in ("Secure RNG turned off", "Full backward hook is firing", "Optimal order is the largest alpha"):
    warnings.filterwarnings("ignore", message=_message)

# ---- torch set-up --------------------------------------------------------------------------------------------

_threads_lock = threading.Lock()
_threads_set = False


def configure_torch_threads(threads: int | None = None) -> int:
    """Cap torch's CPU threads once per process (cores - 1, at least 1), so the GUI keeps a core.

    Later calls do nothing and return the value in force (torch's pools cannot be resized safely mid-run).
    """
    global _threads_set
    import torch

    with _threads_lock:
        if not _threads_set:
            try:
                cores = len(os.sched_getaffinity(0))
            except AttributeError:
                cores = os.cpu_count() or 1
            wanted = threads if threads is not None else max(1, cores - 1)
            torch.set_num_threads(max(1, wanted))
            # Fails once torch has started parallel work: its interop pool then stays as it is.
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)
            _threads_set = True
        return int(torch.get_num_threads())


def resolve_device(name: str) -> str:
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainConfigError("device 'cuda' was asked for, but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name != "cpu" and not name.startswith("cuda"):
        raise TrainConfigError(f"unknown device {name!r}; use auto, cpu or cuda")
    return name


# ---- refusals ------------------------------------------------------------------------------------------------


def check_model_for_dp(model: nn.Module) -> None:
    """Refuse a model Opacus cannot train privately, naming each offending layer and the fix."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        lines = "; ".join(str(e) for e in errors[:5])
        raise TrainConfigError(
            f"this model cannot be trained with differential privacy: {lines}. "
            "BatchNorm mixes the rows of a batch, so a row's gradient is not its own: replace it with GroupNorm or "
            "LayerNorm (opacus.validators.ModuleValidator.fix does this), or remove it. Other layers: freeze them "
            "or replace them with ones Opacus supports."
        )


def check_poisson(loader: Any) -> None:
    """Refuse a DP loader that does not sample each row independently (the accountant assumes it)."""
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    if not isinstance(getattr(loader, "batch_sampler", None), UniformWithReplacementSampler):
        raise TrainConfigError(
            "the training data is not drawn by Poisson sampling (each row independently with the sample rate): "
            "the accountant's epsilon would not hold for shuffled fixed-size batches. Use poisson_sampling=True "
            "(the default), or train without DP for a non-private comparison."
        )


# ---- the loop ------------------------------------------------------------------------------------------------


def _count(model: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def _evaluate(bundle: ModelBundle, model: nn.Module, data: PreparedData, device: str, batch: int = 256) -> float:
    import torch

    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        n = data.val_rows
        for start in range(0, n, batch):
            part = tuple(t[start : start + batch].to(device) for t in data.val)
            logits = bundle.forward(model, part[:-1])
            correct += int((logits.argmax(-1) == part[-1]).sum().item())
    model.train(was_training)
    return correct / max(1, data.val_rows)


def _majority(data: PreparedData) -> float:
    import torch

    counts = torch.bincount(data.train[-1], minlength=len(data.classes))
    top = int(counts.argmax().item())
    return float((data.val[-1] == top).double().mean().item())


def _save_model(
    config: TrainConfig,
    bundle: ModelBundle,
    model: nn.Module,
    data: PreparedData,
    run_id: int | None,
    run_store: RunStore | None,
    model_sink: ModelSink | None = None,
) -> str | None:
    import io

    import torch

    if not config.save_model:
        return None
    if model_sink is not None:
        folder = None
    elif config.output_dir:
        folder = Path(config.output_dir)
    elif run_store is not None:
        folder = run_store.project.data_dir / "models"
    else:
        return None
    stem = f"run-{run_id}" if run_id is not None else f"run-{int(time.time())}"
    inner = getattr(model, "_module", model)  # unwrap Opacus's GradSampleModule
    state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
    if config.task == "text":  # the frozen encoder is in its own folder: keep only what training changed
        trainable = {n for n, p in inner.named_parameters() if p.requires_grad}
        state = {k: v for k, v in state.items() if k in trainable}
    checkpoint = {
        "format": "privacy-workbench-model/1",
        "task": config.task,
        "recipe": bundle.recipe,
        "classes": list(data.classes),
        "info": dict(data.info),
        "config": config.as_dict(),
        "state_dict": state,
    }
    if model_sink is not None:
        # An encrypted project: the checkpoint goes from memory straight into the vault, never to disk in clear.
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        return model_sink(f"{stem}.pt", buffer.getvalue())
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.pt"
    torch.save(checkpoint, path)
    return str(path)


def train(
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
    import torch

    yield Progress("preparing", message="preparing data")
    t_start = time.monotonic()
    configure_torch_threads()
    task = get_task(config.task)
    preload_training_stack(task.name)  # one thread at a time: see workbench.core.heavy_imports
    device = resolve_device(config.device)
    private = bool(config.private)
    accountant = check_accountant(config.accountant) if private else None
    if private and not config.poisson_sampling:
        raise TrainConfigError(
            "DP training needs Poisson sampling: with shuffled fixed-size batches the accountant's epsilon does "
            "not hold. Keep poisson_sampling=True, or train without DP for a non-private comparison."
        )
    if config.epochs <= 0 or config.batch_size <= 0:
        raise TrainConfigError("epochs and batch size must be positive")
    if config.max_physical_batch_size is not None and config.max_physical_batch_size <= 0:
        raise TrainConfigError(
            "rows in memory (max_physical_batch_size) must be positive, or unset for the whole batch at once"
        )
    if config.max_grad_norm <= 0:
        raise TrainConfigError("max_grad_norm (the clipping bound) must be positive")
    if (ledger is not None or run_store is not None) and not config.dataset_fingerprint:
        raise TrainConfigError("a recorded run needs the dataset fingerprint (config.dataset_fingerprint)")
    if private and ledger is None and run_store is not None:
        raise TrainConfigError("a recorded private run needs the project's privacy ledger to reserve its budget")
    data = task.prepare(config, dataset_table)
    token.raise_if_cancelled()
    n_train = data.train_rows
    spe = steps_per_epoch(n_train, config.batch_size)
    sample_rate = 1.0 / spe
    total_steps = int(config.epochs / sample_rate)
    delta: float | None = None
    sigma: float | None = None
    if private:
        assert accountant is not None
        delta = config.delta if config.delta is not None else default_delta(n_train)
        try:
            check_delta(delta, n_train)
        except ValueError as exc:
            raise TrainConfigError(str(exc)) from None
        yield Progress("planning", message="choosing the noise multiplier")
        sigma = noise_for_epsilon(
            config.target_epsilon, sample_rate, delta, epochs=config.epochs, accountant=accountant
        )

    torch.manual_seed(config.seed)
    bundle = task.build_model(config, data)
    model = bundle.model.to(device)
    model.train()
    if private:
        check_model_for_dp(model)
    trainable, total_params = _count(model)
    if trainable == 0:
        raise TrainConfigError("the model has no trainable parameters")
    majority = _majority(data)
    target = float(config.target_epsilon) if private else None

    columns_used = _columns_used(config, data)
    run_id: int | None = None
    if run_store is not None:
        run_id = run_store.create(
            fingerprint=config.dataset_fingerprint,
            dataset_name=config.dataset_name,
            task=config.task,
            private=private,
            config={**config.as_dict(), "columns_used": list(columns_used)},
            seed=config.seed,
            target_epsilon=target,
            noise_multiplier=sigma,
            sample_rate=sample_rate,
            delta=delta,
            accountant=accountant,
        )
        from workbench.core.dp.runs import RowSplit
        from workbench.core.train.tasks import split_row_numbers

        split = RowSplit(config.seed, config.val_fraction, *split_row_numbers(config, dataset_table))
        run_store.record_rows(run_id, split)
    reservation: Reservation | None = None
    if private and ledger is not None:
        assert delta is not None
        try:
            reservation = ledger.reserve(config.dataset_fingerprint, float(config.target_epsilon), delta, run_id)
        except WorkbenchError as exc:
            if run_store is not None and run_id is not None:
                run_store.finish(run_id, "failed", steps=0, epsilon=0.0, delta=0.0, error=str(exc))
            raise
    if metrics is not None:
        metrics.configure(
            run_id=run_id, target_epsilon=target, delta=delta, accountant=accountant, total_steps=total_steps
        )

    lr = config.learning_rate or bundle.learning_rate(private)
    steps = 0
    epochs_done = 0
    samples = 0
    train_seconds = 0.0
    val_acc: float | None = None
    status = "failed"
    error: str | None = None
    model_path: str | None = None
    epsilon_now = 0.0
    engine: Any = None
    overspent: str | None = None
    try:
        from torch.utils.data import DataLoader, TensorDataset

        generator = torch.Generator().manual_seed(config.seed)
        dataset = TensorDataset(*data.train)
        loader: Any = DataLoader(dataset, batch_size=config.batch_size, shuffle=True, generator=generator)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer: Any = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        criterion = torch.nn.CrossEntropyLoss()
        if private:
            from opacus import PrivacyEngine

            engine = PrivacyEngine(accountant=accountant)  # a new engine per run: re-wrapping adds hooks twice
            model, optimizer, loader = engine.make_private_with_epsilon(
                module=model,
                optimizer=optimizer,
                data_loader=loader,
                target_epsilon=float(config.target_epsilon),
                target_delta=delta,
                epochs=config.epochs,
                max_grad_norm=config.max_grad_norm,
                poisson_sampling=True,
                noise_generator=torch.Generator(device=device).manual_seed(config.seed + 1),
            )
            check_poisson(loader)
            if not math.isclose(optimizer.noise_multiplier, sigma or 0.0, rel_tol=1e-9):
                raise WorkbenchError("internal: Opacus chose a different noise multiplier than the plan")
        physical = config.max_physical_batch_size
        throttle = Throttle(0.1)
        eps_throttle = Throttle(0.0 if accountant == "rdp" else 1.0)

        for epoch in range(1, config.epochs + 1):
            if private and physical and physical < config.batch_size:
                from opacus.utils.batch_memory_manager import BatchMemoryManager

                manager: Any = BatchMemoryManager(
                    data_loader=loader, max_physical_batch_size=physical, optimizer=optimizer
                )
            else:
                manager = None
            batches = manager.__enter__() if manager is not None else loader
            try:
                for batch in batches:
                    token.raise_if_cancelled()
                    if private and steps >= total_steps:
                        break  # never step beyond the plan: the reservation covers exactly total_steps
                    t0 = time.perf_counter()
                    batch = tuple(t.to(device) for t in batch)
                    optimizer.zero_grad(set_to_none=True)
                    rows = int(batch[-1].shape[0])
                    if not private and physical and physical < rows:
                        # The non-private twin of BatchMemoryManager: accumulate the batch's gradient in pieces.
                        loss_sum = 0.0
                        for start in range(0, rows, physical):
                            part = tuple(t[start : start + physical] for t in batch)
                            part_loss = criterion(bundle.forward(model, part[:-1]), part[-1]) * (
                                part[-1].shape[0] / rows
                            )
                            part_loss.backward()
                            loss_sum += float(part_loss.detach().item())
                        loss = torch.tensor(loss_sum)
                    else:
                        logits = bundle.forward(model, batch[:-1])
                        loss = criterion(logits, batch[-1])
                        loss.backward()
                    optimizer.step()
                    if device.startswith("cuda"):
                        torch.cuda.synchronize()
                    train_seconds += time.perf_counter() - t0
                    samples += int(batch[-1].shape[0])
                    if private:
                        if getattr(optimizer, "_is_last_step_skipped", False):
                            continue  # a physical sub-batch: the logical step is not finished
                        # Read in the worker thread only: the accountant is not thread-safe.
                        steps = int(sum(h[2] for h in engine.accountant.history))
                        if eps_throttle.ready() or steps == total_steps:
                            assert sigma is not None and delta is not None and accountant is not None
                            epsilon_now = epsilon_for(sigma, sample_rate, steps, delta, accountant)
                    else:
                        steps += 1
                    throughput = samples / train_seconds if train_seconds > 0 else 0.0
                    loss_value = float(loss.detach().item())
                    if metrics is not None:
                        metrics.append_step(steps, loss_value, epsilon_now if private else 0.0, throughput)
                    if throttle.ready():
                        yield Progress(
                            "training",
                            done=steps,
                            total=total_steps,
                            unit="steps",
                            message=f"epoch {epoch}/{config.epochs}, step {steps}/{total_steps}",
                            payload=TrainProgress(
                                run_id,
                                "training",
                                epoch,
                                config.epochs,
                                steps,
                                total_steps,
                                loss_value,
                                epsilon_now if private else None,
                                target,
                                delta,
                                accountant,
                                throughput,
                                val_acc,
                            ),
                        )
            finally:
                if manager is not None:
                    manager.__exit__(None, None, None)
            token.raise_if_cancelled()
            val_acc = _evaluate(bundle, model, data, device)
            epochs_done = epoch
            if metrics is not None:
                metrics.append_epoch(epoch, val_acc)
            yield Progress(
                "training",
                done=steps,
                total=total_steps,
                unit="steps",
                message=f"epoch {epoch}/{config.epochs} done, validation accuracy {val_acc:.3f}",
                payload=TrainProgress(
                    run_id,
                    "epoch",
                    epoch,
                    config.epochs,
                    steps,
                    total_steps,
                    None,
                    epsilon_now if private else None,
                    target,
                    delta,
                    accountant,
                    samples / train_seconds if train_seconds else 0.0,
                    val_acc,
                ),
            )
        model_path = _save_model(config, bundle, model, data, run_id, run_store, model_sink)
        status = "succeeded"
    except (JobCancelled, GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    except WorkbenchError as exc:
        error = str(exc)
        raise
    except Exception as exc:
        error = f"{type(exc).__name__} (details in the log)"
        raise
    finally:
        spent_eps: float | None = None
        spent_delta: float | None = None
        if private:
            assert sigma is not None and delta is not None and accountant is not None
            if engine is not None:
                steps = int(sum(h[2] for h in engine.accountant.history))
            spent_eps = epsilon_for(sigma, sample_rate, steps, delta, accountant) if steps else 0.0
            spent_delta = delta if steps else 0.0
        if metrics is not None:
            metrics.mark_finished()
        if ledger is not None and reservation is not None:
            from workbench.core.dp.ledger import overspend_message

            # The loop stops before a step that would exceed the reservation; if the accountant still reports more,
            # the true value is committed (the ledger marks it) and the run ends as an error.
            overspent = overspend_message(reservation, spent_eps or 0.0, spent_delta or 0.0)
            if overspent is not None and status != "cancelled":
                status, error = "failed", overspent
            ledger.commit(
                reservation,
                spent_eps or 0.0,
                spent_delta or 0.0,
                accountant=accountant,
                noise_multiplier=sigma,
                sample_rate=sample_rate,
                steps=steps,
            )
        if run_store is not None and run_id is not None:
            from workbench.core.dp.runs import downsample_metrics

            run_store.finish(
                run_id,
                status,
                steps=steps,
                epsilon=spent_eps,
                delta=spent_delta,
                metrics={
                    **(downsample_metrics(metrics.snapshot()) if metrics is not None else {}),
                    "val_accuracy_final": val_acc,
                    "majority_baseline": majority,
                    "samples_per_second": samples / train_seconds if train_seconds else 0.0,
                },
                model_path=model_path,
                error=error,
            )
        if engine is not None:
            del engine

    if overspent is not None:
        from workbench.core.dp.ledger import LedgerError

        raise LedgerError(f"training run {run_id}: {overspent}; the run is recorded as failed")
    return TrainResult(
        run_id=run_id,
        status=status,
        private=private,
        task=config.task,
        recipe=bundle.recipe,
        epsilon_spent=spent_eps,
        target_epsilon=target,
        delta=delta,
        accountant=accountant,
        noise_multiplier=sigma,
        sample_rate=sample_rate,
        steps=steps,
        epochs_completed=epochs_done,
        max_grad_norm=config.max_grad_norm if private else None,
        learning_rate=lr,
        val_accuracy=val_acc,
        majority_baseline=majority,
        samples_per_second=samples / train_seconds if train_seconds else 0.0,
        train_rows=data.train_rows,
        val_rows=data.val_rows,
        trainable_parameters=trainable,
        total_parameters=total_params,
        seconds=time.monotonic() - t_start,
        device=device,
        model_path=model_path,
        classes=data.classes,
        dropped_columns=tuple(data.info.get("dropped_columns", ())),
        columns_used=columns_used,
    )


def _columns_used(config: TrainConfig, data: PreparedData) -> tuple[str, ...]:
    """The dataset columns the model reads (features, or the text column), as the task prepared them."""
    if "features" in data.info:
        return tuple(str(f["column"]) for f in data.info["features"])
    return (config.text_column,) if config.text_column else ()
