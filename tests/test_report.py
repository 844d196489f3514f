"""The HTML report: its data dict, and the rendered file in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from hitlab.config import RunConfig
from hitlab.outputs import report_data
from hitlab.pipeline import run

CHROMIUM = os.environ.get("HITLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def eda_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    return run(RunConfig(out=str(out), stages=["eda", "report"])).folder


def test_report_data_holds_every_part(eda_run):
    data = report_data(eda_run)
    steps = [row[0]["text"] for row in data["data"]["cleaning"]["rows"]]
    assert steps[:2] == ["exact duplicates", "same track, several rows"]
    assert {row[0]["text"] for row in data["data"]["labels"]["rows"]} == {
        "edm",
        "latin",
        "pop",
        "r&b",
        "rap",
        "rock",
    }
    eda = next(s for s in data["sections"] if s["key"] == "eda")
    assert eda["title"] == "Exploratory analysis" and len(eda["figures"]) == 4
    assert str(eda["html"]).count('src="data:image/png;base64,') == 4
    assert "28,354 tracks remain" in data["data"]["reading"][0]


def test_report_html_is_self_contained(eda_run):
    html = (eda_run / "report.html").read_text()
    # nothing to fetch: every src is inline; links out only as anchors (Spotify track pages)
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//(?!open\.spotify\.com/)""", html)
    assert "<script src" not in html and "<link" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_report_in_headless_chromium(eda_run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for width, height in ((1280, 900), (390, 844)):  # a laptop and a phone
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("request", lambda r: requests.append(r.url))
            page.goto((eda_run / "report.html").as_uri())
            page.wait_for_load_state("load")
            headings = [h.inner_text() for h in page.query_selector_all("section > h2")]
            assert headings[:2] == ["Data and cleaning", "Exploratory analysis"]
            expected = [p.parent.name for p in eda_run.glob("*/section.json")]
            assert len(headings) == 1 + len(expected)  # data and cleaning, then one per section
            images = page.query_selector_all("img")
            assert images and all(img.evaluate("i => i.complete && i.naturalWidth > 0") for img in images)
            # nothing wider than the screen but the scrollable table boxes
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1
            page.screenshot(path=str(tmp_path / f"report-{width}.png"))
        # sorting a table works: click the 'tracks' header of the labels table
        page = browser.new_page()
        page.goto((eda_run / "report.html").as_uri())
        # the labels table (genre, tracks); the cleaning table may come first now that it is long
        table = next(
            t for t in page.query_selector_all("table.sortable")
            if t.query_selector_all("th")[1].inner_text().strip().startswith("tracks")
        )
        table.query_selector_all("th")[1].click()
        counts = [
            int(td.inner_text().replace(",", ""))
            for td in table.query_selector_all("tbody tr td:nth-child(2)")
        ]
        assert counts == sorted(counts)
        browser.close()
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert (tmp_path / "report-390.png").stat().st_size > 10_000


def test_a_figure_is_drawn_once_when_saved(tmp_path, monkeypatch):
    """Saving drew every figure twice (the layout engine tight_layout leaves behind asks for a
    layout pass first): a third to a half of a run's figure time. The file must not change."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from hitlab.outputs.files import save_figure

    def figure():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.bar(["pop", "rock", "rap"], [3, 1, 2])
        ax.set_title("tracks per genre")
        fig.tight_layout()
        return fig

    draws = []
    real_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(1) or real_draw(self, renderer))
    save_figure(figure(), tmp_path / "once.png")
    assert len(draws) == 1
    monkeypatch.undo()
    fig = figure()  # the slow way, for the bytes
    fig.savefig(tmp_path / "twice.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    assert (tmp_path / "once.png").read_bytes() == (tmp_path / "twice.png").read_bytes()
