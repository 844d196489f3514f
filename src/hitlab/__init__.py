"""hitlab: predict a music track's popularity and genre from its audio features.

The Python API (the ``hitlab`` command is a thin layer over it)::

    import hitlab
    tracks = hitlab.load_tidytuesday()          # or hitlab.read_tracks("file.csv", mapping=...)
    result = hitlab.clean(tracks)               # result.tracks, result.report
    hitlab.load("runs/tidytuesday-playlist").predict(new_tracks)   # a run's saved models

The names below but ``clean`` are imported on first use (``import hitlab`` takes ~1 s of pandas
instead of ~3 s with scikit-learn, so ``hitlab run`` starts its worker process sooner).
``clean`` is imported at once: it is also the name of a submodule, whose import would
otherwise replace the function on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hitlab.clean import CleaningReport, CleanResult, clean

__version__ = "0.1.0"

_LAZY = {
    "fetch": "hitlab.datasets",
    "load_tidytuesday": "hitlab.datasets",
    "read_artists": "hitlab.datasets",
    "read_tracks": "hitlab.datasets",
    "HitlabError": "hitlab.errors",
    "Predictor": "hitlab.predict",
    "load": "hitlab.predict",
}

__all__ = [
    "CleanResult",
    "CleaningReport",
    "HitlabError",
    "Predictor",
    "__version__",
    "clean",
    "fetch",
    "load",
    "load_tidytuesday",
    "read_artists",
    "read_tracks",
]

if TYPE_CHECKING:
    from hitlab.datasets import fetch, load_tidytuesday, read_artists, read_tracks
    from hitlab.errors import HitlabError
    from hitlab.predict import Predictor, load


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hitlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
