"""The ``hitlab`` command: a thin layer over the Python API.

It parses options, calls the library, and turns :class:`~hitlab.errors.HitlabError`
into one message on stderr and a non-zero exit. Nothing else is caught here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from hitlab import __version__
from hitlab.config import describe_option
from hitlab.errors import ConfigError, HitlabError


def _hide_flag_types(params: list) -> list:
    """Flags (``--quick/--no-quick``, ``--help``) take no value: show no ``<bool>`` type for them."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx):
        return _hide_flag_types(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx):
        return _hide_flag_types(super().get_params(ctx))


class _App(typer.Typer):
    """Every command built with :class:`_Command` (flags without a ``<bool>`` type in ``--help``)."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    cls=_Group,
    name="hitlab",
    help="Predict a music track's popularity and genre from its audio features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EXIT_DATA = 1


def _fail(exc: HitlabError | str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_DATA)


def _version(value: bool) -> None:
    if value:
        console.print(f"hitlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """hitlab: popularity and genre from audio features, with honest numbers."""


@app.command()
def run(
    data: Annotated[Path | None, typer.Option(help=describe_option("data"))] = None,
    mapping: Annotated[str | None, typer.Option(help=describe_option("mapping"))] = None,
    artists: Annotated[Path | None, typer.Option(help=describe_option("artists"))] = None,
    artists_mapping: Annotated[str | None, typer.Option(help=describe_option("artists_mapping"))] = None,
    labels: Annotated[str | None, typer.Option(help=describe_option("labels"))] = None,
    min_class_size: Annotated[int | None, typer.Option(help=describe_option("min_class_size"))] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict",
                                                help=describe_option("strict"))] = None,
    encoding: Annotated[str | None, typer.Option(help=describe_option("encoding"))] = None,
    group_by: Annotated[str | None, typer.Option(help=describe_option("group_by"))] = None,
    budget: Annotated[float | None, typer.Option(help=describe_option("budget"))] = None,
    trials: Annotated[int | None, typer.Option(help=describe_option("trials"))] = None,
    quick: Annotated[bool | None, typer.Option("--quick/--no-quick", help=describe_option("quick"))] = None,
    full: Annotated[bool | None, typer.Option("--full/--no-full", help=describe_option("full"))] = None,
    seed: Annotated[int | None, typer.Option(help=describe_option("seed"))] = None,
    out: Annotated[str | None, typer.Option(help=describe_option("out"))] = None,
    name: Annotated[str | None, typer.Option(help=describe_option("name"))] = None,
    drop_invalid: Annotated[
        bool | None, typer.Option("--drop-invalid/--no-drop-invalid", help=describe_option("drop_invalid"))
    ] = None,
    stages: Annotated[str | None, typer.Option(help=describe_option("stages"))] = None,
    features: Annotated[str | None, typer.Option(help=describe_option("features"))] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file; options given here override it.")
    ] = None,
) -> None:
    """Run the pipeline: load, clean, label, EDA, popularity, genre, report, into runs/<name>/."""
    started = time.perf_counter()  # "Done in" counts the config, the worker's start and the imports too
    from hitlab.config import load_config

    try:
        cfg = load_config(
            config,
            data=str(data) if data else None,
            mapping=mapping,
            artists=str(artists) if artists else None,
            artists_mapping=artists_mapping,
            labels=labels,
            min_class_size=min_class_size,
            strict=strict,
            encoding=encoding,
            group_by=group_by,
            budget=budget,
            trials=trials,
            quick=quick,
            full=full,
            seed=seed,
            out=out,
            name=name,
            drop_invalid=drop_invalid,
            stages=[s.strip() for s in stages.split(",") if s.strip()] if stages else None,
            features=[f.strip() for f in features.split(",") if f.strip()] if features else None,
        )
        from hitlab.worker import prestart

        prestart(cfg)  # start the worker process first: its imports overlap the pipeline's
        from hitlab.pipeline import run as run_pipeline

        with console.status("starting", spinner="dots") as status:

            def progress(stage: str, message: str) -> None:
                elapsed = time.perf_counter() - started
                status.update(f"[bold]{stage}[/] {message}  [dim]{elapsed:5.1f} s[/]")
                console.log(f"[bold]{stage}[/]: {message}", highlight=False)

            result = run_pipeline(cfg, progress)
    except HitlabError as exc:
        raise _fail(exc) from None

    table = Table(title="Cleaning report", title_justify="left")
    for column in ("step", "action", "rows", "reason"):
        table.add_column(column, justify="right" if column == "rows" else "left", overflow="fold")
    for step in result.cleaning_report.steps:
        table.add_row(step.step, step.action, f"{step.rows:,}", step.reason)
    console.print(table)
    rep = result.cleaning_report
    console.print(f"{rep.rows_in:,} rows in, {rep.rows_out:,} tracks out, {rep.rows_dropped:,} rows removed.")
    lab = result.label_report
    counts = ", ".join(f"{g} {n:,}" for g, n in lab.counts.items())
    console.print(
        f"Labels ({lab.scheme}): {counts}; unlabelled {lab.unlabelled:,}"
        + (f"; ties {lab.ties:,}" if lab.scheme == "tags" else "")
        + (f"; {lab.multi_label:,} tracks carry several labels" if lab.multi_label else "")
    )
    if lab.small_classes:
        console.print(
            f"Genres with fewer than {lab.min_class_size} tracks left out of the genre task "
            f"({len(lab.small_classes)}, {sum(lab.small_classes.values()):,} tracks): "
            + ", ".join(f"{g} {n}" for g, n in list(lab.small_classes.items())[:12])
            + (" ..." if len(lab.small_classes) > 12 else ""),
            highlight=False,
        )
    if (t := result.tag_report) is not None:
        console.print(f"Artist tags: {t.with_tags:,} of {t.tracks:,} tracks got tags (by id {t.by_id:,}, "
                      f"by name {t.by_name:,}, by one of several artists {t.by_name_part:,}; "
                      f"unmatched {t.unmatched:,})")
    if extras := result.results.get("extra_columns") or []:
        console.print(f"Columns kept aside (not used by the models): {', '.join(extras)}")
    _print_headlines(result.results)
    for stage, why in result.skipped.items():
        console.print(f"[yellow]Skipped {stage}:[/] {why}")
    total = time.perf_counter() - started  # wall time: stages in the worker overlap the run's
    console.print(f"[bold green]Done[/] in {total:.1f} s. Run folder: [bold]{result.folder}[/]")
    if (result.folder / "report.html").exists():
        console.print(f"Report: [bold]{result.folder / 'report.html'}[/]")


def _print_headlines(results: dict) -> None:
    """Each model's test metrics beside the trivial baseline, with 95% CIs."""
    table = Table(title="Held-out test metrics (grouped split)", title_justify="left")
    for column in ("task", "model", "metric", "value [95% CI]", "baseline"):
        table.add_column(column)
    for task in ("popularity", "genre"):
        summary = results.get(task)
        if not isinstance(summary, dict) or not summary.get("metrics"):
            continue
        model = summary.get("model", "")
        if summary.get("strategy") not in (None, "none"):
            model += f" + {summary['strategy']}"
        for name, m in summary["metrics"].items():
            if name == "log_loss":
                continue
            est, base = m["model"], m["baseline"]
            table.add_row(
                task,
                model,
                m.get("label", name),
                f"{est['value']:.3g} [{est['low']:.3g}, {est['high']:.3g}]",
                f"{base['value']:.3g}",
            )
            task, model = "", ""
    if table.row_count:
        console.print(table)


