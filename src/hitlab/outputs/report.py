"""Build one self-contained HTML report from a run folder.

The report is data first: :func:`report_data` reads the run folder into a plain dict (tested on
its own), then :func:`render_report` renders it with Jinja2, autoescape on. Each analysis's
section is rendered from its ``<name>/section.json`` (see :mod:`hitlab.outputs.sections`) by
its own template (``template`` in the record; a section whose template cannot be found falls
back to ``_generic.html.j2``: every table, then every figure). Figures are embedded as base64
PNG data URIs, styles and the small table-sorting script are inline, so the file opens without
a network.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import TemplateNotFound
from markupsafe import Markup

from hitlab.analyses.base import Analysis
from hitlab.errors import HitlabError
from hitlab.outputs.files import MANIFEST_FILE
from hitlab.outputs.sections import SECTION_FILE, environment, template_dirs

__all__ = ["REPORT_FILE", "render_report", "render_section", "report_data", "write_report"]

REPORT_FILE = "report.html"
#: Order of the built-in sections when the manifest does not list them; any other folder with
#: a section file follows, by name.
SECTION_ORDER = ("eda", "popularity", "genre", "eras", "label_quality")
GENERIC_TEMPLATE = "_generic.html.j2"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 1 or value == 0:
            return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(frame: pd.DataFrame, max_rows: int | None = None) -> dict[str, Any]:
    shown = frame if max_rows is None else frame.head(max_rows)
    rows = []
    for record in shown.itertuples(index=False):
        cells = []
        for value in record:
            text = _cell(value.item() if hasattr(value, "item") else value)
            link = text if text.startswith("https://open.spotify.com/") else None
            sort_key = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            wide = len(text) > 60 and text[:1] in "{["  # parameter dicts: wide small print
            cells.append({"text": text, "link": link, "sort": sort_key, "long": wide})
        rows.append(cells)
    return {
        "columns": [str(c) for c in frame.columns],
        "rows": rows,
        "total_rows": len(frame),
        "sortable": len(frame) > 5,
    }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HitlabError(f"{path}: cannot read ({exc})") from None


def _read_table(path: Path, max_rows: int | None) -> dict[str, Any] | None:
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    return _table(frame, max_rows) if len(frame) else None


def render_section(folder: str | Path, key: str, section: dict[str, Any],
                   dirs: tuple[str, ...] = ()) -> Markup:
    """One section's HTML (autoescaped), rendered from its ``section.json`` record by its template.

    The template gets ``key``, ``section``, ``facts``, ``load_table(name, max_rows)`` (a table
    of the section, read from its CSV, or None when absent or empty) and ``image(stem)`` (a
    figure as a data URI, or None).
    """
    folder = Path(folder)
    env = environment(tuple(dirs))
    try:
        template = env.get_template(section.get("template") or GENERIC_TEMPLATE)
    except TemplateNotFound:
        template = env.get_template(GENERIC_TEMPLATE)
    tables = section.get("tables", {})
    figures = section.get("figures", {})

    def load_table(name: str, max_rows: int | None = None) -> dict[str, Any] | None:
        return _read_table(folder / tables[name], max_rows) if name in tables else None

    def image(stem: str) -> str | None:
        return _image(folder / figures[stem]) if stem in figures else None

    html = template.render(key=key, section=section, facts=section.get("facts", {}), load_table=load_table,
                           image=image)
    return Markup(html)


def _section_keys(folder: Path, manifest: dict[str, Any]) -> list[str]:
    present = {p.parent.name for p in folder.glob(f"*/{SECTION_FILE}")}
    listed = [k for k in manifest.get("sections", SECTION_ORDER) if k in present]
    return listed + sorted(present - set(listed))


def report_data(folder: str | Path, dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything the report shows, read from a run folder into a plain dict.

    ``dirs``: folders of section templates beyond hitlab's own (searched first).
    """
    folder = Path(folder)
    manifest = _read_json(folder / MANIFEST_FILE) if (folder / MANIFEST_FILE).exists() else {}
    cleaning = _read_json(folder / "cleaning_report.json")
    labels = _read_json(folder / "labels.json")
    steps = pd.DataFrame(cleaning["steps"])[["step", "action", "rows", "reason"]]
    label_counts = pd.DataFrame([{"genre": g, "tracks": n} for g, n in labels["labels"]["counts"].items()])
    sections = []
    for key in _section_keys(folder, manifest):
        spec = _read_json(folder / key / SECTION_FILE)
        sections.append({
            "key": key,
            "title": spec.get("title", key.title()),
            "reading": list(spec.get("reading", [])),
            "metrics": list(spec.get("metrics", [])),
            "tables": list(spec.get("tables", {})),
            "figures": list(spec.get("figures", {})),
            "skipped": spec.get("skipped"),
            "html": render_section(folder, key, spec, dirs),
        })
    skipped = manifest.get("skipped", {})
    lab = labels["labels"]
    reading = [
        f"{cleaning['rows_in']:,} rows came in; {cleaning['rows_out']:,} tracks remain after cleaning "
        f"({cleaning['rows_removed']:,} rows merged or dropped, each counted below).",
        f"Genre labels ({lab['scheme']}): {len(lab['counts'])} genres; "
        f"{lab['unlabelled']:,} tracks without a label"
        + (f"; {lab['multi_label']:,} tracks carry several labels" if lab.get("multi_label") else "")
        + (f"; {lab['ties']:,} main genres decided by the tie rule" if lab.get("ties") else "")
        + ".",
    ]
    if "artist_tags" in labels:
        tags = labels["artist_tags"]
        matched = tags["by_id"] + tags["by_name"] + tags["by_name_part"]
        reading.append(f"Artist tags: {matched:,} of {tags['tracks']:,} tracks matched an artist.")
    return {
        "title": f"hitlab report: {manifest.get('run', folder.name)}",
        "run": manifest.get("run", folder.name),
        "inputs": manifest.get("inputs", {}),
        "seed": manifest.get("seed"),
        "versions": manifest.get("versions", {}),
        "timings": manifest.get("timings_s", {}),
        "data": {
            "reading": reading,
            "cleaning": _table(steps),
            "labels": _table(label_counts),
        },
        "sections": sections,
        "skipped": skipped,
    }


def render_report(data: dict[str, Any]) -> str:
    """Render the report dict to one HTML string."""
    return environment().get_template("report.html.j2").render(**data)


def write_report(folder: str | Path, analyses: tuple[Analysis, ...] = ()) -> Path:
    """Write ``report.html`` into a run folder and return its path.

    ``analyses``: the run's analyses, so that sections whose template is a file of their own
    find it (hitlab's own templates are always found).
    """
    folder = Path(folder)
    path = folder / REPORT_FILE
    path.write_text(render_report(report_data(folder, template_dirs(analyses))), encoding="utf-8")
    return path
