"""Data sources: the built-in dataset, file import with column mappings, and fetch."""

from hitlab.datasets.builtin import load_tidytuesday
from hitlab.datasets.fetch import DATASETS, data_home, fetch
from hitlab.datasets.importer import Mapping, list_presets, load_mapping, read_artists, read_tracks

__all__ = [
    "DATASETS",
    "Mapping",
    "data_home",
    "fetch",
    "list_presets",
    "load_mapping",
    "load_tidytuesday",
    "read_artists",
    "read_tracks",
]
