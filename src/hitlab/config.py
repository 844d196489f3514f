"""Run configuration: defaults, then a TOML file, then explicit options (CLI flags).

One typed schema, :class:`RunConfig` (a pydantic model), carries every setting of
``hitlab run``; the CLI options and the TOML keys are its fields, so a bad value is
named the same way wherever it came from, with its key and its source::

    config file run.toml: key 'budget': expected a number of seconds > 0, got 'fast'
    option --seed: expected a whole number >= 0, got -1

Stages take the parts they need as arguments. No I/O happens at import time.

A config file uses the same keys as the CLI options (``-`` or ``_`` both work)::

    data = "tracks.csv"
    mapping = "kaggle-114k"
    labels = "playlist"
    seed = 42

Examples
--------
>>> cfg = RunConfig(out="runs", quick=True)
>>> cfg.run_name
'tidytuesday-playlist'
>>> cfg.replace(seed=7).seed
7
>>> RunConfig(seed=-1)
Traceback (most recent call last):
...
hitlab.errors.ConfigError: RunConfig field 'seed': expected a whole number >= 0, got -1
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from hitlab.errors import ConfigError
from hitlab.labels import DEFAULT_VOCABULARY

__all__ = ["GROUP_BY", "STAGE_NAMES", "RunConfig", "check_run_name", "describe_option", "load_config"]

#: The stages ``--stages`` can choose, in the order they run (load, clean and label always run).
STAGE_NAMES = ("eda", "popularity", "genre", "eras", "label_quality", "report")
#: The stages a run runs unless told otherwise (eras and label_quality add minutes: opt-in).
DEFAULT_STAGES = ("eda", "popularity", "genre", "report")

#: How the held-out split groups rows (see :mod:`hitlab.modeling.split`).
GROUP_BY = ("song", "track", "artist")

#: Characters a run name may not hold: path separators, Windows-reserved ones, control characters.
_RESERVED_CHARACTERS = re.compile(r'[\\/<>:"|?*\x00-\x1f\x7f]')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"{port}{i}" for port in ("COM", "LPT") for i in range(10)}


def check_run_name(name: str) -> str:
    """Return ``name`` if it is a plain folder name, else raise ``ValueError`` saying why.

    A run name becomes one folder inside ``--out``: it may not be empty, ``.`` or ``..``,
    hidden (start with ``.``: hitlab's own temporary folders and locks are hidden), hold a
    path separator or a character Windows reserves, end in a space or dot, or be longer
    than 200 characters.

    >>> check_run_name("tidytuesday-playlist")
    'tidytuesday-playlist'
    >>> check_run_name("..")
    Traceback (most recent call last):
    ...
    ValueError: a run name must be a plain folder name, got '..' (it names a parent or the same folder)
    """
    def bad(why: str) -> ValueError:
        return ValueError(f"a run name must be a plain folder name, got {name!r} ({why})")

    if not isinstance(name, str) or not name.strip():
        raise bad("empty")
    if name in (".", ".."):
        raise bad("it names a parent or the same folder")
    if name.startswith("."):
        raise bad("hidden names starting with '.' are kept for hitlab's temporary folders")
    if _RESERVED_CHARACTERS.search(name) or os.sep in name or (os.altsep and os.altsep in name):
        raise bad("path separators and the characters <>:\"|?* are not allowed")
    if name != name.strip() or name.endswith("."):
        raise bad("it may not start or end with a space or end with '.'")
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        raise bad("a device name reserved on Windows")
    if len(name) > 200:
        raise bad(f"{len(name)} characters, at most 200")
    return name


def _path_text(value: Any) -> Any:
    """Accept ``os.PathLike`` wherever a file name is expected."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _comma_list(value: Any) -> Any:
    """Accept ``"eda,popularity"`` wherever a list of names is expected."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, tuple):
        return list(value)
    return value


#: Names where a value came from: ``config file x.toml: key 'seed'``, ``option --seed``.
_WHERE: ContextVar[Callable[[str], str]] = ContextVar(
    "_WHERE", default=lambda key: f"RunConfig field {key!r}"
)

PathText = Annotated[str, BeforeValidator(_path_text)]
NameList = Annotated[list[str], BeforeValidator(_comma_list)]


def _field(default: Any = None, *, expected: str, help: str, **constraints: Any) -> Any:
    """A config field: its default, what it accepts (for error messages) and its help text."""
    extra = {"expected": expected, "help": help}
    if callable(default):
        return Field(default_factory=default, json_schema_extra=extra, **constraints)
    return Field(default, json_schema_extra=extra, **constraints)


class RunConfig(BaseModel):
    """Every setting of a run. ``None`` for ``data`` means the built-in dataset.

    Values are checked strictly (``quick = "no"`` is an error, not ``True``); each bad
    value raises :class:`~hitlab.errors.ConfigError` naming the key and where it came from.
    """

    model_config = ConfigDict(strict=True, extra="forbid", validate_assignment=True, frozen=False)

    data: PathText | None = _field(
        expected="a file name", help="CSV/Parquet/JSON-lines tracks file (default: the built-in data)."
    )
    mapping: PathText | None = _field(
        expected="a preset name or a TOML file", help="Column mapping: a preset name or a TOML file."
    )
    artists: PathText | None = _field(
        expected="a file name", help="Artists table with genre tags, joined to tracks."
    )
    artists_mapping: PathText | None = _field(
        expected="a preset name or a TOML file", help="Column mapping for --artists."
    )
    labels: Literal["playlist", "tags", "words"] = _field(
        "playlist",
        expected="'playlist', 'tags' or 'words'",
        help="Genre labels: 'playlist' (as the data gives them), 'tags' (main genre from artist tags) "
        "or 'words' (main genre from the data's own fine-grained genres).",
    )
    vocabulary: NameList = _field(
        lambda: list(DEFAULT_VOCABULARY), expected="a list of genre words", help="Genre words for tag labels."
    )
    top_n: int | None = _field(
        expected="a whole number >= 1", help="Keep the N most common genres.", ge=1
    )
    min_class_size: int = _field(
        20,
        expected="a whole number >= 1",
        help="Genres with fewer tracks leave the genre task (counted).",
        ge=1,
    )
    group_by: Literal["song", "track", "artist"] = _field(
        "song",
        expected="'song', 'track' or 'artist'",
        help="Split groups: 'song' (one song's releases together), 'track' or 'artist'.",
    )
    budget: float = _field(
        20.0,
        expected="a number of seconds > 0",
        help="Tuning budget per model, seconds.",
        gt=0,
        allow_inf_nan=False,
    )
    trials: int | None = _field(
        expected="a whole number >= 1",
        help="Tune this many trials per model instead of a time budget (repeatable anywhere).",
        ge=1,
    )
    quick: bool = _field(False, expected="true or false", help="Small budget, for a first look.")
    full: bool = _field(
        False,
        expected="true or false",
        help="Compare the whole model zoo and every imbalance strategy (slower; the default run fits "
        "only the models that win in cross-validation).",
    )
    seed: int = _field(42, expected="a whole number >= 0", help="Random seed.", ge=0, lt=2**32)
    workers: int = _field(
        2,
        expected="a whole number >= 1",
        help="Processes computing analyses at once (1: one after another, in this process). The numbers "
        "do not change.",
        ge=1,
    )
    out: PathText = _field(
        "runs", expected="a folder name", help="Folder that holds run folders.", min_length=1
    )
    name: str | None = _field(
        expected="a plain folder name", help="Run folder name (default: data name + label scheme)."
    )
    drop_invalid: bool = _field(
        False,
        expected="true or false",
        help="Drop and count out-of-range values instead of stopping on them.",
    )
    strict: bool = _field(
        False,
        expected="true or false",
        help="Refuse a track id whose rows disagree on audio features (default: keep the first row).",
    )
    encoding: str | None = _field(
        expected="a text encoding name such as 'utf-8'", help="Text encoding of the input files."
    )
    max_duration_ms: float = _field(
        1_800_000,
        expected="a number of milliseconds > 0",
        help="Longest track kept.",
        gt=0,
        allow_inf_nan=False,
    )
    min_duration_ms: float = _field(
        30_000,
        expected="a number of milliseconds >= 0",
        help="Shortest track kept.",
        ge=0,
        allow_inf_nan=False,
    )
    stages: NameList = _field(
        lambda: list(DEFAULT_STAGES),
        expected=f"stage names from {', '.join(STAGE_NAMES)}",
        help=f"Comma-separated stages after load/clean/label, from: {', '.join(STAGE_NAMES)}.",
    )
    features: NameList | None = _field(
        expected="feature columns or edits such as '+energy,-genre'",
        help="Popularity features: columns ('danceability,year,key') or edits of the default "
        "('+energy,-genre').",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, _WHERE.get())) from None

    def __setattr__(self, key: str, value: Any) -> None:
        try:
            super().__setattr__(key, value)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, _WHERE.get())) from None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        return None if value is None else check_run_name(value)

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STAGE_NAMES]
        if unknown:
            raise ValueError(
                f"unknown stage(s) {', '.join(map(repr, unknown))}; the stages are {', '.join(STAGE_NAMES)}"
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            from hitlab.features import resolve_features

            try:
                resolve_features("popularity", value)  # fail early on unknown columns
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("labels")
    @classmethod
    def _tags_need_artists(cls, value: str, info: ValidationInfo) -> str:
        if value == "tags" and info.data.get("artists") is None and info.data.get("data") is None:
            # The built-in data has no artist tags; tags need an artists table.
            raise ValueError(
                "labels='tags' needs artist genre tags: pass --artists FILE "
                "(for example the 160k artists table from `hitlab fetch kaggle-160k-artists`)"
            )
        return value

    @field_validator("full")
    @classmethod
    def _not_quick_and_full(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("quick"):
            raise ValueError("quick and full contradict each other: a quick run fits the fewest models, a "
                             "full run every one; pass one of them")
        return value

    @field_validator("min_duration_ms")
    @classmethod
    def _below_max(cls, value: float, info: ValidationInfo) -> float:
        longest = info.data.get("max_duration_ms")
        if longest is not None and value >= longest:
            raise ValueError(f"must be below max_duration_ms ({longest:g}), got {value:g}")
        return value

    @property
    def run_name(self) -> str:
        """``name``, else ``<data file stem>-<labels>`` made into a plain folder name."""
        if self.name:
            return self.name
        stem = Path(self.data).stem if self.data else "tidytuesday"
        stem = _RESERVED_CHARACTERS.sub("_", stem).strip(" .") or "data"
        return check_run_name(f"{stem}-{self.labels}"[:200])

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON-ready values (written into the run manifest)."""
        return self.model_dump()

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied, validated like a new config."""
        return type(self)(**{**self.model_dump(), **changes})


def describe_option(key: str) -> str:
    """The help text of a setting with its default, for the CLI's ``--help``."""
    info = RunConfig.model_fields[key]
    help_text = (info.json_schema_extra or {}).get("help", "")  # type: ignore[union-attr]
    default = info.get_default(call_default_factory=True)
    if default is None or default == []:
        return str(help_text)
    if isinstance(default, bool):
        default = "on" if default else "off"
    if isinstance(default, list):
        default = ",".join(map(str, default))
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    return f"{help_text} (default: {shown})"


def _expected(key: str) -> str | None:
    info = RunConfig.model_fields.get(key)
    extra = info.json_schema_extra if info is not None else None
    return extra.get("expected") if isinstance(extra, Mapping) else None  # type: ignore[return-value]


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(exc: ValidationError, where: Any) -> str:
    """One line per bad value: where it came from, the key, what is allowed, what arrived."""
    messages = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        key = loc[0] if loc else None
        if error["type"] == "value_error":
            # Our own checks say what is wrong in words already.
            text = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        elif error["type"] == "extra_forbidden":
            text = f"unknown setting; known: {', '.join(RunConfig.model_fields)}"
        else:
            expected = _expected(key) if key else None
            text = f"expected {expected or error['msg']}, got {_shown(error['input'])}"
        messages.append(f"{where(key)}: {text}" if key else text)
    return "; ".join(dict.fromkeys(messages))


def load_config(path: str | Path | None = None, **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from defaults, an optional TOML file, and overrides.

    Overrides (the CLI options) whose value is ``None`` are ignored, so unset CLI options
    keep the file's value. A bad value raises :class:`~hitlab.errors.ConfigError` naming
    its key and source: ``config file PATH: key 'KEY'`` or ``option --KEY``.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    known = set(RunConfig.model_fields)
    if path is not None:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a folder, not a TOML file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"config file {path}: unknown key {key!r}; known keys: {', '.join(sorted(known))}"
                )
            values[name] = value
            sources[name] = f"config file {path}: key {key!r}"
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown option {key!r}")
        if value is not None:
            values[key] = value
            sources[key] = f"option --{key.replace('_', '-')}"
    token = _WHERE.set(lambda key: sources.get(key, f"setting {key!r}"))
    try:
        return RunConfig(**values)
    finally:
        _WHERE.reset(token)
