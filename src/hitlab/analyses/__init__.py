"""Analyses: one module per question, data in, a plain result out, no file I/O.

- :mod:`hitlab.analyses.eras`: do hit qualities hold across eras (staleness, drivers by era,
  feature drift);
- :mod:`hitlab.analyses.label_quality`: which genre labels are likely wrong, and does removing
  them help.

Each module has ``analyse(tracks, ...) -> Result`` (tables as DataFrames, figures returned
unsaved, headline numbers with CIs, facts for the prose) and ``section(result)``, the report
section dict (the reading comes from the template beside the module).
"""
