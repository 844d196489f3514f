"""The built-in analyses of a run, in order: one :class:`~hitlab.analyses.base.Analysis` each.

:func:`hitlab.pipeline.run` takes this tuple by default; a caller may pass its own (a subset,
another order, or new analyses). Each entry names its module's ``run``, its report section's
template and reading (in :mod:`hitlab.outputs`' templates), and what the outputs layer saves
beyond tables and figures (a model, a ``summary.json``).
"""

from __future__ import annotations

from typing import Any

from hitlab.analyses import eda, eras, genre, label_quality, popularity
from hitlab.analyses.base import Analysis, SavedModelSpec

__all__ = ["BUILTIN_ANALYSES", "by_name"]


def _popularity_model(result: popularity.PopularityResult) -> SavedModelSpec:
    return SavedModelSpec(result.fit)


def _genre_model(result: genre.GenreResult) -> SavedModelSpec:
    return SavedModelSpec(result.fit, result.manifest_extras())


def _summary(result: Any) -> dict[str, Any]:
    return result.summary()


#: The analyses ``hitlab run`` knows, in the order they run (``eras`` and ``label_quality``
#: only when ``--stages`` names them: they add minutes).
BUILTIN_ANALYSES: tuple[Analysis, ...] = (
    Analysis("eda", eda.run, title="Exploratory analysis", template="eda.html.j2"),
    Analysis("popularity", popularity.run, title="Popularity", template="popularity.html.j2",
             reading="popularity.reading.j2", check=popularity.check, skip_on_data_error=True,
             model=_popularity_model, summary=_summary),
    Analysis("genre", genre.run, title="Genre", template="genre.html.j2", reading="genre.reading.j2",
             check=genre.check, skip_on_data_error=True, model=_genre_model, summary=_summary),
    Analysis("eras", eras.run, title="Eras", template="eras.html.j2", reading="eras.reading.j2"),
    Analysis("label_quality", label_quality.run, title="Label quality", template="label_quality.html.j2",
             reading="label_quality.reading.j2"),
)


def by_name(name: str, analyses: tuple[Analysis, ...] = BUILTIN_ANALYSES) -> Analysis:
    """The analysis called ``name`` (KeyError when there is none)."""
    for analysis in analyses:
        if analysis.name == name:
            return analysis
    raise KeyError(name)
