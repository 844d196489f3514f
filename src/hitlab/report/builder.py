"""Build one self-contained HTML report from a run folder.

The report is data first: :func:`report_data` reads the run folder into a plain dict
(tested on its own), then :func:`render_report` renders it with a Jinja2 template with
autoescape on. Figures are embedded as base64 PNG data URIs, styles and the small
table-sorting script are inline, so the file opens without a network.

A modelling stage contributes a section by writing ``<stage>/section.json`` in the run
folder (see :data:`SECTION_FILE`)::

    {
      "title": "Popularity",
      "reading": ["plain-words sentence", ...],
      "metrics": [{"name": "MAE", "value": 17.1, "ci": [16.9, 17.4], "baseline": 20.6,
                   "better": "lower"}],
      "blocks": [
        {"kind": "table", "title": "Leaderboard", "csv": "popularity/leaderboard.csv",
         "note": "...", "max_rows": 50},
        {"kind": "figure", "title": "Predicted vs actual", "file": "figures/pop_pred_vs_actual.png",
         "note": "..."}
      ]
    }

Paths are relative to the run folder.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from hitlab.errors import HitlabError

__all__ = ["SECTION_FILE", "render_report", "report_data", "write_report"]

SECTION_FILE = "section.json"
REPORT_FILE = "report.html"
#: Order of the modelling sections; any other stage folder with a section file follows.
SECTION_ORDER = ("popularity", "genre")


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


def _section(folder: Path, spec: dict[str, Any], key: str) -> dict[str, Any]:
    blocks = []
    for block in spec.get("blocks", []):
        kind = block.get("kind")
        item: dict[str, Any] = {"kind": kind, "title": block.get("title", ""), "note": block.get("note", "")}
        if kind == "table":
            path = folder / block["csv"]
            item["table"] = _table(pd.read_csv(path), block.get("max_rows"))
        elif kind == "figure":
            item["src"] = _image(folder / block["file"])
        else:
            raise HitlabError(f"{folder / key / SECTION_FILE}: unknown block kind {kind!r}")
        blocks.append(item)
    return {
        "key": key,
        "title": spec.get("title", key.title()),
        "reading": list(spec.get("reading", [])),
        "metrics": list(spec.get("metrics", [])),
        "blocks": blocks,
        "skipped": spec.get("skipped"),
    }


def report_data(folder: str | Path) -> dict[str, Any]:
    """Everything the report shows, read from a run folder into a plain dict."""
    folder = Path(folder)
    manifest = _read_json(folder / "manifest.json") if (folder / "manifest.json").exists() else {}
    cleaning = _read_json(folder / "cleaning_report.json")
    labels = _read_json(folder / "labels.json")
    steps = pd.DataFrame(cleaning["steps"])[["step", "action", "rows", "reason"]]
    label_counts = pd.DataFrame([{"genre": g, "tracks": n} for g, n in labels["labels"]["counts"].items()])
    eda_titles = {
        "eda_distributions": "Distribution of every audio feature and of popularity",
        "eda_correlations": "Correlations",
        "eda_popularity_by_genre": "Popularity by genre",
        "eda_popularity_by_year": "Popularity by release year",
    }
    eda = [
        {"kind": "figure", "title": title, "src": _image(folder / "figures" / f"{stem}.png"), "note": ""}
        for stem, title in eda_titles.items()
        if (folder / "figures" / f"{stem}.png").exists()
    ]
    sections = []
    stage_dirs = [folder / name for name in SECTION_ORDER] + sorted(
        p for p in folder.iterdir() if p.is_dir() and p.name not in SECTION_ORDER
    )
    for stage_dir in stage_dirs:
        spec_path = stage_dir / SECTION_FILE
        if spec_path.exists():
            sections.append(_section(folder, _read_json(spec_path), stage_dir.name))
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
        "eda": eda,
        "sections": sections,
        "skipped": skipped,
    }


def render_report(data: dict[str, Any]) -> str:
    """Render the report dict to one HTML string."""
    env = Environment(
        loader=PackageLoader("hitlab.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**data)


def write_report(folder: str | Path) -> Path:
    """Write ``report.html`` into a run folder and return its path."""
    folder = Path(folder)
    path = folder / REPORT_FILE
    path.write_text(render_report(report_data(folder)), encoding="utf-8")
    return path