def _check_output_file(output: str) -> None:
    """``predict -o``: fail before scoring when the output file cannot be written."""
    import os

    if output == "-":
        return
    path = Path(output)
    folder = path.parent
    if path.is_dir():
        raise ConfigError(
            f"--output {output}: is a folder; give a file name such as {path / 'predictions.csv'}"
        )
    if not folder.is_dir():
        raise ConfigError(f"--output {output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"--output {output}: cannot write there (permission denied)")


@app.command()
def predict(
    data: Annotated[
        str, typer.Argument(help="Tracks to score: CSV, Parquet or JSON lines; '-' reads stdin.")
    ],
    run_folder: Annotated[Path, typer.Option("--run", help="The run folder whose models to use.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file; '-' writes stdout.")] = "-",
    mapping: Annotated[
        str | None,
        typer.Option(
            help="Column mapping: a preset name or a TOML file (default: the run's own, as it read its data)."
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a CSV (default: as the run).")
    ] = None,
    input_format: Annotated[str, typer.Option(help="Format of stdin: csv, parquet or jsonl.")] = "csv",
    output_format: Annotated[
        str | None,
        typer.Option(help="csv, parquet or jsonl (default: from the output suffix; csv for stdout)."),
    ] = None,
    top_k: Annotated[int, typer.Option(help="Genre guesses per track (at least 1).")] = 3,
) -> None:
    """Predict popularity and the genre top-k for new tracks with a run's saved models."""
    import sys
    import tempfile

    from hitlab.predict import load, write_table

    formats = ("csv", "parquet", "jsonl")
    for value, option in ((input_format, "--input-format"), (output_format, "--output-format")):
        if value is not None and value not in formats:
            err_console.print(
                f"[bold red]error:[/] {option} must be one of {', '.join(formats)}, got {value!r}"
            )
            raise typer.Exit(2)
    if top_k < 1:
        err_console.print(f"[bold red]error:[/] option --top-k: must be at least 1, got {top_k}")
        raise typer.Exit(2)
    try:
        _check_output_file(output)
        predictor = load(run_folder)
        with tempfile.TemporaryDirectory() as tmp:
            path, source = Path(data), None
            if data == "-":
                path, source = Path(tmp) / f"stdin.{input_format}", "<stdin>"
                path.write_bytes(sys.stdin.buffer.read())
            with err_console.status(f"reading {data}"):  # a spinner on a terminal, nothing in a pipe
                tracks = predictor.read(path, mapping=mapping, encoding=encoding, source=source)
            with err_console.status(f"scoring {len(tracks):,} tracks"):
                result = predictor.predict(tracks, top_k=top_k)
            for note in result.attrs.get("notes", []):
                err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
            if output == "-":
                out = Path(tmp) / f"out.{output_format or 'csv'}"
                write_table(result, out, output_format or "csv")
                sys.stdout.buffer.write(out.read_bytes())
                sys.stdout.flush()
            else:
                write_table(result, output, output_format)
                err_console.print(f"{len(result):,} predictions written to {output}")
    except HitlabError as exc:
        raise _fail(exc) from None


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A run folder written by `hitlab run`.")],
) -> None:
    """Rebuild report.html of a run folder (one self-contained file)."""
    from hitlab.outputs import write_report

    try:
        path = write_report(folder)
    except HitlabError as exc:
        raise _fail(exc) from None
    except FileNotFoundError as exc:
        err_console.print(
            f"[bold red]error:[/] {folder} is not a complete run folder: {exc.filename} is missing"
        )
        raise typer.Exit(EXIT_DATA) from None
    console.print(str(path))


@app.command()
def fetch(
    name: Annotated[str | None, typer.Argument(help="Dataset name; omit to list the known datasets.")] = None,
    home: Annotated[
        Path | None, typer.Option(help="Cache folder (default $HITLAB_DATA or the user cache).")
    ] = None,
) -> None:
    """Download a known public dataset into the cache (checked against its sha256)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from hitlab.datasets.fetch import DATASETS, get_dataset
    from hitlab.datasets.fetch import fetch as fetch_dataset

    if name is None:
        table = Table(title="Known datasets")
        for column in ("name", "description", "licence", "mapping"):
            table.add_column(column, overflow="fold")
        for d in DATASETS.values():
            table.add_row(d.name, d.description, d.licence, d.mapping or "")
        console.print(table)
        return
    try:
        get_dataset(name)  # an unknown name fails here, before a progress bar is drawn
        with Progress(
            "[bold]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
        ) as bar:
            task = bar.add_task(name, total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            path = fetch_dataset(name, home=home, progress=progress)
    except HitlabError as exc:
        raise _fail(exc) from None
    console.print(str(path))


@app.command()
def presets() -> None:
    """List the column-mapping presets for well-known public files."""
    from hitlab.datasets import list_presets

    table = Table(title="Mapping presets")
    for column in ("name", "kind", "description"):
        table.add_column(column, overflow="fold")
    for preset_name, m in list_presets().items():
        table.add_row(preset_name, m.kind, m.description)
    console.print(table)


@app.command("mapping")
def mapping_command(
    data: Annotated[
        Path, typer.Argument(help="A tracks file (CSV, Parquet or JSON lines) to draft a mapping for.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the draft here instead of printing it.")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV (default: detected).")] = None,
) -> None:
    """Draft a mapping TOML from a file's header and a sample of its values (read it before use)."""
    from hitlab.datasets.drafting import draft_mapping

    try:
        if output is not None and output.is_dir():
            raise HitlabError(f"{output}: is a folder; give a file name such as mapping.toml")
        if output is not None and not output.parent.is_dir():
            raise HitlabError(f"{output}: the folder {output.parent} does not exist")
        text = draft_mapping(data, encoding=encoding)
    except HitlabError as exc:
        raise _fail(exc) from None
    if output is None:
        console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"draft mapping written to {output}; check it with `hitlab validate {data} "
                          f"--mapping {output}`")


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="A tracks file to check against the canonical schema.")],
    mapping: Annotated[str | None, typer.Option(help="Column mapping: a preset name or a TOML file.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV (default: detected).")] = None,
) -> None:
    """Check a tracks file against the canonical schema without running anything."""
    from hitlab import schema
    from hitlab.datasets import read_tracks

    try:
        tracks = read_tracks(data, mapping, encoding=encoding)
    except HitlabError as exc:
        raise _fail(exc) from None
    extras = tracks.attrs.get("extra_columns", [])
    console.print(
        f"{data}: {len(tracks):,} rows match the canonical schema "
        f"(mapping {tracks.attrs.get('mapping')})"
        + (f"; extra columns kept: {', '.join(extras)}" if extras else ""),
        highlight=False,
    )
    for note in tracks.attrs.get("read_notes", []):
        console.print(f"  read: {note}", highlight=False, soft_wrap=True)
    absent = [c for c in tracks.attrs.get("absent_columns", []) if c != "track_id"]
    if absent:
        console.print(f"  absent: {', '.join(absent)}", highlight=False, soft_wrap=True)
    if mapping is not None or tracks.attrs.get("mapping") != "canonical":
        preview = tracks[[c for c in tracks.columns if c in schema.NAMES]].head(3)
        console.print(preview.to_string(max_colwidth=24), highlight=False, markup=False)


def _register_collect() -> None:
    from hitlab.collect.command import collect_command

    app.command("collect", help=collect_command.__doc__)(collect_command)


_register_collect()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
