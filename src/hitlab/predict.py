"""Predict popularity and genre for new tracks with the models a run saved.

``hitlab.load("runs/NAME").predict(tracks)`` (or ``hitlab predict --run runs/NAME FILE``)
returns, for each track, the predicted popularity and the genre top-k with probabilities.

New tracks usually have neither popularity nor genre, and each model may use the other's
target as a feature (the popularity model one-hot encodes the genre label; the genre
model uses popularity). :meth:`Predictor.predict` never fails for a missing target:

- a **given** value (a ``popularity`` column, or a genre label in ``genres``) is used as is;
- a track with **neither**: the genre model first guesses with popularity imputed (the
  training median, inside its pipeline); the popularity model then predicts under that
  top genre; the genre model guesses again with that predicted popularity, and this last
  guess is the one returned (three model passes). The first, provisional guess only picks
  the genre the popularity model is given, so a boosted genre model makes it with the first
  quarter of its rounds (:data:`PROVISIONAL_SHARE`): on the built-in data's held-out tracks
  this changed neither the popularity MAE (18.21 with the quarter and with all rounds) nor
  the final genre accuracy (``benchmarks/predict.py`` prints both), and it saves three
  quarters of a genre pass;
- a missing **genre** only: the popularity model predicts under the genre model's top guess;
- a missing **popularity** only: the genre model uses the popularity model's prediction.

The output columns ``genre_used_for_popularity`` and ``popularity_used_for_genre`` say,
row by row, which happened. Everything is vectorised: at most three model passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from hitlab import schema
from hitlab.datasets.conventions import Conversion
from hitlab.datasets.importer import Mapping, read_artists, read_table, read_tracks, tracks_from_table
from hitlab.errors import HitlabError, ModelFileError, Problem, SchemaError
from hitlab.labels import attach_artist_tags, main_genre
from hitlab.modeling.persist import SavedModel, check_run_files, load_model, manifest_path, sha256_file

__all__ = ["MODEL_FILES", "Predictor", "load"]

#: Where a run keeps its models, by task.
MODEL_FILES = {"popularity": "models/popularity.skops", "genre": "models/genre.skops"}
ID_COLUMNS = ("track_id", "track_name", "artist_name")
#: Share of a boosted genre model's rounds used for the provisional genre guess (see above).
PROVISIONAL_SHARE = 1 / 4


def _first_label(genres: pd.Series) -> pd.Series:
    first = [t[0] if isinstance(t, tuple) and len(t) else None for t in genres]
    return pd.Series(first, index=genres.index, dtype="string")


def _known_categories(model: SavedModel, column: str) -> set[str] | None:
    """The values of a categorical feature the model saw in training (None if it cannot tell)."""
    features = model.features
    if column not in features.categorical:
        return None
    try:
        encoder = model.estimator.named_steps["prep"].named_transformers_["cat"]
        return {str(v) for v in encoder.categories_[list(features.categorical).index(column)]}
    except (AttributeError, KeyError, IndexError, ValueError):
        return None


def _one_conversion_note(tracks: pd.DataFrame) -> pd.DataFrame:
    """Replace the read notes' one line per converted column by one line listing them all."""
    conversions = [Conversion(**c) for c in tracks.attrs.get("conversions", [])]
    if len(conversions) < 2:
        return tracks
    each = {c.describe() for c in conversions}
    listed = ", ".join(
        f"{c.column} with thousands separators ({c.rows:,}{'; ' + c.detail if c.detail else ''})"
        if c.convention == "thousands separator"
        else f"{c.column} as {c.convention} ({'detected' if c.detected else 'as the mapping says'}; "
             f"{c.rows:,} values{'; ' + c.detail if c.detail else ''})"
        for c in conversions
    )
    notes = [n for n in tracks.attrs.get("read_notes", []) if n not in each]
    tracks.attrs["read_notes"] = [*notes, f"values converted in {len(conversions)} columns: {listed}"]
    return tracks


def _rows_text(mask: np.ndarray, index: pd.Index) -> str:
    positions = np.flatnonzero(mask)
    shown = ", ".join(str(int(index[p]) + 1) for p in positions[: schema.MAX_ROWS_SHOWN])
    more = len(positions) - schema.MAX_ROWS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


