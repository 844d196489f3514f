"""The genre analysis's result: tables, figures, headline numbers and facts for the prose."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from hitlab import plots
from hitlab.analyses._genre_tables import (
    CALIBRATION_BINS,
    LABEL_WORDS,
    confident_predictions,
    strategy_summary,
    top2_misses,
)
from hitlab.modeling import Estimate, TaskResult
from hitlab.modeling.zoo import STRATEGIES, model_description

__all__ = ["GenreResult"]


@dataclass
class GenreResult:
    """Everything :func:`fit` found: tables, figures, headline numbers and facts for the prose.

    It writes nothing; :mod:`hitlab.outputs` writes :meth:`tables` as ``genre/<name>.csv``, the
    :meth:`figures`, the model and the report section (``genre.html.j2`` and
    ``genre.reading.j2``, rendered from :attr:`facts`).
    """

    fit: TaskResult
    scheme: str
    strategy_model: str
    strategies: pd.DataFrame
    predictions: pd.DataFrame
    exact: Estimate
    hit_any: Estimate
    baseline_exact: Estimate
    baseline_hit_any: Estimate
    top_k: pd.DataFrame
    calibration: pd.DataFrame
    ece: Estimate
    confusions: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)

    @property
    def leaderboard(self) -> pd.DataFrame:
        return self.fit.leaderboard()

    @property
    def strategy_summary(self) -> pd.DataFrame:
        return strategy_summary(self.strategies)

    @property
    def confident_right(self) -> pd.DataFrame:
        return confident_predictions(self.predictions, correct=True)

    @property
    def confident_wrong(self) -> pd.DataFrame:
        return confident_predictions(self.predictions, correct=False)

    @property
    def top2_misses(self) -> pd.DataFrame:
        return top2_misses(self.predictions)

    @property
    def majority_genre(self) -> str:
        base = self.fit.baseline.prediction
        return str(self.fit.labels(base[:1])[0]) if base.size else ""

    def confusion_long(self) -> pd.DataFrame:
        """Every confusion matrix in long form: matrix, true, predicted, share of the true genre."""
        frames = []
        for key, matrix in self.confusions.items():
            long = matrix.stack().rename("share").reset_index()
            long.insert(0, "matrix", key)
            frames.append(long)
        return pd.concat(frames, ignore_index=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name (written as ``genre/<name>.csv``)."""
        return {
            "leaderboard": self.leaderboard,
            "timings": self.fit.timings(),
            "strategy_summary": self.strategy_summary,
            "strategies": self.strategies,
            "accuracy": self.accuracy_table(),
            "top_k": self.top_k,
            "confident_right": self.confident_right,
            "confident_wrong": self.confident_wrong,
            "top2_misses": self.top2_misses,
            "calibration": self.calibration,
            "confusion": self.confusion_long(),
            "test_predictions": self.predictions,
        }

    def accuracy_table(self) -> pd.DataFrame:
        """Exact and "hit any of its labels" accuracy of the chosen model and the baseline."""
        rows = []
        for what, model, base in (("exact (training label)", self.exact, self.baseline_exact),
                                  ("hit any of its labels", self.hit_any, self.baseline_hit_any)):
            rows.append({"accuracy": what, "model": self.fit.best.key, "value": model.value,
                         "low": model.low, "high": model.high, "baseline": base.value})
        return pd.DataFrame(rows)

    def figures(self) -> dict[str, Figure]:
        """Figures by file stem (``genre_...``); the caller saves them."""
        figs: dict[str, Figure] = {
            "genre_leaderboard": plots.leaderboard_chart(self.leaderboard, "macro_f1",
                                                         "macro-F1 (test, 95% CI)"),
            "genre_strategy_recall": plots.strategy_recall_chart(self.strategies),
        }
        for key, matrix in self.confusions.items():
            stem = "genre_confusion_" + re.sub(r"[^0-9A-Za-z]+", "_", key)
            title = f"{key} (chosen)" if key == self.fit.best.key else key
            figs[stem] = plots.confusion_matrix(matrix, title)
        figs["genre_top_k"] = plots.top_k_chart(self.top_k)
        figs["genre_calibration"] = plots.reliability_curve(self.calibration, self.ece.value,
                                                            self.fit.best.key)
        return figs

    def headline_metrics(self) -> list[dict[str, Any]]:
        """The report's headline numbers: value, 95% CI and the baseline's value."""
        best, base = self.fit.best, self.fit.baseline
        metrics = [
            _metric("accuracy", self.exact, self.baseline_exact.value),
            _metric("hit any of its labels", self.hit_any, self.baseline_hit_any.value),
            _metric("macro-F1", best.metrics["macro_f1"], base.metrics["macro_f1"].value),
            _metric("balanced accuracy", best.metrics["balanced_accuracy"],
                    base.metrics["balanced_accuracy"].value),
        ]
        top = {int(r.k): r for r in self.top_k.itertuples(index=False)}
        if 2 in top:
            metrics.append({"name": "top-2 accuracy", "value": top[2].accuracy,
                            "ci": [top[2].low, top[2].high], "baseline": base.metrics["top2"].value,
                            "better": "higher"})
        metrics.append({"name": "calibration error (ECE)", "value": self.ece.value,
                        "ci": [self.ece.low, self.ece.high], "baseline": None, "better": "lower"})
        return metrics

    @property
    def facts(self) -> dict[str, Any]:
        """Everything the prose needs (``genre.reading.j2``), as plain values."""
        fit, best = self.fit, self.fit.best
        split = fit.split.describe()
        top = {int(r.k): float(r.accuracy) for r in self.top_k.itertuples(index=False)}
        facts: dict[str, Any] = {
            "strategy_model": self.strategy_model,
            "model": best.model if best.strategy == "none"
            else f"{best.model} with {STRATEGIES[best.strategy].description}",
            "model_description": model_description(fit.task.kind, best.model),
            "metric": fit.task.metric,
            "folds": len(fit.folds),
            "what": LABEL_WORDS.get(self.scheme, "genre"),
            "accuracy": self.exact.to_dict(),
            "baseline_accuracy": self.baseline_exact.value,
            "majority_genre": self.majority_genre,
            "genres": len(fit.classes or []),
            "test_rows": split["test_rows"],
            "group_by": split["group_by"],
            "hit_any": self.hit_any.value,
            "multi_label_tracks": int(self.predictions["all_labels"].str.contains("|", regex=False).sum()),
            "top2": top.get(2),
            "top3": top.get(3),
            "strategies": self._strategy_facts(),
            "ece": self.ece.to_dict(),
            "calibration_bins": CALIBRATION_BINS,
            "easiest": None,
            "hardest": None,
            "notes": [*fit.notes, *self.notes],
        }
        per_genre = self.strategies[(self.strategies["kind"] == "genre")
                                    & (self.strategies["strategy"] == best.strategy)]
        if best.model == self.strategy_model and len(per_genre):
            ends = {"easiest": per_genre["value"].idxmax(), "hardest": per_genre["value"].idxmin()}
            for key, where in ends.items():
                row = per_genre.loc[where]
                facts[key] = {"genre": row["row"].removeprefix("recall: "), "recall": float(row["value"])}
        return facts

    def _strategy_facts(self) -> dict[str, Any] | None:
        overall = self.strategies[self.strategies["row"] == "macro_f1"].set_index("strategy")
        if overall.empty:
            return None
        best_s = overall["value"].idxmax()
        worst_s = overall["value"].idxmin()
        counts = pd.Series(self.fit.y).value_counts()
        return {
            "model": self.strategy_model,
            "only": best_s if len(overall) == 1 else None,
            "best": best_s,
            "worst": worst_s,
            "best_value": float(overall.loc[best_s, "value"]),
            "worst_value": float(overall.loc[worst_s, "value"]),
            "overlap": bool(overall.loc[best_s, "low"] <= overall.loc[worst_s, "high"]),
            "ratio": float(counts.max() / max(counts.min(), 1)),
        }

    def manifest_extras(self) -> dict[str, Any]:
        """What the genre stage adds to the saved model's manifest: the label scheme and
        primary-label rule, top-k, any-label accuracy and calibration of the held-out test."""
        out: dict[str, Any] = {}
        out["scheme"] = self.scheme
        out["primary_label_rule"] = "first of the track's labels in file order"
        out["top_k"] = self.top_k.to_dict("records")
        out["hit_any_accuracy"] = self.hit_any.to_dict()
        out["expected_calibration_error"] = self.ece.to_dict()
        return out

    def summary(self) -> dict[str, Any]:
        """A plain dict for reports and the run manifest."""
        out = self.fit.summary()
        out["scheme"] = self.scheme
        out["exact_accuracy"] = self.exact.to_dict()
        out["hit_any_accuracy"] = self.hit_any.to_dict()
        out["baseline_accuracy"] = self.baseline_exact.to_dict()
        out["top_k"] = self.top_k.to_dict("records")
        out["ece"] = self.ece.to_dict()
        out["strategy_model"] = self.strategy_model
        overall = self.strategies[self.strategies["kind"] == "overall"]
        out["strategies"] = {
            str(s): {str(r): float(v) for r, v in part.set_index("row")["value"].items()}
            for s, part in overall.groupby("strategy", sort=False)
        }
        out["notes"] = out["notes"] + self.notes
        return out


def _metric(name: str, est: Estimate, baseline: float | None) -> dict[str, Any]:
    return {"name": name, "value": est.value, "ci": [est.low, est.high], "baseline": baseline,
            "better": "higher"}
