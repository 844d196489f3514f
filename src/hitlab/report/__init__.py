"""The HTML report: data first (:func:`report_data`, a plain dict), then rendered by Jinja2."""

from hitlab.report.builder import SECTION_FILE, render_report, report_data, write_report

__all__ = ["SECTION_FILE", "render_report", "report_data", "write_report"]
