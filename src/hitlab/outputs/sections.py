"""One analysis's files in a run folder, and its report section's record.

:func:`write_analysis` writes a result's tables (``<name>/<table>.csv``), figures
(``figures/<stem>.png``), model (``models/<name>.skops`` with its manifest and checks, when the
analysis saves one), ``<name>/section.json`` and ``<name>/summary.json`` (when the analysis has
a summary). ``section.json`` is the section as plain data::

    {
      "title": "Popularity",
      "template": "popularity.html.j2",
      "reading": ["plain-words sentence", ...],
      "metrics": [{"name": "MAE", "value": 17.1, "ci": [16.9, 17.4], "baseline": 20.6,
                   "better": "lower"}],
      "tables": {"leaderboard": "popularity/leaderboard.csv", ...},
      "figures": {"popularity_leaderboard": "figures/popularity_leaderboard.png", ...},
      "facts": {...},
      "skipped": null
    }

The reading is rendered here from the result's ``facts`` through the analysis's reading
template; the section's HTML is rendered from this record by its own template when the report
is built (:mod:`hitlab.outputs.report`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Undefined,
    select_autoescape,
)

from hitlab.analyses.base import Analysis
from hitlab.analyses.registry import BUILTIN_ANALYSES, by_name
from hitlab.modeling.persist import jsonable
from hitlab.outputs.files import save_figure, write_json, write_table
from hitlab.outputs.models import save_task_model

__all__ = [
    "SECTION_FILE",
    "SUMMARY_FILE",
    "environment",
    "reading",
    "template_dirs",
    "write_analysis",
    "write_result",
]

SECTION_FILE = "section.json"
SUMMARY_FILE = "summary.json"


def _pct0(value: Any) -> str:
    value = float(value)
    return f"{value * 100:.0f}%" if value == value and abs(value) != float("inf") else "n/a"


@cache
def environment(dirs: tuple[str, ...] = (), text: bool = False) -> Environment:
    """The Jinja2 environment of the report: ``dirs`` (searched first), then hitlab's templates.

    HTML (default): autoescape on. ``text=True``: for the readings, no escaping (the report escapes
    them when it renders the HTML) and an undefined name is an error.

    Filters for the prose: ``pct`` (``12.3%``), ``pct0`` (``12%``, ``n/a`` when not finite),
    ``pts`` (a share in points, ``12.3``), ``num(d=2)`` and ``count`` (``1,234``).
    """
    loaders = [FileSystemLoader(d) for d in dirs] + [PackageLoader("hitlab.outputs", "templates")]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=False if text else select_autoescape(["html", "j2"]),
        undefined=StrictUndefined if text else Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: f"{100 * float(v):.1f}%"
    env.filters["pct0"] = _pct0
    env.filters["pts"] = lambda v: f"{100 * float(v):.1f}"
    env.filters["num"] = lambda v, d=2: f"{float(v):.{d}f}"
    env.filters["count"] = lambda v: f"{int(v):,}"
    return env


def _template_name(template: str | Path) -> str:
    return template.name if isinstance(template, Path) else template


def template_dirs(analyses: Iterable[Analysis]) -> tuple[str, ...]:
    """The folders of the analyses' own template files (those given as a path)."""
    dirs = []
    for analysis in analyses:
        for template in (analysis.template, analysis.reading):
            if isinstance(template, Path):
                dirs.append(str(template.resolve().parent))
    return tuple(dict.fromkeys(dirs))


def reading(template: str | Path, facts: dict[str, Any], dirs: tuple[str, ...] = ()) -> list[str]:
    """The plain-words reading: ``template`` rendered from ``facts`` as text, one sentence (or
    paragraph) per non-empty line (the report escapes it when it renders the HTML)."""
    if isinstance(template, Path):
        dirs = (str(template.resolve().parent), *dirs)
    text = environment(dirs, text=True).get_template(_template_name(template)).render(**facts)
    return [line.strip() for line in text.splitlines() if line.strip()]


def _facts(result: Any) -> dict[str, Any]:
    facts = getattr(result, "facts", None)
    return dict(facts() if callable(facts) else facts or {})


def write_analysis(folder: Path, analysis: Analysis, result: Any) -> dict[str, Any]:
    """Write one analysis's files into a run folder and return its summary.

    The summary is the analysis's ``summary(result)`` (also written as ``<name>/summary.json``)
    or ``{"skipped": ...}``, with ``files``: the tables, figures and model written.
    """
    name = analysis.name
    (folder / name).mkdir(parents=True, exist_ok=True)
    skipped = getattr(result, "skipped", None)
    tables: dict[str, str] = {}
    for table_name, table in result.tables().items():
        written = write_table(table, folder / name / f"{table_name}.csv")
        tables[table_name] = written.relative_to(folder).as_posix()
    figures: dict[str, str] = {}
    for stem, fig in result.figures().items():
        figures[stem] = save_figure(fig, folder / "figures" / f"{stem}.png").relative_to(folder).as_posix()
    files: dict[str, Any] = {"tables": sorted(tables.values()), "figures": figures}
    model = analysis.model(result) if analysis.model is not None else None
    if model is not None:
        saved = save_task_model(model.fit, folder / "models" / f"{name}.skops", model.extras)
        files["model"] = saved.relative_to(folder).as_posix()
        for kind in ("test_predictions", "reload_check"):
            files[kind] = saved.with_name(f"{saved.stem}_{kind}.csv").relative_to(folder).as_posix()
    facts = {} if skipped else _facts(result)
    headline = getattr(result, "headline_metrics", None)
    section = {
        "title": analysis.title,
        "template": _template_name(analysis.template),
        "reading": reading(analysis.reading, facts, template_dirs([analysis]))
        if analysis.reading is not None and not skipped else [],
        "metrics": headline() if headline is not None and not skipped else [],
        "tables": tables,
        "figures": figures,
        "facts": jsonable(facts),
        "skipped": skipped,
    }
    write_json(section, folder / name / SECTION_FILE)
    if analysis.summary is None:
        return {"files": files, "skipped": skipped}
    summary = analysis.summary(result)
    summary["files"] = files
    write_json(summary, folder / name / SUMMARY_FILE)
    return summary


def write_result(result: Any, folder: str | Path, name: str,
                 analyses: tuple[Analysis, ...] = BUILTIN_ANALYSES) -> dict[str, Any]:
    """Write the result of the analysis called ``name`` (a built-in one by default) into
    ``folder`` as a run would; return its summary. For scripts that call an analysis's ``fit``
    themselves (``benchmarks/``)."""
    return write_analysis(Path(folder), by_name(name, analyses), result)
