"""The shape of the package: no import cycle, imports flow one way, modules stay small, and a new
analysis is one module + one template + one registry entry (docs/architecture.md)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hitlab.analyses.base import Analysis, Context
from hitlab.analyses.registry import BUILTIN_ANALYSES
from hitlab.config import RunConfig
from hitlab.datasets import load_tidytuesday

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "hitlab"

#: Modules allowed over MAX_LINES, each with its reason (also in docs/architecture.md).
MAX_LINES = 450
LONG_MODULES = {
    "collect/client.py": "one HTTP client class (auth, retries, rate limits, paging) kept whole",
    "collect/collector.py": "the durable collection loop and its resume logic, one state machine",
    "datasets/importer.py": "one reader: formats, mappings and value conventions applied in one pass",
    "modeling/zoo.py": "the estimator table and search spaces of every model (owned by the modelling work)",
    "modeling/task.py": "fit_task and TaskResult: the one modelling mechanism (owned by the modelling work)",
}

#: Packages (or modules) that must not import the ones listed.
FORBIDDEN = {
    "analyses": ("pipeline", "cli", "outputs"),
    "modeling": ("pipeline", "cli", "outputs", "labels", "songs", "clean", "schema", "genre", "popularity",
                 "analyses"),
    "outputs": ("pipeline", "cli"),
    "plots": ("pipeline", "cli", "outputs"),
    "genre": ("pipeline", "cli", "outputs"),
    "popularity": ("pipeline", "cli", "outputs"),
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return [name for name in names if name != "hitlab.__main__"]  # that one runs the CLI


def _imports_of(source: str, package: str) -> set[str]:
    """Every hitlab module ``source`` (a module of ``package``) imports, at top level or inside
    functions, absolute or relative."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "hitlab" or name.startswith("hitlab.")}


def _imports(path: Path) -> set[str]:
    return _imports_of(path.read_text("utf-8"), ".".join(path.relative_to(SRC).with_suffix("").parts[:-1]))


def test_every_module_imports_on_its_own() -> None:
    """Each module in a fresh interpreter state (hitlab's modules dropped from sys.modules before
    each one), so a cycle that only works in one import order shows up."""
    script = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "hitlab" or m.startswith("hitlab.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""
    modules = _modules()
    assert "hitlab.outputs.report" in modules and "hitlab.analyses.genre" in modules
    done = subprocess.run([sys.executable, "-c", script, json.dumps(modules)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": ""}, check=True)
    assert json.loads(done.stdout) == {}


@pytest.mark.parametrize("owner", sorted(FORBIDDEN))
def test_imports_flow_one_way(owner: str) -> None:
    root = PACKAGE / owner
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    bad = []
    for path in files:
        for name in _imports(path):
            parts = name.split(".")
            if len(parts) > 1 and parts[1] in FORBIDDEN[owner]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert bad == []


def test_only_the_cli_calls_the_runner() -> None:
    """No stage calls back into the runner (the old genre.write_outputs imported pipeline)."""
    callers = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                     if any(name.startswith("hitlab.pipeline") for name in _imports(p)))
    assert callers == ["cli.py"]


def test_the_import_check_sees_nested_and_relative_imports() -> None:
    source = ("def f():\n    from hitlab.pipeline import run\n    from .. import cli\n"
              "    from ..outputs import x\n")
    assert {"hitlab.pipeline", "hitlab.cli", "hitlab.outputs"} <= _imports_of(source, "hitlab.analyses")


def test_modules_stay_small_unless_the_docs_say_why() -> None:
    lengths = {p.relative_to(PACKAGE).as_posix(): len(p.read_text("utf-8").splitlines())
               for p in PACKAGE.rglob("*.py")}
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in LONG_MODULES}
    assert too_long == {}
    docs = (SRC.parent / "docs" / "architecture.md").read_text("utf-8")
    for name in LONG_MODULES:
        assert name in docs, f"docs/architecture.md does not say why {name} is long"
    for old in ("genre.py", "popularity.py"):  # kept only as re-export shims for the README's names
        assert lengths[old] < 15


# --------------------------------------------------------------------------- a new analysis

TOY_TEMPLATE = """{% from "_section.html.j2" import frame, table with context %}
{% call frame() %}
<p class="toy">The toy counted {{ facts.tracks }} tracks in {{ facts.genres }} genres.</p>
{{ table("genre_counts", "Tracks per genre (toy)") }}
{% endcall %}
"""
TOY_READING = "Toy reading: the largest genre is {{ largest }}.\n"


class ToyResult:
    def __init__(self, counts: pd.DataFrame) -> None:
        self.counts = counts

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"genre_counts": self.counts}

    def figures(self) -> dict:
        return {}

    @property
    def facts(self) -> dict:
        return {"tracks": int(self.counts["tracks"].sum()), "genres": len(self.counts),
                "largest": self.counts["genre"].iloc[0]}


