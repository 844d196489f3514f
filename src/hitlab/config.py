"""Run configuration: defaults, then a TOML file, then explicit options (CLI flags).

One :class:`RunConfig` carries every setting of ``hitlab run``; stages take the parts
they need as arguments. No I/O happens at import time.

A config file uses the same keys as the CLI options (``-`` or ``_`` both work)::

    data = "tracks.csv"
    mapping = "kaggle-114k"
    labels = "playlist"
    seed = 42
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitlab.errors import ConfigError
from hitlab.labels import DEFAULT_VOCABULARY

__all__ = ["RunConfig", "load_config"]


@dataclass
class RunConfig:
    """Every setting of a run. ``None`` for ``data`` means the built-in dataset."""

    data: str | None = None
    mapping: str | None = None
    artists: str | None = None
    artists_mapping: str | None = None
    labels: str = "playlist"
    vocabulary: list[str] = field(default_factory=lambda: list(DEFAULT_VOCABULARY))
    top_n: int | None = None
    min_class_size: int = 20
    strict: bool = False
    encoding: str | None = None
    group_by: str = "track"
    budget: float = 20.0
    trials: int | None = None
    quick: bool = False
    seed: int = 42
    out: str = "runs"
    name: str | None = None
    drop_invalid: bool = False
    min_duration_ms: float = 30_000
    max_duration_ms: float = 1_800_000
    stages: list[str] = field(default_factory=lambda: ["eda", "popularity", "genre", "report"])
    features: list[str] | None = None

    def __post_init__(self) -> None:
        if self.labels not in ("playlist", "tags", "words"):
            raise ConfigError(f"labels must be 'playlist', 'tags' or 'words', got {self.labels!r}")
        if isinstance(self.min_class_size, bool) or not isinstance(self.min_class_size, int) or (
            self.min_class_size < 1
        ):
            raise ConfigError(f"min_class_size must be a whole number >= 1, got {self.min_class_size!r}")
        if self.labels == "tags" and self.artists is None and self.data is None:
            # The built-in data has no artist tags; tags need an artists table.
            raise ConfigError(
                "labels='tags' needs artist genre tags: pass --artists FILE "
                "(for example the 160k artists table from `hitlab fetch kaggle-160k-artists`)"
            )
        if self.group_by not in ("track", "artist"):
            raise ConfigError(f"group_by must be 'track' or 'artist', got {self.group_by!r}")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"trials must be at least 1, got {self.trials}")
        if self.budget <= 0:
            raise ConfigError(f"budget must be positive seconds, got {self.budget}")
        if self.features is not None:
            from hitlab.features import resolve_features

            if isinstance(self.features, str):
                self.features = [f.strip() for f in self.features.split(",") if f.strip()]
            resolve_features("popularity", self.features)  # fail early on unknown columns

    @property
    def run_name(self) -> str:
        if self.name:
            return self.name
        stem = Path(self.data).stem if self.data else "tidytuesday"
        return f"{stem}-{self.labels}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


def load_config(path: str | Path | None = None, **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from defaults, an optional TOML file, and overrides.

    Overrides whose value is ``None`` are ignored, so unset CLI options keep the file's value.
    """
    values: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(RunConfig)}
    if path is not None:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"{path}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
            values[name] = value
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown option {key!r}")
        if value is not None:
            values[key] = value
    try:
        return RunConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
