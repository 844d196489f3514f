"""Analyses in a second process: :func:`perform` one analysis (compute, then write its files)
and :class:`WorkerProcess`, a Python process that performs analyses for a run.

Threads could not use a second core: drawing figures, pandas and scikit-learn's glue hold the
GIL, so two analyses in two threads took as long as one after the other (38 s for a quick run
either way). The worker is a fresh interpreter (``python -c "from hitlab.worker import ..."``),
started with the run so that its imports overlap the run's loading and cleaning. Not ``fork``
(the CLI's threads and LightGBM's OpenMP make it unsafe) and not ``multiprocessing``'s spawn (it
re-imports the caller's main script, which breaks a script without a ``__main__`` guard). The run
and the worker talk over a private socket pair: the run sends ``(analysis, context fields, folder)``;
the worker computes, writes the analysis's own files into the run's temporary folder through
:mod:`hitlab.outputs`, and sends back its progress messages and an :class:`Outcome`.

The worker ignores Ctrl-C (the run stops it) and ends when the run closes the connection.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: this module loads fast, so the CLI can start workers first
    from hitlab.analyses.base import Analysis, Context
    from hitlab.config import RunConfig

__all__ = ["Outcome", "WorkerProcess", "discard_prestarted", "perform", "planned", "portable",
           "prestart", "started"]

_PRESTARTED: list[WorkerProcess] = []


@dataclass
class Outcome:
    """What performing one analysis gave: its summary (and why it skipped), or the error."""

    summary: dict[str, Any] | None = None
    skipped: str | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    #: Who computed it: ``"run"`` or ``"worker <pid>"``.
    where: str = "run"


def perform(analysis: Analysis, context: Context, folder: Path,
            catch: type[BaseException] = Exception) -> Outcome:
    """Compute one analysis and write its files; an error of type ``catch`` is returned, not raised."""
    from hitlab import outputs

    began = time.perf_counter()
    try:
        result = analysis.run(context)
        context.progress("writing tables, figures and the report section")
        summary = outputs.write_analysis(folder, analysis, result)
    except catch as exc:
        return Outcome(error=exc, seconds=time.perf_counter() - began)
    return Outcome(summary=summary, skipped=getattr(result, "skipped", None) or None,
                   seconds=time.perf_counter() - began)


def portable(analysis: Analysis) -> bool:
    """Whether ``analysis`` can be sent to a worker (its functions are importable by name)."""
    try:
        pickle.loads(pickle.dumps(analysis))
    except Exception:  # a function defined inside another, a lambda, a module not on sys.path
        return False
    return True


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def planned(config: RunConfig, selected: int, takers: int) -> int:
    """How many worker processes a run of ``config`` should start, with ``selected`` analyses of
    which ``takers`` can be sent to a worker: ``config.workers - 1`` at most, none for a single
    analysis or on a single CPU.

    Whatever the table's size: its imports cost a worker ~4 s of CPU, but on a second core that
    would otherwise idle (a quick run of a 2,000-track table: 20.2 s in one process, 14.6 s with
    a worker; of a 600-track one: 12.0 s and 11.0 s).
    """
    if config.workers < 2 or selected < 2 or takers < 1 or os.name == "nt":  # no fd passing on Windows
        return 0
    return min(config.workers - 1, takers, usable_cpus() - 1)


def prestart(config: RunConfig) -> None:
    """Start the workers the next run of ``config`` will want, now: the CLI calls this before it
    imports the pipeline, so that the workers' imports overlap its own (~3 s sooner)."""
    from hitlab.config import STAGE_NAMES

    analyses = len([s for s in config.stages if s in STAGE_NAMES and s != "report"])
    _PRESTARTED.extend(WorkerProcess() for _ in range(planned(config, analyses, analyses)))


def started(count: int) -> list[WorkerProcess]:
    """``count`` workers: the pre-started ones first (any left over are closed), then new ones."""
    ready = [_PRESTARTED.pop(0) for _ in range(min(count, len(_PRESTARTED)))]
    discard_prestarted()
    return ready + [WorkerProcess() for _ in range(count - len(ready))]


