"""hitlab's exception family.

Every error the library raises on purpose derives from :class:`HitlabError`;
the CLI catches that family at its edge, prints one message and exits non-zero.

::

    HitlabError
    ├── DataError                 bad input data: names the file, column and rows
    │   ├── SchemaError           one or more schema problems, collected and raised once
    │   └── ConflictError         the same track id with conflicting audio features
    ├── MappingError              unknown preset, bad mapping file
    ├── FetchError                a download failed or its checksum did not match
    ├── ModelFileError            a saved model is missing, tampered with or mismatched
    └── ConfigError               an invalid option or config file
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class HitlabError(Exception):
    """Base class of every error hitlab raises on purpose."""


class ConfigError(HitlabError):
    """An option or config file value is invalid."""


class MappingError(HitlabError):
    """A column mapping (preset name or TOML file) is unknown or invalid."""


class FetchError(HitlabError):
    """A dataset download failed, was interrupted or did not match its checksum."""


class ModelFileError(HitlabError):
    """A saved model file is missing, modified, or does not match its manifest."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a table: which column, which rows, what is wrong."""

    column: str | None
    message: str
    rows: Sequence[int] = field(default_factory=tuple)
    n_rows: int = 0

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        text = f"{where}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (and {self.n_rows - len(self.rows)} more)" if self.n_rows > len(self.rows) else ""
            text += f" at row{'s' if self.n_rows > 1 else ''} {shown}{more}"
        return text


class DataError(HitlabError):
    """Bad input data. ``source`` names the file (or ``<DataFrame>``)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)


class SchemaError(DataError):
    """A table does not satisfy the canonical track schema.

    All problems are collected and raised once. Row numbers are 1-based data rows
    of the source file (the header is not counted).
    """

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        self.problems = list(problems)
        lines = [p.describe() for p in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{len(lines)} problems:\n" + "\n".join(f"  - {line}" for line in lines)
        super().__init__(message, source=source)


class ConflictError(DataError):
    """The same track id carries different audio features in different rows."""
