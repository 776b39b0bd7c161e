"""Training room: tasks (text, tabular), models, and the DP training loop as a job generator.

Heavy modules (torch, opacus, transformers, peft) are imported inside functions, so importing this package is
cheap. Public API: :class:`TrainConfig`, :class:`TextModelConfig`, :class:`TabularModelConfig`, :func:`train`,
:class:`TrainProgress`, :class:`TrainResult`.
"""

from workbench.core.train.loop import (
    TrainProgress,
    TrainResult,
    check_model_for_dp,
    configure_torch_threads,
    train_model_job,
)
from workbench.core.train.tasks import (
    TabularModelConfig,
    TextModelConfig,
    TrainConfig,
    TrainConfigError,
    get_task,
    register_task,
    task_names,
)

__all__ = [
    "TabularModelConfig",
    "TextModelConfig",
    "TrainConfig",
    "TrainConfigError",
    "TrainProgress",
    "TrainResult",
    "check_model_for_dp",
    "configure_torch_threads",
    "get_task",
    "register_task",
    "task_names",
    "train_model_job",
]
