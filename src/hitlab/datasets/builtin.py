"""The built-in dataset: TidyTuesday 2020-01-21 Spotify songs, shipped inside the package.

32,833 rows (28,356 distinct tracks) collected from Spotify playlists of six genres
(edm, latin, pop, r&b, rap, rock) with the ``spotifyr`` R package. MIT licence,
copyright 2018 R for Data Science online learning community; the values come from
Spotify's Web API. Credit TidyTuesday and the spotifyr authors (Charlie Thompson,
Josiah Parry, Donal Phipps, Tom Wolff). See ``hitlab/datasets/data/ATTRIBUTION.md``.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from hitlab.datasets.importer import apply_mapping, load_mapping
from hitlab.schema import coerce

__all__ = ["TIDYTUESDAY_FILE", "load_tidytuesday"]

TIDYTUESDAY_FILE = "spotify_songs.parquet"
SOURCE = "built-in:tidytuesday-2020"


def load_tidytuesday(raw: bool = False) -> pd.DataFrame:
    """Load the built-in TidyTuesday table.

    Parameters
    ----------
    raw
        True returns the file's own columns (``track_popularity``, ``playlist_genre``, ...);
        False (default) returns the canonical track table, one row per playlist entry
        (cleaning merges repeated tracks).

    >>> tracks = load_tidytuesday()
    >>> len(tracks), tracks["track_id"].nunique()
    (32833, 28356)
    """
    path = resources.files("hitlab.datasets") / "data" / TIDYTUESDAY_FILE
    with resources.as_file(path) as local:
        frame = pd.read_parquet(local)
    if raw:
        return frame
    mapped = apply_mapping(frame, load_mapping("tidytuesday"), source=SOURCE)
    table = coerce(mapped, source=SOURCE)
    table.attrs.update(source=SOURCE, mapping="tidytuesday", derived_ids=False)
    return table
