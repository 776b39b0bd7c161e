"""One training run as an object, in the shape of Opacus's tutorials: prepare the data and the model, make them
private (a new :class:`~opacus.PrivacyEngine` per run), then epochs of steps under a ``BatchMemoryManager``, an
evaluation after each epoch, and a checkpoint at the end, all inside a :class:`RecordedRun`.

:meth:`TrainingRun.prepare` does everything that can refuse the run before anything is recorded;
:meth:`TrainingRun.execute` records, trains and reports. Both are job generators (see :func:`~.loop.train_model_job`).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from workbench.core.dp.accountant import check_accountant
from workbench.core.errors import WorkbenchError
from workbench.core.heavy_imports import preload_training_stack
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle
from workbench.core.train.advice import learning_rate_for
from workbench.core.train.checkpoint import ModelSink, save_checkpoint
from workbench.core.train.checks import check_config, check_model_for_dp, check_poisson, count_parameters
from workbench.core.train.device import configure_torch_threads, resolve_device
from workbench.core.train.plan import TrainingPlan, plan_run
from workbench.core.train.record import RecordedRun, RunState
from workbench.core.train.results import TrainProgress, TrainResult
from workbench.core.train.tasks import ModelBundle, PreparedData, Task, TrainConfig, TrainConfigError, get_task

if TYPE_CHECKING:
    import pyarrow as pa
    import torch
    from torch import nn

    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunMetrics, RunStore

# Known, understood warnings that would otherwise reach users on every run: secure_mode needs torchcsprng, which
# cannot be installed here (the caveat is documented); frozen-input hooks and the alpha-range hint are harmless.
for _message in ("Secure RNG turned off", "Full backward hook is firing", "Optimal order is the largest alpha"):
    warnings.filterwarnings("ignore", message=_message)


class TrainingRun:
    """A prepared run: the data, the plan and the model, ready to train (make one with :meth:`prepare`)."""

    def __init__(
        self,
        config: TrainConfig,
        table: pa.Table,
        token: CancelToken,
        *,
        device: str,
        plan: TrainingPlan,
        data: PreparedData,
        bundle: ModelBundle,
        model: nn.Module,
        started: float,
        ledger: PrivacyLedger | None = None,
        run_store: RunStore | None = None,
        metrics: RunMetrics | None = None,
        model_sink: ModelSink | None = None,
    ) -> None:
        self.config, self.table, self.token = config, table, token
        self.device, self.plan, self.data, self.bundle = device, plan, data, bundle
        self.started = started
        self.ledger, self.run_store, self.metrics, self.model_sink = ledger, run_store, metrics, model_sink
        self.trainable_parameters, self.total_parameters = count_parameters(model)
        self.majority_baseline = _majority(data)
        self.columns_used = _columns_used(config, data)
        self.learning_rate = _learning_rate(config, bundle, plan.private)
        self.state = RunState()
        self.run_id: int | None = None
        # Set by _set_up_training; Opacus replaces all three with its private wrappers.
        self.model: nn.Module = model
        self.optimizer: Any = None
        self.loader: Any = None
        self.criterion: Any = None
        self._throttle = Throttle(0.1)
        self._eps_throttle = Throttle(0.0 if plan.accountant == "rdp" else 1.0)

    # ---- before anything is recorded ---------------------------------------------------------------------------

    @classmethod
    def prepare(
        cls,
        config: TrainConfig,
        table: pa.Table,
        token: CancelToken,
        *,
        ledger: PrivacyLedger | None = None,
        run_store: RunStore | None = None,
        metrics: RunMetrics | None = None,
        model_sink: ModelSink | None = None,
    ) -> Generator[Progress, None, TrainingRun]:
        """Check the configuration, prepare the data, plan the run and build the model; every refusal
        (:class:`TrainConfigError`) comes from here, before the run is recorded."""
        yield Progress("preparing", message="preparing data")
        started = time.monotonic()
        configure_torch_threads()
        task = get_task(config.task)
        preload_training_stack(task.name)  # one thread at a time: see workbench.core.heavy_imports
        device = resolve_device(config.device)
        accountant = check_accountant(config.accountant) if config.private else None
        check_config(config, has_ledger=ledger is not None, has_run_store=run_store is not None)
        data = task.prepare(config, table)
        token.raise_if_cancelled()
        plan = yield from plan_run(config, data.train_rows, accountant)
        bundle, model = _build_model(task, config, data, device, plan.private)
        return cls(
            config,
            table,
            token,
            device=device,
            plan=plan,
            data=data,
            bundle=bundle,
            model=model,
            started=started,
            ledger=ledger,
            run_store=run_store,
            metrics=metrics,
            model_sink=model_sink,
        )

    # ---- the run -----------------------------------------------------------------------------------------------

    def execute(self) -> JobGenerator[TrainResult]:
        """Record the run, train, save the model; the record is finished however this ends."""
        with self._record() as record:
            self.run_id = record.run_id
            yield from self._train()
            self.state.model_path = save_checkpoint(
                self.config, self.bundle, self.model, self.data, self.run_id, self.run_store, self.model_sink
            )
        return self._result(record)

    def _record(self) -> RecordedRun:
        return RecordedRun(
            self.config,
            self.plan,
            self.state,
            table=self.table,
            columns_used=self.columns_used,
            majority_baseline=self.majority_baseline,
            ledger=self.ledger,
            run_store=self.run_store,
            metrics=self.metrics,
        )

    def _train(self) -> Generator[Progress, None, None]:
        self._set_up_training()
        for epoch in range(1, self.config.epochs + 1):
            with self._physical_batches() as batches:
                yield from self._epoch(epoch, batches)
            self.token.raise_if_cancelled()
            yield self._evaluate(epoch)

    def _set_up_training(self) -> None:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        generator = torch.Generator().manual_seed(self.config.seed)
        dataset = TensorDataset(*self.data.train)
        self.loader = DataLoader(dataset, batch_size=self.config.batch_size, shuffle=True, generator=generator)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=0.0)
        self.criterion = torch.nn.CrossEntropyLoss()
        if self.plan.private:
            self._make_private()

    def _make_private(self) -> None:
        import torch
        from opacus import PrivacyEngine

        config = self.config
        engine = PrivacyEngine(accountant=self.plan.accountant)  # a new engine per run: re-wrapping adds hooks twice
        self.state.engine = engine
        self.model, self.optimizer, self.loader = engine.make_private_with_epsilon(
            module=self.model,
            optimizer=self.optimizer,
            data_loader=self.loader,
            target_epsilon=float(config.target_epsilon),
            target_delta=self.plan.delta,
            epochs=config.epochs,
            max_grad_norm=config.max_grad_norm,
            poisson_sampling=True,
            noise_generator=torch.Generator(device=self.device).manual_seed(config.seed + 1),
        )
        check_poisson(self.loader)
        if not math.isclose(self.optimizer.noise_multiplier, self.plan.noise_multiplier or 0.0, rel_tol=1e-9):
            raise WorkbenchError("internal: Opacus chose a different noise multiplier than the plan")

    def _physical_batches(self) -> contextlib.AbstractContextManager[Iterable[Any]]:
        """This epoch's batches: under DP with fewer rows in memory than the batch, Opacus's BatchMemoryManager
        splits each logical (Poisson) batch into physical sub-batches, and the optimizer only clips and accumulates
        until the last one (see :meth:`_step`)."""
        physical = self.config.max_physical_batch_size
        if self.plan.private and physical and physical < self.config.batch_size:
            from opacus.utils.batch_memory_manager import BatchMemoryManager

            manager: contextlib.AbstractContextManager[Iterable[Any]] = BatchMemoryManager(
                data_loader=self.loader, max_physical_batch_size=physical, optimizer=self.optimizer
            )
            return manager
        return contextlib.nullcontext(self.loader)

    def _epoch(self, epoch: int, batches: Iterable[Any]) -> Generator[Progress, None, None]:
        for batch in batches:
            self.token.raise_if_cancelled()
            if self.plan.private and self.state.steps >= self.plan.total_steps:
                break  # never step beyond the plan: the reservation covers exactly total_steps
            loss = self._step(batch)
            if loss is None:
                continue  # a physical sub-batch: the logical step is not finished
            state = self.state
            if self.metrics is not None:
                epsilon = state.epsilon_now if self.plan.private else 0.0
                self.metrics.append_step(state.steps, loss, epsilon, state.samples_per_second)
            if self._throttle.ready():
                yield self._progress(epoch, "training", loss)

    def _step(self, batch: tuple[torch.Tensor, ...]) -> float | None:
        """One physical batch: forward, backward, ``optimizer.step()``. Returns the loss when this finished a
        logical step, ``None`` for a physical sub-batch whose clipped gradients wait for the rest of its batch."""
        import torch

        t0 = time.perf_counter()
        batch = tuple(t.to(self.device) for t in batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._forward_backward(batch)
        accounted_before = self.state.accounted_steps()
        self.optimizer.step()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.state.train_seconds += time.perf_counter() - t0
        self.state.samples += int(batch[-1].shape[0])
        if not self.plan.private:
            self.state.steps += 1
        elif not self._accounted_a_step(accounted_before):
            return None
        return float(loss.detach().item())

    def _accounted_a_step(self, before: int | None) -> bool:
        """Whether the last ``optimizer.step()`` took a logical DP step, and if so, the new step count and epsilon.

        Opacus's accountant counts a step exactly when the optimizer adds noise and updates the weights (its step
        hook); after a physical sub-batch, which is only clipped and accumulated, its count has not moved. So the
        count itself tells, without Opacus's private skip flag. Read in the worker thread only: the accountant is
        not thread-safe, which is also why epsilon is computed here and published through RunMetrics.
        """
        steps = self.state.accounted_steps()
        assert steps is not None
        if steps == before:
            return False
        self.state.steps = steps
        if self._eps_throttle.ready() or steps == self.plan.total_steps:
            self.state.epsilon_now = self.plan.epsilon_after(steps)
        return True

    def _forward_backward(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        import torch

        rows = int(batch[-1].shape[0])
        physical = self.config.max_physical_batch_size
        if not self.plan.private and physical and physical < rows:
            # The non-private twin of BatchMemoryManager: accumulate the batch's gradient in pieces.
            loss_sum = 0.0
            for start in range(0, rows, physical):
                part = tuple(t[start : start + physical] for t in batch)
                part_loss = self.criterion(self.bundle.forward(self.model, part[:-1]), part[-1]) * (
                    part[-1].shape[0] / rows
                )
                part_loss.backward()
                loss_sum += float(part_loss.detach().item())
            return torch.tensor(loss_sum)
        loss: torch.Tensor = self.criterion(self.bundle.forward(self.model, batch[:-1]), batch[-1])
        loss.backward()
        return loss

    def _evaluate(self, epoch: int) -> Progress:
        """Validation accuracy after ``epoch``; returns the epoch's progress."""
        self.state.val_accuracy = _accuracy(self.bundle, self.model, self.data, self.device)
        self.state.epochs_done = epoch
        if self.metrics is not None:
            self.metrics.append_epoch(epoch, self.state.val_accuracy)
        return self._progress(epoch, "epoch", None)

    # ---- reports -----------------------------------------------------------------------------------------------

    def _progress(self, epoch: int, phase: str, loss: float | None) -> Progress:
        state, plan, epochs = self.state, self.plan, self.config.epochs
        if phase == "epoch":
            message = f"epoch {epoch}/{epochs} done, validation accuracy {state.val_accuracy:.3f}"
        else:
            message = f"epoch {epoch}/{epochs}, step {state.steps}/{plan.total_steps}"
        payload = TrainProgress(
            self.run_id,
            phase,
            epoch,
            epochs,
            state.steps,
            plan.total_steps,
            loss,
            state.epsilon_now if plan.private else None,
            plan.target_epsilon,
            plan.delta,
            plan.accountant,
            state.samples_per_second,
            state.val_accuracy,
        )
        return Progress(
            "training", done=state.steps, total=plan.total_steps, unit="steps", message=message, payload=payload
        )

    def _result(self, record: RecordedRun) -> TrainResult:
        config, plan, state, data = self.config, self.plan, self.state, self.data
        return TrainResult(
            run_id=record.run_id,
            status=record.status,
            private=plan.private,
            task=config.task,
            recipe=self.bundle.recipe,
            epsilon_spent=record.epsilon_spent,
            target_epsilon=plan.target_epsilon,
            delta=plan.delta,
            accountant=plan.accountant,
            noise_multiplier=plan.noise_multiplier,
            sample_rate=plan.sample_rate,
            steps=state.steps,
            epochs_completed=state.epochs_done,
            max_grad_norm=config.max_grad_norm if plan.private else None,
            learning_rate=self.learning_rate,
            val_accuracy=state.val_accuracy,
            majority_baseline=self.majority_baseline,
            samples_per_second=state.samples_per_second,
            train_rows=data.train_rows,
            val_rows=data.val_rows,
            trainable_parameters=self.trainable_parameters,
            total_parameters=self.total_parameters,
            seconds=time.monotonic() - self.started,
            device=self.device,
            model_path=state.model_path,
            classes=data.classes,
            dropped_columns=tuple(data.info.get("dropped_columns", ())),
            columns_used=self.columns_used,
        )


