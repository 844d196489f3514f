"""Model files of a run folder: the skops file and its manifest (through
:func:`hitlab.modeling.persist.save_model`), and the two prediction checks beside them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hitlab.modeling import TaskResult
from hitlab.modeling.persist import jsonable, manifest_path, save_model

__all__ = ["save_task_model"]


def save_task_model(fit: TaskResult, path: str | Path, extras: Mapping[str, Any] | None = None) -> Path:
    """Save a task's final model with its manifest (see :mod:`hitlab.modeling.persist`), and two checks.

    Beside ``<name>.skops`` and ``<name>.json`` (the manifest, plus ``extras``):

    - ``<name>_test_predictions.csv``: :meth:`~hitlab.modeling.TaskResult.held_out_predictions`,
      what the test metrics were computed from;
    - ``<name>_reload_check.csv``: :meth:`~hitlab.modeling.TaskResult.final_predictions`, what the
      saved model predicts for the same tracks, so a reloaded model can be checked against the run.

    Returns the model file's path.
    """
    saved = save_model(fit.final, path, fit.manifest())
    if extras:
        side = manifest_path(saved)
        manifest = json.loads(side.read_text("utf-8"))
        manifest.update(extras)
        side.write_text(json.dumps(manifest, indent=2, default=jsonable) + "\n", "utf-8")
    fit.held_out_predictions().to_csv(saved.with_name(f"{saved.stem}_test_predictions.csv"), index=False,
                                      float_format="%.10g")
    fit.final_predictions().to_csv(saved.with_name(f"{saved.stem}_reload_check.csv"), index=False,
                                   float_format="%.10g")
    return saved
