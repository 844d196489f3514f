"""The files of a run folder other than the analyses': the data stages' reports, the clean
tracks, figures, tables and the manifest. Every write of a run folder goes through here (or
:mod:`hitlab.outputs.models` for model files)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from hitlab.clean import CleaningReport
from hitlab.labels import LabelReport, TagJoinReport
from hitlab.modeling.persist import jsonable, sha256_file

__all__ = [
    "MANIFEST_FILE",
    "save_figure",
    "write_cleaning_report",
    "write_json",
    "write_labels",
    "write_manifest",
    "write_table",
    "write_tracks",
]

MANIFEST_FILE = "manifest.json"


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure (PNG or SVG by suffix), reproducibly, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}
    # every figure is laid out when made (tight_layout); bbox_inches="tight" would draw it twice,
    # and so does the placeholder layout engine tight_layout leaves behind (one pass only to lay
    # out again, a third to a half of the saving time): the layout is done, drop the placeholder
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)
    fig.savefig(path, dpi=110, metadata=metadata)
    plt.close(fig)
    return path


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV (no index)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def write_json(value: Any, path: str | Path) -> Path:
    """Write plain data as indented JSON (NumPy scalars as Python values, see
    :func:`hitlab.modeling.persist.jsonable`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, default=jsonable) + "\n")
    return path


def write_cleaning_report(report: CleaningReport, folder: Path) -> Path:
    """``cleaning_report.json``: every cleaning step and the rows it touched."""
    path = folder / "cleaning_report.json"
    path.write_text(report.to_json() + "\n")
    return path


def write_labels(label_report: LabelReport, tag_report: TagJoinReport | None, folder: Path) -> Path:
    """``labels.json``: the label counts and rules (and the artist-tag join, when there was one)."""
    labels = {"labels": label_report.to_dict()}
    if tag_report is not None:
        labels["artist_tags"] = tag_report.to_dict()
    path = folder / "labels.json"
    path.write_text(json.dumps(labels, indent=2) + "\n")
    return path


def write_tracks(tracks: pd.DataFrame, folder: Path) -> Path:
    """``tracks.parquet``: the clean, labelled track table."""
    path = folder / "tracks.parquet"
    tracks.to_parquet(path, index=False)
    return path


def write_manifest(manifest: Mapping[str, Any], folder: Path) -> Path:
    """``manifest.json``: ``manifest`` plus ``outputs``, the sha256 of every file written so far."""
    full = dict(manifest)
    full["outputs"] = {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps(full, indent=2, default=str, allow_nan=False) + "\n")
    return path