@dataclass
class Predictor:
    """The saved models of one run, ready to score new tracks."""

    folder: Path
    popularity: SavedModel | None
    genre: SavedModel | None

    @classmethod
    def load(cls, folder: str | Path, *, allow_version_mismatch: bool = False) -> Predictor:
        """Load the models of a run folder, after checking that they belong to that run.

        Every model file and its side file (``models/<task>.skops`` and ``.json``) must be
        listed in the run's ``manifest.json`` ("outputs": path -> sha256) with the same sha256;
        then each model is loaded by :func:`~hitlab.modeling.persist.load_model`, which checks
        the model file against its side file and reads the class order and feature list from
        the model file itself.

        Raises
        ------
        ModelFileError
            No such folder, no model in it, no (or an unreadable) ``manifest.json``, a model
            file or side file that is missing from the run manifest or differs from it
            (edited, or copied in from another run), or any refusal of ``load_model``.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelFileError(f"{folder}: no such run folder")
        present = [
            task for task, rel in MODEL_FILES.items()
            if (folder / rel).exists() or manifest_path(folder / rel).exists()
        ]
        if not present:
            raise ModelFileError(
                f"{folder}: no saved model ({', '.join(MODEL_FILES.values())}); run `hitlab run` first"
            )
        check_run_files(folder, [p for rel in MODEL_FILES.values() for p in (rel, manifest_path(rel))])
        models: dict[str, SavedModel | None] = {
            task: (
                load_model(folder / rel, allow_version_mismatch=allow_version_mismatch)
                if task in present else None
            )
            for task, rel in MODEL_FILES.items()
        }
        return cls(folder, models["popularity"], models["genre"])

    @cached_property
    def _manifest(self) -> dict:
        """The run's ``manifest.json``, read once (empty when it cannot be read)."""
        try:
            return json.loads((self.folder / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def read_spec(self) -> dict | None:
        """How the run read its data (``manifest.json``: inputs, data, read), or None."""
        spec = self._manifest.get("inputs", {}).get("data", {}).get("read")
        return spec if isinstance(spec, dict) else None

    @cached_property
    def label_rule(self) -> tuple[str, list[str]]:
        """How the run labelled its tracks (``labels.json``); ``("playlist", [])`` if it does not say."""
        try:
            labels = json.loads((self.folder / "labels.json").read_text("utf-8")).get("labels", {})
            scheme, vocabulary = labels.get("scheme"), labels.get("vocabulary")
        except (OSError, ValueError, AttributeError):
            return "playlist", []
        ok = isinstance(scheme, str) and isinstance(vocabulary, list)
        return (scheme, [str(v) for v in vocabulary]) if ok else ("playlist", [])

    @cached_property
    def run_artists(self) -> tuple[pd.DataFrame | None, str]:
        """The artist tags table the run labelled with (``manifest.json``: inputs, artists), read
        once, when it is still at its path with the same sha256; else None and why not."""
        entry = self._manifest.get("inputs", {}).get("artists")
        if not isinstance(entry, dict) or not entry.get("path"):
            return None, "the run records no artist tags file"
        path = Path(str(entry["path"]))
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return None, f"the run's artist tags file {path} is gone or has changed since the run"
        try:
            return read_artists(path, (self._manifest.get("config") or {}).get("artists_mapping")), str(path)
        except HitlabError as exc:
            return None, f"the run's artist tags file {path} cannot be read ({exc})"

    def _given_genre(self, tracks: pd.DataFrame, notes: list[str]) -> pd.Series:
        """Each row's genre read as the run labelled: the first label, the main genre of its genres
        (``--labels words``) or of its artist in the run's artist tags table (``--labels tags``)."""
        genres = tracks["genres"]
        scheme, vocabulary = self.label_rule
        if scheme == "tags" and vocabulary:
            artists, where = self.run_artists
            if artists is not None:
                tagged, report = attach_artist_tags(tracks, artists)
                genre, _ = main_genre(tagged["artist_genres"], vocabulary)
                notes.append(f"genres read as the run labelled them (--labels tags): the artists' main "
                             f"genres from {where}, found for {genre.notna().sum():,} of {len(genre):,} "
                             f"rows (for {report.unmatched:,} the artist is not in it); the others get the "
                             "genre model's guess, and the file's own genres are not used")
                return genre
            if (genres.map(len) > 0).any():
                notes.append(f"the run's genres are its artists' main genres (--labels tags), but {where}: "
                             "the file's own genres were read as given, where one names a genre of the run "
                             "it stands for the artist's main genre")
        if scheme != "words" or not vocabulary:
            return _first_label(genres)
        genre, _ = main_genre(genres, vocabulary)
        with_genres = int((genres.map(len) > 0).sum())
        if with_genres:
            notes.append(f"genres read as the run labelled them (--labels words): {genre.notna().sum():,} "
                         f"of {with_genres:,} rows with a genre name one of its genre words "
                         f"({', '.join(vocabulary)}); the others get the genre model's guess")
        return genre

    def read(
        self,
        path: str | Path,
        *,
        mapping: str | Path | Mapping | None = None,
        encoding: str | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Read new tracks the way the run read its data.

        With no ``mapping``, the run's own mapping and value conventions (recorded in its
        manifest) are applied, so a file in the training file's format (minus popularity
        and genre) gives the same features as the training rows did. A file whose columns
        carry none of that mapping's own spellings (e.g. canonical names) is read by
        detection instead, and the choice is noted in ``attrs["read_notes"]``.
        """
        source = source or str(path)
        if mapping is not None:
            return _one_conversion_note(
                read_tracks(path, mapping, encoding=encoding, source=source, require_mapped=False)
            )
        spec = self.read_spec()
        if spec is None or (spec.get("name") == "canonical" and not spec.get("values")):
            return _one_conversion_note(
                read_tracks(path, None, encoding=encoding, source=source, require_mapped=False)
            )
        run_mapping = Mapping.from_dict(spec, name=f"{spec.get('name', 'mapping')} (from the run)")
        # the file is read once: its header decides the mapping, and the same table is mapped
        read_notes: list[str] = []
        raw = read_table(path, encoding=encoding or run_mapping.encoding, delimiter=run_mapping.delimiter,
                         notes=read_notes, source=source)
        header = list(raw.columns)
        own = {src for canon, src in run_mapping.columns.items() if src != canon}
        if own and not own & set(header):
            if run_mapping.encoding in (None, encoding) and run_mapping.delimiter is None:
                # read as detection reads it (the run gave no encoding or delimiter of its own)
                tracks = tracks_from_table(raw, None, source=source, require_mapped=False,
                                           read_notes=read_notes)
            else:
                tracks = read_tracks(path, None, encoding=encoding, source=source, require_mapped=False)
            tracks.attrs["read_notes"] = [
                f"none of the run's mapping columns ({', '.join(sorted(own)[:5])}) are in the file: "
                f"read as {tracks.attrs.get('mapping')}",
                *tracks.attrs.get("read_notes", []),
            ]
            return _one_conversion_note(tracks)
        if not run_mapping.columns:  # a canonical run: its detected conventions, canonical names
            run_mapping = Mapping(name=run_mapping.name, columns={c: c for c in header if c in schema.NAMES},
                                  values=run_mapping.values, detect=run_mapping.detect,
                                  encoding=run_mapping.encoding, delimiter=run_mapping.delimiter)
        tracks = tracks_from_table(raw, run_mapping, source=source, require_mapped=False,
                                   read_notes=read_notes)
        return _one_conversion_note(tracks)

    def _check_input(
        self, tracks: pd.DataFrame, given: set[str], source: str
    ) -> tuple[list[str], np.ndarray]:
        """Refuse input the models cannot score; return warnings about what they will guess,
        and the rows that have no audio feature at all (they get no prediction)."""
        notes: list[str] = []
        models = [m for m in (self.popularity, self.genre) if m is not None]
        targets = {"genre": self.genre is not None, "popularity": self.popularity is not None}
        needed: dict[str, None] = {}
        for model in models:
            for column in model.features.columns:
                if not targets.get(column, False):
                    needed[column] = None
        if "genre" in needed:  # no genre model to guess it: the popularity model imputes
            needed.pop("genre")
        if "popularity" in needed:
            needed.pop("popularity")
        absent = [c for c in needed if c not in given or tracks[c].isna().all()]
        if absent:
            raise SchemaError(
                [Problem(None, f"the models need column(s) {', '.join(absent)}, which the input does not "
                               "have (or has no value in)" + self._mapping_hint(absent))],
                source=source,
            )
        audio = [c for c in needed if c in schema.AUDIO_FEATURES]
        empty = tracks[audio].isna().all(axis=1).to_numpy() if audio else np.zeros(len(tracks), bool)
        if empty.all():
            raise SchemaError(
                [Problem(None, "no row has a value for any audio feature the models use "
                               f"({', '.join(audio)})")],
                source=source,
            )
        if empty.any():
            notes.append(
                f"{int(empty.sum()):,} row(s) have no value for any audio feature the models use: "
                f"no prediction for them (left empty), rows {_rows_text(empty, tracks.index)}"
            )
        for column in needed:
            missing = int(tracks[column].isna().sum())
            if missing:
                strong = (
                    " (a strong feature: expect clearly worse predictions for them)"
                    if column == "year"
                    else ""
                )
                notes.append(f"{column} is missing in {missing:,} of {len(tracks):,} rows: filled with the "
                             f"training median{strong}")
        used = set(needed) | {"track_id", "track_name", "artist_name", "genres", "popularity", "release_date"}
        unused = [c for c in given if c not in used and c in schema.NAMES and tracks[c].notna().any()]
        unused += list(tracks.attrs.get("extra_columns", []))
        if unused:
            notes.append(f"column(s) not used by the models: {', '.join(map(str, unused))}")
        return notes, empty

    def _mapping_hint(self, columns: list[str]) -> str:
        spec = self.read_spec() or {}
        sources = [f"'{spec['columns'][c]}' (for {c})" for c in columns if c in spec.get("columns", {})]
        if sources:
            return f"; the run read them from {', '.join(sources)}"
        return ""

    @property
    def genre_classes(self) -> list[str]:
        return list(self.genre.classes or []) if self.genre is not None else []

    def _genre_proba(self, work: pd.DataFrame, popularity: np.ndarray, share: float = 1.0) -> np.ndarray:
        assert self.genre is not None
        # only the columns the model reads (a copy of the whole table cost more than the encoding)
        probe = work[[c for c in self.genre.features.columns if c in work.columns and c != "popularity"]]
        probe = probe.assign(popularity=popularity)
        proba = self.genre.predict_proba(probe, share=share)
        return proba.reindex(columns=self.genre_classes, fill_value=0.0).to_numpy()

    def predict(self, tracks: pd.DataFrame, *, top_k: int = 3) -> pd.DataFrame:
        """Predicted popularity and genre top-k for every row of ``tracks``.

        Parameters
        ----------
        tracks
            A canonical track table (from :func:`hitlab.read_tracks`), or a frame with
            canonical column names, which is validated first (same errors as import).
        top_k
            How many genre guesses to return, most likely first.
        """
        source = str(tracks.attrs.get("source", "<DataFrame>"))
        absent = set(tracks.attrs.get("absent_columns", []))
        given = {str(c) for c in tracks.columns if c not in absent}
        if "release_date" in given:
            given.add("year")
        # validate every input, whatever its form (a run's own tracks.parquet read back with pandas
        # holds label arrays, not tuples): coerce is cheap on a table that is already canonical
        attrs = dict(tracks.attrs)
        canonical = tracks[[c for c in tracks.columns if c in schema.NAMES]]
        tracks = schema.coerce(canonical, source=source)
        tracks.attrs.update({k: v for k, v in attrs.items() if k != "extra_columns"})
        tracks.attrs["extra_columns"] = list(attrs.get("extra_columns", []))
        notes, unscorable = self._check_input(tracks, given, source)
        work = tracks.copy()
        work["genre"] = self._given_genre(work, notes)
        if self.popularity is not None and work["genre"].notna().any():
            known = (set(self.genre_classes) if self.genre is not None else None) or _known_categories(
                self.popularity, "genre"
            )
            if known:
                unseen = work["genre"].notna() & ~work["genre"].isin(known).fillna(False)
                if unseen.any():
                    names = ", ".join(sorted(set(work.loc[unseen, "genre"].astype(str)))[:5])
                    fallback = "the genre model's guess" if self.genre is not None else "no genre"
                    notes.append(f"{int(unseen.sum()):,} row(s) give a genre the models never saw ({names}): "
                                 f"{fallback} was used instead")
                    work.loc[unseen, "genre"] = pd.NA
        given_pop = work["popularity"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        has_pop = ~np.isnan(given_pop)
        has_genre = work["genre"].notna().to_numpy()
        out = pd.DataFrame({c: work[c] for c in ID_COLUMNS if c in work}, index=work.index)

        pop_uses_genre = self.popularity is not None and "genre" in self.popularity.features.categorical
        genre_uses_pop = self.genre is not None and "popularity" in self.genre.features.numeric
        names = np.asarray(self.genre_classes, dtype=object)
        proba: np.ndarray | None = None
        if self.genre is not None and pop_uses_genre and not has_genre.all():
            # first guess of the genre, popularity as given or imputed inside the pipeline
            share = PROVISIONAL_SHARE if genre_uses_pop and not has_pop.all() else 1.0
            proba = self._genre_proba(work, given_pop, share)
            work.loc[~has_genre, "genre"] = names[proba.argmax(axis=1)][~has_genre]
            if share < 1:
                proba = None  # provisional: always scored again below
        pop_pred: np.ndarray | None = None
        if self.popularity is not None:
            pop_pred = np.clip(np.asarray(self.popularity.predict(work), dtype=float), 0, 100)
            out["predicted_popularity"] = pop_pred
            if pop_uses_genre:
                out["genre_used_for_popularity"] = np.where(
                    has_genre, "given", "predicted" if self.genre is not None else "missing"
                )
        if self.genre is not None:
            if proba is None or (genre_uses_pop and pop_pred is not None and not has_pop.all()):
                fill = pop_pred if pop_pred is not None else np.full(len(work), np.nan)
                proba = self._genre_proba(work, np.where(has_pop, given_pop, fill))
            k = max(1, min(top_k, proba.shape[1]))
            order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
            ranked = np.take_along_axis(proba, order, axis=1)
            for i in range(k):
                out[f"genre_{i + 1}"] = names[order[:, i]]
                out[f"genre_{i + 1}_probability"] = ranked[:, i]
            if genre_uses_pop:
                out["popularity_used_for_genre"] = np.where(
                    has_pop, "given", "predicted" if pop_pred is not None else "missing"
                )
        if unscorable.any():  # no audio at all: no prediction, rather than the training medians' guess
            for column in out.columns:
                if column.startswith(("predicted_", "genre_")) or column.endswith("_used_for_genre"):
                    out[column] = out[column].astype(float if out[column].dtype.kind == "f" else object)
                    out.loc[unscorable, column] = np.nan if out[column].dtype.kind == "f" else None
        out = out.reset_index(drop=True)
        out.attrs["notes"] = [*tracks.attrs.get("read_notes", []), *notes]
        return out

    def describe(self) -> dict:
        """The manifests of the loaded models."""
        return {
            task: (model.manifest if model is not None else None)
            for task, model in (("popularity", self.popularity), ("genre", self.genre))
        }


def load(folder: str | Path, *, allow_version_mismatch: bool = False) -> Predictor:
    """Load a run's saved models: ``hitlab.load("runs/NAME").predict(tracks)``.

    The folder must be a whole run folder: its ``manifest.json`` must record every model file
    and side file with the same sha256 (see :meth:`Predictor.load`).
    """
    return Predictor.load(folder, allow_version_mismatch=allow_version_mismatch)


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str | None = None) -> None:
    """Write predictions as CSV, Parquet or JSON lines (by ``fmt`` or the file suffix)."""
    fmt = fmt or {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(
        Path(path).suffix.lower(), "csv"
    )
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        # a missing value is null (json.dumps would write NaN, which is not JSON)
        frame.to_json(path, orient="records", lines=True, force_ascii=False, double_precision=15,
                      date_format="iso")
    else:
        frame.to_csv(path, index=False)
