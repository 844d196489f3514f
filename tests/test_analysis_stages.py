"""The opt-in analysis stages (eras, label quality) through a whole run: files, section, report."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from hitlab.cli import app

runner = CliRunner()


def test_label_quality_and_eras_stages_write_tables_sections_and_report(raw_tidytuesday, tmp_path):
    data = tmp_path / "songs.csv"
    raw_tidytuesday.sample(n=2500, random_state=0).to_csv(data, index=False)
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "runs"), "--name", "a",
                                 "--group-by", "track", "--stages", "label_quality,eras,report"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "a"
    flagged = pd.read_csv(folder / "label_quality" / "flagged.csv")
    assert len(flagged) > 0
    section = json.loads((folder / "label_quality" / "section.json").read_text())
    assert section["title"] == "Label quality" and section["reading"]
    # 2,500 tracks are too few to train on older years: eras says so, and the run completes
    eras = json.loads((folder / "eras" / "section.json").read_text())
    assert eras["skipped"]
    assert "Skipped eras:" in " ".join(result.output.split())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "label_quality/flagged.csv" in manifest["outputs"]
    html = (folder / "report.html").read_text()
    assert "Label quality" in html and "Eras" in html


def test_default_stages_leave_the_analyses_out():
    from hitlab.config import RunConfig

    assert RunConfig().stages == ["eda", "popularity", "genre", "report"]
