"""Report sections of the analyses: the plain-words reading lives in a Jinja2 template beside
the analysis (``templates/<name>.reading.j2``, one sentence per non-empty line), rendered from
the result's facts; :func:`render_section` renders a section dict as an HTML fragment
(``templates/<name>.html.j2``) with autoescape on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["reading", "render_section"]


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("hitlab.analyses", "templates"),
        autoescape=select_autoescape(["html", "j2"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: f"{100 * float(v):.1f}%"
    env.filters["pts"] = lambda v: f"{100 * float(v):.1f}"
    env.filters["num"] = lambda v, d=2: f"{float(v):.{d}f}"
    env.filters["count"] = lambda v: f"{int(v):,}"
    return env


def reading(name: str, facts: dict[str, Any]) -> list[str]:
    """The plain-words reading of analysis ``name``: one sentence (or paragraph) per non-empty line.

    Rendered as text (no escaping here): the report escapes it when it renders the HTML.
    """
    text = _environment(False).get_template(f"{name}.reading.j2").render(**facts)
    return [line.strip() for line in text.splitlines() if line.strip()]


def render_section(name: str, section: dict[str, Any], tables: dict[str, Any] | None = None,
                   figures: dict[str, str] | None = None) -> str:
    """An HTML fragment of one section (autoescaped): ``tables`` maps a block's csv path to
    ``{"columns": [...], "rows": [[...], ...]}``, ``figures`` a block's file to an image src."""
    template = _environment(True).get_template(f"{name}.html.j2")
    return template.render(section=section, tables=tables or {}, figures=figures or {})