@atexit.register
def discard_prestarted() -> None:
    """Close the pre-started workers no run took (a run that failed its checks)."""
    while _PRESTARTED:
        _PRESTARTED.pop().close()


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` with the worker's traceback as a note, or a RuntimeError saying what it was when
    it does not survive pickling (an exception whose ``__init__`` takes other arguments)."""
    exc.add_note("in the worker process:\n" + "".join(traceback.format_exception(exc)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class WorkerProcess:
    """A second Python process performing analyses for one run (see the module docstring).

    ``serve(take, deliver, progress)`` starts a thread that sends the worker one task after
    another (``take()`` gives the next ``(analysis, context)`` or None) and hands each
    :class:`Outcome` to ``deliver(name, outcome)``; :meth:`wait` blocks until the worker is
    idle; :meth:`close` ends the process (at once when the run failed).
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        # the worker imports what the run imports: hand it the run's sys.path
        path = os.pathsep.join(p or os.getcwd() for p in sys.path)
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from hitlab.worker import _main; _main({theirs.fileno()})"],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        theirs.close()
        self.connection = Connection(ours.detach())
        self.name = f"worker {self.process.pid}"
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def serve(self, folder: Path, take: Callable[[], tuple[Analysis, Context] | None],
              deliver: Callable[[str, Outcome], None], progress: Callable[[str, str], None]) -> None:
        self._idle.clear()
        self._thread = threading.Thread(target=self._serve, args=(folder, take, deliver, progress),
                                        name="hitlab-worker", daemon=True)
        self._thread.start()

    def _serve(self, folder: Path, take: Callable[[], tuple[Analysis, Context] | None],
               deliver: Callable[[str, Outcome], None], progress: Callable[[str, str], None]) -> None:
        try:
            while (task := take()) is not None:
                analysis, context = task
                progress(analysis.name, f"computing in a second process ({self.name})")
                fields_ = {f.name: getattr(context, f.name) for f in fields(context) if f.name != "progress"}
                try:
                    self.connection.send((analysis, fields_, folder))
                except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a context it cannot take
                    outcome = Outcome(error=RuntimeError(
                        f"cannot send analysis {analysis.name!r} to the second process: {exc}"))
                    outcome.where = self.name
                    deliver(analysis.name, outcome)
                    return
                except OSError:  # the worker is gone (killed, or the run failed meanwhile): said below
                    pass
                try:
                    while True:
                        kind, payload = self.connection.recv()
                        if kind == "progress":
                            progress(analysis.name, payload)
                            continue
                        outcome = payload
                        break
                except (EOFError, OSError) as exc:
                    try:
                        code: int | None = self.process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        code = None
                    outcome = Outcome(error=RuntimeError(
                        f"the second process stopped while computing {analysis.name!r} "
                        f"(exit code {code}): {exc or type(exc).__name__}"))
                outcome.where = self.name
                deliver(analysis.name, outcome)
                if outcome.error is not None:
                    return
        finally:
            self._idle.set()

    def wait(self) -> None:
        """Block until the worker has no task (in short steps: a Ctrl-C reaches the caller at once)."""
        while not self._idle.wait(0.1):
            pass

    def close(self, failed: bool = False) -> None:
        if not failed:
            try:
                self.connection.send(None)
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                failed = True
        if failed:
            self.process.kill()
            self.process.wait()
        self.connection.close()


def _main(fd: int) -> None:
    """The worker's loop: perform each task sent, until the connection closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run, and the run stops us
    connection = Connection(fd)
    import hitlab.analyses.registry  # noqa: F401  (import the analyses while the run loads its data)

    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        from hitlab.analyses.base import Context

        analysis, context_fields, folder = task
        context = Context(**context_fields, progress=lambda message: connection.send(("progress", message)))
        outcome = perform(analysis, context, folder, catch=BaseException)
        if outcome.error is not None:
            outcome.error = _sendable(outcome.error)
        connection.send(("done", outcome))