def toy_analysis(ctx: Context) -> ToyResult:
    counts = ctx.tracks["genre"].value_counts().rename_axis("genre").rename("tracks").reset_index()
    return ToyResult(counts)


def test_a_new_analysis_is_a_function_a_template_and_a_registry_entry(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "toy.html.j2").write_text(TOY_TEMPLATE)
    (tmp_path / "templates" / "toy.reading.j2").write_text(TOY_READING)
    toy = Analysis("toy", toy_analysis, title="Toy counts", template=tmp_path / "templates" / "toy.html.j2",
                   reading=tmp_path / "templates" / "toy.reading.j2")
    sample = load_tidytuesday().sample(n=400, random_state=3)
    monkeypatch.setattr("hitlab.pipeline.load_tidytuesday", lambda: sample)
    from hitlab.pipeline import run

    done = run(RunConfig(out=str(tmp_path / "runs"), name="toy", stages=["report"]),
               analyses=(*BUILTIN_ANALYSES, toy))
    folder = done.folder
    counts = pd.read_csv(folder / "toy" / "genre_counts.csv")
    assert counts["tracks"].sum() == done.tracks["genre"].notna().sum() and len(counts) == 6
    section = json.loads((folder / "toy" / "section.json").read_text())
    assert section["reading"] == [f"Toy reading: the largest genre is {counts['genre'].iloc[0]}."]
    html = (folder / "report.html").read_text("utf-8")
    assert f'<p class="toy">The toy counted {counts["tracks"].sum()} tracks in 6 genres.</p>' in html
    assert "Tracks per genre (toy)" in html and 'href="#toy">Toy counts</a>' in html
    assert "toy/genre_counts.csv" in json.loads((folder / "manifest.json").read_text())["outputs"]
    # the built-in analyses were not chosen by --stages: only the toy ran
    assert not (folder / "popularity").exists() and set(done.timings) == {"load", "clean", "label", "toy"}


def test_a_registry_without_an_analysis_leaves_it_out(tmp_path: Path, monkeypatch) -> None:
    sample = load_tidytuesday().sample(n=300, random_state=4)
    monkeypatch.setattr("hitlab.pipeline.load_tidytuesday", lambda: sample)
    from hitlab.pipeline import run

    only_eda = tuple(a for a in BUILTIN_ANALYSES if a.name == "eda")
    config = RunConfig(out=str(tmp_path), name="e", stages=["eda", "popularity", "report"])
    done = run(config, analyses=only_eda)
    assert (done.folder / "eda" / "section.json").exists() and not (done.folder / "popularity").exists()
    assert "Exploratory analysis" in (done.folder / "report.html").read_text("utf-8")


def test_every_top_level_name_is_the_function_whatever_was_imported_first() -> None:
    """``hitlab/__init__`` imports most names on first use; a submodule of the same name
    (``hitlab.clean``) imported first must not replace the function."""
    import subprocess
    import sys

    import hitlab

    code = ("import hitlab.clean, hitlab.predict, hitlab.datasets, hitlab\n"
            "import inspect\n"
            "bad = [n for n in hitlab.__all__ if inspect.ismodule(getattr(hitlab, n))]\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fresh = subprocess.run([sys.executable, "-c", "import sys, hitlab; print(sorted(m for m in sys.modules "
                            "if m.split('.')[0] in ('sklearn', 'lightgbm', 'matplotlib')))"],
                           capture_output=True, text=True)
    assert fresh.stdout.strip() == "[]", fresh.stdout  # `import hitlab` stays light (the CLI's start)
    assert set(hitlab.__all__) <= set(dir(hitlab))


def test_imbalanced_learn_is_imported_only_for_a_sampling_strategy() -> None:
    """Importing imbalanced-learn costs each process ~0.4 s (it imports scikit-learn's test
    helpers and pytest); the analyses, their pipelines without a sampler and a fitted default
    genre pipeline do not need it."""
    import subprocess
    import sys

    code = ("import sys\n"
            "import hitlab.analyses.registry\n"
            "from hitlab.features import resolve_features\n"
            "from hitlab.modeling.zoo import build_pipeline, get_model\n"
            "spec, features = get_model('classification', 'lightgbm'), resolve_features('genre')\n"
            "for strategy in ('none', 'class_weight'):\n"
            "    build_pipeline(spec, features, strategy=strategy)\n"
            "assert not [m for m in sys.modules if m.startswith('imblearn')]\n"
            "pipe = build_pipeline(spec, features, strategy='undersample')\n"
            "assert type(pipe).__module__.startswith('imblearn'), type(pipe)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
