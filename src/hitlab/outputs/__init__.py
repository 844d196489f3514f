"""The outputs layer: the only writer of a run folder.

:func:`hitlab.pipeline.run` hands it each stage's data and each analysis's result:

- :mod:`hitlab.outputs.files`: the data stages' reports, ``tracks.parquet``, tables (CSV),
  figures (PNG) and ``manifest.json``;
- :mod:`hitlab.outputs.models`: model files (skops + manifest, through
  :mod:`hitlab.modeling.persist`) and their prediction checks;
- :mod:`hitlab.outputs.sections`: one analysis's files and its ``section.json``, the reading
  rendered from the result's facts by the analysis's reading template;
- :mod:`hitlab.outputs.report`: ``report.html``, each section rendered by its own template
  (``templates/<name>.html.j2``).
"""

from hitlab.outputs.files import (
    save_figure,
    write_cleaning_report,
    write_json,
    write_labels,
    write_manifest,
    write_table,
    write_tracks,
)
from hitlab.outputs.models import save_task_model
from hitlab.outputs.report import REPORT_FILE, render_report, render_section, report_data, write_report
from hitlab.outputs.sections import SECTION_FILE, SUMMARY_FILE, reading, write_analysis, write_result

__all__ = [
    "REPORT_FILE",
    "SECTION_FILE",
    "SUMMARY_FILE",
    "reading",
    "render_report",
    "render_section",
    "report_data",
    "save_figure",
    "save_task_model",
    "write_analysis",
    "write_cleaning_report",
    "write_json",
    "write_labels",
    "write_manifest",
    "write_report",
    "write_result",
    "write_table",
    "write_tracks",
]
