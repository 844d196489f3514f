"""Analyses: one module per question, data in, a plain result out, no file I/O.

- :mod:`hitlab.analyses.eda`: figures of the features and popularity;
- :mod:`hitlab.analyses.popularity`: popularity from audio features (leaderboard, OLS, errors,
  drivers);
- :mod:`hitlab.analyses.genre`: genre from audio features (imbalance strategies, confusion,
  top-k, calibration);
- :mod:`hitlab.analyses.eras`: do hit qualities hold across eras (staleness, drivers by era,
  feature drift);
- :mod:`hitlab.analyses.label_quality`: which genre labels are likely wrong, and does removing
  them help.

Each module has ``run(ctx) -> result`` (see :mod:`hitlab.analyses.base`): tables as DataFrames,
figures returned unsaved, headline numbers with CIs, facts for the prose. The registry of a run
is :data:`hitlab.analyses.registry.BUILTIN_ANALYSES`; :mod:`hitlab.outputs` writes the results and
builds each report section through the analysis's own template.
"""
