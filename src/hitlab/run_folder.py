"""Run folders that are never half-written, never mixed and never lost.

A run writes ``<out>/<name>/``. :func:`check_run_target` validates every path before
anything touches the disk. :class:`RunFolder` then

1. locks the name with ``<out>/.<name>.lock`` (``fcntl.flock``: the operating system
   releases it when the process dies, so a crash never leaves a lock that blocks). A
   second run of the same name fails at once with a message naming the lock and the
   process that holds it; it does not wait (a run can take many minutes, and failing
   fast tells the user what is going on);
2. writes into a unique hidden folder ``<out>/.<name>.partial-<random>``;
3. on success swaps it in: the previous run is renamed aside to
   ``<out>/.<name>.old-<random>``, the new one renamed in, then the previous one
   deleted; if the rename in fails the previous run is put back;
4. on any failure (an error, ``KeyboardInterrupt``) deletes only its own temporary
   folder, so earlier runs and every other file stay byte-identical.

Leftovers of a process killed mid-way (``kill -9``, power loss) are tidied by the next
run of the same name, under the lock: a previous run found renamed aside is put back,
stale temporary folders are deleted.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from types import TracebackType

from hitlab.config import RunConfig, check_run_name
from hitlab.errors import ConfigError, RunFolderError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: an O_EXCL lock file instead
    fcntl = None  # type: ignore[assignment]

__all__ = ["RunFolder", "check_inputs", "check_run_target"]

MANIFEST = "manifest.json"


def check_inputs(config: RunConfig) -> None:
    """Check that the input files and mappings of a run can be read, before anything is written."""
    from hitlab.datasets.importer import load_mapping

    for mapping in (config.mapping, config.artists_mapping):
        if mapping is not None:
            load_mapping(mapping)  # an unknown preset or a broken mapping file fails here
    for key, value in (("data", config.data), ("artists", config.artists)):
        if value is None:
            continue
        path = Path(value)
        if not path.exists():
            raise ConfigError(f"--{key} {path}: no such file")
        if path.is_dir():
            raise ConfigError(f"--{key} {path}: is a folder, not a tracks file")
        if not os.access(path, os.R_OK):
            raise ConfigError(f"--{key} {path}: cannot be read (permission denied)")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def check_run_target(out: str | Path, name: str) -> Path:
    """Validate ``--out`` and ``--name`` without writing anything; return the run folder path.

    Raises
    ------
    RunFolderError
        ``--out`` (or a folder above it) is a file or not writable; the run folder exists
        but is a file, or a folder that is not a hitlab run (no ``manifest.json``).
    """
    try:
        check_run_name(name)
    except ValueError as exc:
        raise RunFolderError(f"--name: {exc}") from None
    out = Path(out)
    existing = out
    while not existing.exists():
        if existing.is_symlink():
            raise RunFolderError(f"--out {out}: {existing} is a broken symbolic link")
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file, not a folder" if existing == out else f"cannot be created: {existing} is a file"
        raise RunFolderError(f"--out {out} {what}")
    if not _writable(existing):
        where = "" if existing == out else f" (its nearest existing folder {existing})"
        raise RunFolderError(f"--out {out}{where} is not writable: permission denied")
    target = out / name
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise RunFolderError(f"{target} exists and is not a run folder; choose another --name or move it")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise RunFolderError(
            f"{target} exists and is not a hitlab run folder (no {MANIFEST}); refusing to replace it: "
            "choose another --name or --out"
        )
    return target


class RunFolder:
    """Lock a run name, hand out a temporary folder, and swap it in atomically on success.

    Use as a context manager; call :meth:`commit` at the end of a successful run::

        with RunFolder(out, name) as folder:
            write_everything(folder.temp)
            folder.commit()

    Leaving the block without :meth:`commit` (an exception, ``KeyboardInterrupt``)
    deletes the temporary folder and leaves everything else as it was.
    """

    def __init__(self, out: str | Path, name: str) -> None:
        self.out = Path(out)
        self.name = name
        self.target = check_run_target(self.out, name)
        self.lock_path = self.out / f".{name}.lock"
        self.temp: Path | None = None
        self._lock_fd: int | None = None
        self._created: list[Path] = []
        self._committed = False

    # -- entering: create --out, lock, tidy, make the temporary folder --------------------------
    def __enter__(self) -> RunFolder:
        self._make_out()
        try:
            self._lock()
            self._tidy()
            self.temp = self._unique(".partial")
            self.temp.mkdir()
        except BaseException:
            self._release()
            raise
        return self

    def _make_out(self) -> None:
        missing = []
        folder = self.out
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
        except OSError as exc:
            self._remove_created()
            raise RunFolderError(f"--out {self.out}: cannot create {folder}: {exc.strerror}") from None

    def _lock(self) -> None:
        try:
            if fcntl is None:  # pragma: no cover - Windows
                self._lock_fd = self._lock_exclusive_create()
                return
            while True:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                    os.close(fd)
                    raise self._busy(holder) from None
                # The previous holder may have deleted the file between our open and flock:
                # then we hold a lock on a file nobody else sees; try again.
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
                except FileNotFoundError:
                    same = False
                if same:
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
                    self._lock_fd = fd
                    return
                os.close(fd)
        except OSError as exc:
            raise RunFolderError(
                f"--out {self.out}: cannot create the lock {self.lock_path}: {exc.strerror}"
            ) from None

    def _lock_exclusive_create(self) -> int:  # pragma: no cover - Windows
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise self._busy("unknown; delete the lock file if no hitlab run is active") from None
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        return fd

    def _busy(self, holder: str) -> RunFolderError:
        return RunFolderError(
            f"another hitlab run is writing {self.target} (lock {self.lock_path} held by process {holder}); "
            "wait for it to finish or choose another --name"
        )

    def _leftovers(self, kind: str) -> list[Path]:
        pattern = re.compile(rf"\.{re.escape(self.name)}\.{kind}-[0-9a-f]{{16}}")
        return sorted(p for p in self.out.iterdir() if pattern.fullmatch(p.name) and p.is_dir())

    def _tidy(self) -> None:
        """Under the lock: undo what a killed run of this name left behind."""
        old = self._leftovers("old")
        if old and not self.target.exists():
            # Killed between "previous run aside" and "new run in": put the previous one back.
            os.rename(max(old, key=lambda p: p.stat().st_mtime), self.target)
            old = self._leftovers("old")
        for stale in [*old, *self._leftovers("partial")]:
            shutil.rmtree(stale, ignore_errors=True)

    def _unique(self, kind: str) -> Path:
        return self.out / f".{self.name}{kind}-{secrets.token_hex(8)}"

    # -- leaving: swap in on commit, else delete the temporary folder ---------------------------
    def commit(self) -> Path:
        """Swap the finished temporary folder in as the run folder; keep the old one until it is."""
        assert self.temp is not None and self._lock_fd is not None, "commit() outside the with block"
        aside = None
        if self.target.exists():
            aside = self._unique(".old")
            os.rename(self.target, aside)
        try:
            os.rename(self.temp, self.target)
        except BaseException:
            if aside is not None:
                os.rename(aside, self.target)
            raise
        self._committed = True
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return self.target

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed and self.temp is not None:
                shutil.rmtree(self.temp, ignore_errors=True)
        finally:
            self._release()
            if not self._committed:
                self._remove_created()

    def _release(self) -> None:
        if self._lock_fd is None:
            return
        try:
            # Delete while still holding the lock; a waiting process notices (see _lock).
            self.lock_path.unlink(missing_ok=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()  # only if still empty
            except OSError:
                break
        self._created = []


def run_name_of(config: RunConfig) -> str:
    """The run folder name of ``config``, as a :class:`RunFolderError` if it is not a plain name."""
    try:
        return config.run_name
    except ValueError as exc:
        raise RunFolderError(f"--name: {exc}") from None
