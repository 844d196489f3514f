"""Download known public datasets into a local cache, checked against a pinned sha256.

Like ``sklearn.datasets.fetch_*``: the first call downloads, later calls read the cache.
The cache folder is ``$HITLAB_DATA`` or the user cache dir (``~/.cache/hitlab`` on Linux).
A download goes to ``NAME.part`` and is renamed only after its sha256 matches, so an
interrupted or mismatched download leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from hitlab.errors import FetchError

__all__ = ["DATASETS", "RemoteDataset", "data_home", "fetch", "get_dataset"]

ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RemoteDataset:
    """A public file: where it lives, its checksum, and how hitlab reads it."""

    name: str
    url: str
    sha256: str
    filename: str
    description: str
    licence: str
    mapping: str | None = None
    size: int | None = None


DATASETS: dict[str, RemoteDataset] = {
    d.name: d
    for d in (
        RemoteDataset(
            name="tidytuesday-2020",
            url="https://raw.githubusercontent.com/rfordatascience/tidytuesday/"
            "2c423bacc57e4632ff8550557e0bc823eefa31ab/data/2020/2020-01-21/spotify_songs.csv",
            sha256="9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845",
            filename="spotify_songs.csv",
            description="TidyTuesday 2020-01-21 Spotify songs, 32,833 rows, six playlist genres "
            "(the CSV behind the built-in data)",
            licence="MIT (R for Data Science online learning community); values from Spotify's API",
            mapping="tidytuesday",
            size=7_971_379,
        ),
        RemoteDataset(
            name="kaggle-160k-artists",
            url="https://raw.githubusercontent.com/Paymanshus/SpotiRecSys/"
            "a8013c9a5e5ae8097d1b9b07a3e9196a82648c91/Data/data_w_genres.csv",
            sha256="093b175e72794cf5148ed692f6517440c68ef232130a108c98ea89def25c0ba4",
            filename="data_w_genres.csv",
            description="27,621 artists with their Spotify genre tags (Kaggle 'Spotify Dataset "
            "1921-2020, 160k+ Tracks' by Yamac Eren Ay, 2020 version)",
            licence="not stated by the mirror; attribute the Kaggle dataset to its author",
            mapping="kaggle-160k-artists",
            size=4_051_122,
        ),
    )
}


def data_home(path: str | Path | None = None) -> Path:
    """The cache folder: ``path``, else ``$HITLAB_DATA``, else the user cache dir."""
    if path is not None:
        return Path(path)
    env = os.environ.get("HITLAB_DATA")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hitlab"))


def get_dataset(name: str | RemoteDataset) -> RemoteDataset:
    """The known dataset called ``name``.

    Raises
    ------
    FetchError
        For a name hitlab does not know, listing the known names.
    """
    if isinstance(name, RemoteDataset):
        return name
    if name in DATASETS:
        return DATASETS[name]
    raise FetchError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")


def _download(url: str, part: Path, timeout: float, progress: ProgressCallback | None) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code != 200:
            raise FetchError(f"GET {url} answered HTTP {response.status_code}")
        total = int(response.headers.get("content-length", 0)) or None
        done = 0
        with part.open("wb") as out:
            for chunk in response.iter_bytes(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if total is not None and done != total:
            raise FetchError(f"GET {url}: connection closed after {done:,} of {total:,} bytes")
    return digest.hexdigest()


def fetch(
    name: str | RemoteDataset,
    *,
    home: str | Path | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    progress: ProgressCallback | None = None,
) -> Path:
    """Return the local path of a known dataset, downloading it the first time.

    Raises
    ------
    FetchError
        Unknown name, network failure after ``retries`` attempts, an interrupted
        download, or a sha256 mismatch. In every case no partial file is left behind.
    """
    dataset = get_dataset(name)
    folder = data_home(home) / dataset.name
    target = folder / dataset.filename
    if target.exists():
        return target
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch_into(dataset, target, retries=retries, timeout=timeout, progress=progress)
    except BaseException:
        target.with_name(target.name + ".part").unlink(missing_ok=True)
        for empty in created:  # deepest first; stop at the first folder that is not empty
            try:
                empty.rmdir()
            except OSError:
                break
        raise


def _fetch_into(
    dataset: RemoteDataset, target: Path, *, retries: int, timeout: float, progress: ProgressCallback | None
) -> Path:
    part = target.with_name(target.name + ".part")
    last_error: Exception | None = None
    for attempt in range(retries):
        try:
            got = _download(dataset.url, part, timeout, progress)
        except (httpx.HTTPError, FetchError, OSError) as exc:
            part.unlink(missing_ok=True)
            last_error = exc
            if isinstance(exc, FetchError) and "answered HTTP 4" in str(exc):
                break  # a client error will not change on retry
            if attempt + 1 < retries:
                time.sleep(min(2.0**attempt, 10.0))
            continue
        if got != dataset.sha256:
            part.unlink(missing_ok=True)
            raise FetchError(
                f"{dataset.url}: sha256 mismatch, expected {dataset.sha256}, got {got}; "
                "the download was deleted (the file changed upstream, or was corrupted on the way)"
            )
        part.replace(target)
        return target
    raise FetchError(
        f"could not download {dataset.name} from {dataset.url} after {retries} attempt(s): "
        f"{last_error}; nothing was saved"
    )
