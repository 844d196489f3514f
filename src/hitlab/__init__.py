"""hitlab: predict a music track's popularity and genre from its audio features.

The Python API (the ``hitlab`` command is a thin layer over it)::

    import hitlab
    tracks = hitlab.load_tidytuesday()          # or hitlab.read_tracks("file.csv", mapping=...)
    result = hitlab.clean(tracks)               # result.tracks, result.report
    hitlab.load("runs/tidytuesday-playlist").predict(new_tracks)   # a run's saved models
"""

from hitlab.clean import CleaningReport, CleanResult, clean
from hitlab.datasets import fetch, load_tidytuesday, read_artists, read_tracks
from hitlab.errors import HitlabError
from hitlab.predict import Predictor, load

__version__ = "0.1.0"

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