def _build_model(
    task: Task, config: TrainConfig, data: PreparedData, device: str, private: bool
) -> tuple[ModelBundle, nn.Module]:
    """The task's model on ``device``, in training mode; refused if Opacus cannot train it or nothing trains."""
    import torch

    torch.manual_seed(config.seed)
    bundle = task.build_model(config, data)
    model = bundle.model.to(device)
    model.train()
    if private:
        check_model_for_dp(model)
    if count_parameters(model)[0] == 0:
        raise TrainConfigError("the model has no trainable parameters")
    return bundle, model


def _learning_rate(config: TrainConfig, bundle: ModelBundle, private: bool) -> float:
    """The analyst's rate, else the recipe's measured rate (:mod:`.advice`); a task the
    workbench has no measurement for (a registered plug-in) keeps its bundle's rate."""
    if config.learning_rate:
        return float(config.learning_rate)
    try:
        return learning_rate_for(config.task, config.text.recipe, private, config.batch_size)
    except KeyError:
        return bundle.learning_rate(private)


def _accuracy(bundle: ModelBundle, model: nn.Module, data: PreparedData, device: str, batch: int = 256) -> float:
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


def _columns_used(config: TrainConfig, data: PreparedData) -> tuple[str, ...]:
    """The dataset columns the model reads (features, or the text column), as the task prepared them."""
    if "features" in data.info:
        return tuple(str(f["column"]) for f in data.info["features"])
    return (config.text_column,) if config.text_column else ()
