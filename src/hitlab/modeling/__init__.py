"""The shared modelling mechanism: one train / tune / evaluate / save loop for every task.

- :mod:`~hitlab.modeling.split`: grouped outer split and grouped inner folds (groups come from the caller);
- :mod:`~hitlab.modeling.zoo`: a zoo of estimators (in Pipelines) + search spaces + imbalance strategies,
  an immutable :class:`~hitlab.modeling.zoo.ModelZoo` value (:data:`~hitlab.modeling.zoo.DEFAULT_ZOO`);
- :mod:`~hitlab.modeling.tune`: budgeted, seeded Optuna tuning on the inner folds;
- :mod:`~hitlab.modeling.evaluate`: metrics with bootstrap 95% CIs;
- :mod:`~hitlab.modeling.persist`: skops files with a manifest and sha256;
- :mod:`~hitlab.modeling.task`: :func:`fit_task`, the loop popularity and genre both call.
"""

from hitlab.modeling.evaluate import METRICS, Estimate, bootstrap, class_recall, score
from hitlab.modeling.persist import SavedModel, load_model, save_model
from hitlab.modeling.split import Split, as_groups, inner_folds, outer_split
from hitlab.modeling.task import Candidate, Task, TaskResult, fit_task
from hitlab.modeling.tune import TuneResult, tune
from hitlab.modeling.zoo import (
    DEFAULT_ZOO,
    STRATEGIES,
    ModelSpec,
    ModelZoo,
    Strategy,
    available_models,
    build_pipeline,
    get_model,
)

__all__ = [
    "DEFAULT_ZOO",
    "METRICS",
    "STRATEGIES",
    "Candidate",
    "Estimate",
    "ModelSpec",
    "ModelZoo",
    "SavedModel",
    "Split",
    "Strategy",
    "Task",
    "TaskResult",
    "TuneResult",
    "as_groups",
    "available_models",
    "bootstrap",
    "build_pipeline",
    "class_recall",
    "fit_task",
    "get_model",
    "inner_folds",
    "load_model",
    "outer_split",
    "save_model",
    "score",
    "tune",
]
